// file list and file search: read-only looks at the workspace tree (agents' list_files and search tools use them).
import type { Dirent } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { z } from 'zod';
import { StepError } from '../errors';
import { compileGlob } from '../sandbox/glob';
import type { Sandbox } from '../sandbox/types';
import { defineOperation } from './types';

/** Folders never walked unless asked for by path: tools' caches and our own state. */
export const SKIPPED_DIRS: ReadonlySet<string> = new Set(['.git', 'node_modules', '.quantum', '.vscode-test', 'dist', 'out', 'build', 'coverage', '__pycache__', '.venv', 'venv', '.next', '.cache']);

/** Files larger than this are not searched (minified bundles, data). */
const SEARCH_MAX_BYTES = 1_000_000;

const startParam = z.string().min(1).default('.').describe('Workspace-relative folder to start from (default: the workspace).');

/** Workspace-relative files under `start`, depth first in name order, skipping SKIPPED_DIRS and symlinks. */
async function* walk(sandbox: Sandbox, start: string, signal: AbortSignal): AsyncGenerator<string> {
	const root = await sandbox.resolveRead(start);
	const stack: string[] = [root];
	while (stack.length) {
		if (signal.aborted) throw signal.reason;
		const dir = stack.pop() as string;
		let entries: Dirent[];
		try {
			entries = await readdir(dir, { withFileTypes: true });
		} catch (err) {
			if (dir === root) throw new StepError('not-found', `cannot list ${start}: ${(err as NodeJS.ErrnoException).code === 'ENOTDIR' ? 'it is not a folder' : 'it does not exist'}`, { permanent: true });
			continue;
		}
		entries.sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
		for (const e of entries) {
			const abs = path.join(dir, e.name);
			// Symlinks are not followed: they may lead out of the workspace or round in circles.
			if (e.isDirectory()) {
				if (!SKIPPED_DIRS.has(e.name)) stack.push(abs);
			} else if (e.isFile()) {
				yield sandbox.relative(abs);
			}
		}
	}
}

/** Whether a file holds a NUL byte in its first 8 KB: binary, not searched. */
function looksBinary(data: Buffer): boolean {
	return data.subarray(0, 8192).includes(0);
}

export const list = defineOperation({
	params: z
		.object({
			path: startParam,
			pattern: z.string().min(1).optional().describe('Glob the workspace-relative paths must match, e.g. "src/**/*.ts".'),
			max: z.number().int().min(1).max(100_000).default(1000).describe('At most this many paths (default 1000).'),
		})
		.strict(),
	effect: 'none',
	summary: (p) => `list files in ${p.path}${p.pattern ? ` matching ${p.pattern}` : ''}`,
	touches: (p) => ({ reads: [p.path], writes: [] }),
	async run(p, ctx): Promise<{ files: string[]; truncated: boolean }> {
		const glob = p.pattern ? compileGlob(p.pattern) : undefined;
		const files: string[] = [];
		for await (const rel of walk(ctx.sandbox, p.path, ctx.signal)) {
			if (glob && !glob.test(rel)) continue;
			if (files.length === p.max) return { files, truncated: true };
			files.push(rel);
		}
		return { files, truncated: false };
	},
});

export const search = defineOperation({
	params: z
		.object({
			query: z.string().min(1).describe('Text to find (or, with regex: true, a JavaScript regular expression).'),
			path: startParam,
			pattern: z.string().min(1).optional().describe('Only files whose workspace-relative path matches this glob.'),
			regex: z.boolean().optional().describe('Treat query as a regular expression (default false).'),
			case_sensitive: z.boolean().optional().describe('Match case (default false).'),
			max_results: z.number().int().min(1).max(10_000).default(200).describe('At most this many matching lines (default 200).'),
		})
		.strict(),
	effect: 'none',
	summary: (p) => `search ${p.path} for ${p.regex ? '/' + p.query + '/' : JSON.stringify(p.query)}`,
	touches: (p) => ({ reads: [p.path], writes: [] }),
	async run(p, ctx): Promise<{ matches: { file: string; line: number; text: string }[]; truncated: boolean }> {
		let re: RegExp;
		try {
			re = new RegExp(p.regex ? p.query : p.query.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), p.case_sensitive ? '' : 'i');
		} catch (err) {
			throw new StepError('parameters', `query is not a valid regular expression: ${(err as Error).message}`);
		}
		const glob = p.pattern ? compileGlob(p.pattern) : undefined;
		const matches: { file: string; line: number; text: string }[] = [];
		for await (const rel of walk(ctx.sandbox, p.path, ctx.signal)) {
			if (glob && !glob.test(rel)) continue;
			const data = await readSmall(await ctx.sandbox.resolveRead(rel));
			if (!data || looksBinary(data)) continue;
			const lines = data.toString('utf8').split('\n');
			for (let i = 0; i < lines.length; i++) {
				if (!re.test(lines[i])) continue;
				if (matches.length === p.max_results) return { matches, truncated: true };
				matches.push({ file: rel, line: i + 1, text: lines[i].length > 300 ? `${lines[i].slice(0, 300)}…` : lines[i] });
			}
		}
		return { matches, truncated: false };
	},
});

/** The file's bytes when it is at most SEARCH_MAX_BYTES, else undefined (also when it vanished meanwhile). */
async function readSmall(abs: string): Promise<Buffer | undefined> {
	const handle = await open(abs, 'r').catch(() => undefined);
	if (!handle) return undefined;
	try {
		const { size } = await handle.stat();
		return size > SEARCH_MAX_BYTES ? undefined : await handle.readFile();
	} finally {
		await handle.close();
	}
}
