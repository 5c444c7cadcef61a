// file: create, modify, delete, read, copy, move, mkdir (list and search in fileSearch.ts). Every write goes through ctx.fs, which journals it.
import { lstat } from 'node:fs/promises';
import { z } from 'zod';
import { SandboxError, StateError, StepError } from '../errors';
import type { Sandbox } from '../sandbox/types';
import type { Handler, StepContext } from './types';
import { defineOperation } from './types';
import { list, search } from './fileSearch';
import { clip, errnoCode } from './shared';

const pathParam = z.string().min(1).describe('Workspace-relative path.');
const encodingParam = z.enum(['utf8', 'base64']);
const modeParam = z
	.union([z.number().int().min(0).max(0o7777), z.string().regex(/^(0o)?[0-7]{3,4}$/, 'an octal mode such as "644" or "0755"')])
	.describe('Permission bits: a number (420) or an octal string ("644", "0755").');

function parseMode(mode: number | string | undefined): number | undefined {
	if (mode === undefined || typeof mode === 'number') return mode;
	return parseInt(mode.replace(/^0o/, ''), 8);
}

/** Turns file system errors into step errors that name the path; sandbox and state errors pass unchanged. */
export function fsFailure(err: unknown, rel: string, verb: string): Error {
	if (StepError.is(err) || SandboxError.is(err) || StateError.is(err)) return err;
	const code = errnoCode(err);
	const detail = err instanceof Error ? err.message : String(err);
	switch (code) {
		case 'ENOENT':
			return new StepError('not-found', `cannot ${verb} ${rel}: it does not exist`, { permanent: true });
		case 'EEXIST':
			return new StepError('exists', `cannot ${verb} ${rel}: it already exists (set overwrite: true to replace it)`, { permanent: true });
		case 'ENOSPC':
			return new StepError('disk-full', `cannot ${verb} ${rel}: no space left on device`);
		case 'EISDIR':
			return new StepError('io', `cannot ${verb} ${rel}: it is a directory`, { permanent: true });
		case 'ENOTDIR':
			return new StepError('io', `cannot ${verb} ${rel}: a parent is not a directory`, { permanent: true });
		default:
			return new StepError('io', `cannot ${verb} ${rel}: ${detail}`);
	}
}

async function attempt<T>(rel: string, verb: string, fn: () => Promise<T>): Promise<T> {
	try {
		return await fn();
	} catch (err) {
		throw fsFailure(err, rel, verb);
	}
}

async function readText(ctx: StepContext, rel: string, verb: string): Promise<string> {
	return (await attempt(rel, verb, () => ctx.fs.readFile(rel))).toString('utf8');
}

/** What is at a path, read through the sandbox (metadata only; content always goes through ctx.fs). */
async function kindOf(sandbox: Sandbox, rel: string): Promise<'file' | 'dir' | 'absent'> {
	const abs = await sandbox.resolveRead(rel);
	try {
		return (await lstat(abs)).isDirectory() ? 'dir' : 'file';
	} catch (err) {
		if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return 'absent';
		throw fsFailure(err, rel, 'inspect');
	}
}

function firstReason(sandbox: Sandbox, ...paths: string[]): string | undefined {
	for (const p of paths) {
		const reason = sandbox.approvalReason(p);
		if (reason) return reason;
	}
	return undefined;
}

function bytesOf(content: string, encoding: 'utf8' | 'base64' | undefined): Buffer {
	// Buffer.from skips characters that are not base64; a typo must not silently write other bytes.
	if (encoding === 'base64' && !/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(content)) {
		throw new StepError('parameters', '`content` is not valid base64');
	}
	return Buffer.from(content, encoding ?? 'utf8');
}

const create = defineOperation({
	params: z
		.object({
			path: pathParam,
			content: z.string().optional().describe('The file content (default: empty).'),
			encoding: encodingParam.optional().describe('How `content` is written: utf8 (default) or base64 for binary files.'),
			overwrite: z.boolean().optional().describe('Replace an existing file (default false: an existing file fails the step).'),
			mode: modeParam.optional(),
		})
		.strict(),
	effect: 'workspace',
	summary: (p) => `${p.overwrite ? 'create or overwrite' : 'create'} ${p.path}`,
	touches: (p) => ({ reads: [], writes: [p.path] }),
	approvalReason: (p, sandbox) => sandbox.approvalReason(p.path),
	async run(p, ctx): Promise<{ path: string; bytes: number }> {
		const data = bytesOf(p.content ?? '', p.encoding);
		// The exclusive write is the existence check (O_EXCL): no separate exists() round trip.
		await attempt(p.path, 'create', () => ctx.fs.writeFile(p.path, data, { mode: parseMode(p.mode), exclusive: !p.overwrite })).catch((err: unknown) => {
			if (!p.overwrite && StepError.is(err, 'exists')) {
				throw new StepError('exists', `cannot create ${p.path}: it already exists (set overwrite: true to replace it)`, { permanent: true });
			}
			throw err;
		});
		return { path: p.path, bytes: data.length };
	},
});

const modifyParams = z
	.object({
		path: pathParam,
		content: z.string().optional().describe('Replace the whole content with this.'),
		find: z.string().min(1).optional().describe('Text (or, with regex: true, a regular expression) to replace.'),
		replace: z.string().optional().describe('Replacement for `find`; with regex, $1… refer to groups (default: empty).'),
		all: z.boolean().optional().describe('Replace every occurrence of `find` (default true); false replaces the first.'),
		regex: z.boolean().optional().describe('Treat `find` as a JavaScript regular expression (default false).'),
		append: z.string().optional().describe('Text added at the end of the file.'),
	})
	.strict()
	.refine((p) => [p.content !== undefined, p.find !== undefined, p.append !== undefined].filter(Boolean).length === 1, {
		message: 'give exactly one of `content`, `find` (with `replace`) or `append`',
	})
	.refine((p) => p.find !== undefined || (p.replace === undefined && p.all === undefined && p.regex === undefined), {
		message: '`replace`, `all` and `regex` go with `find`',
	});

export type ModifyParams = z.output<typeof modifyParams>;

/** Text in quotes a reader can tell apart from the text: "…" unless it holds a double quote, then `…`. */
function quoted(text: string): string {
	return text.includes('"') ? `\`${text}\`` : `"${text}"`;
}

function modifySummary(p: ModifyParams): string {
	if (p.content !== undefined) return `rewrite ${p.path}`;
	if (p.append !== undefined) return `append to ${p.path}`;
	const what = p.regex ? `match of /${clip(p.find ?? '', 40)}/` : quoted(clip(p.find ?? '', 40));
	return `replace ${p.all === false ? 'first' : 'every'} ${what} in ${p.path}`;
}

export function replaceText(p: ModifyParams, text: string): { text: string; count: number } {
	const find = p.find as string;
	const replacement = p.replace ?? '';
	const all = p.all ?? true;
	if (p.regex) {
		let re: RegExp;
		try {
			re = new RegExp(find, all ? 'g' : '');
		} catch (err) {
			throw new StepError('parameters', `invalid regular expression in \`find\`: ${(err as Error).message}`);
		}
		const count = all ? (text.match(re)?.length ?? 0) : re.test(text) ? 1 : 0;
		// A string replacement keeps String.replace's $1, $<name> and $& expansion.
		return { text: count ? text.replace(re, replacement) : text, count };
	}
	if (!all) {
		const at = text.indexOf(find);
		return at < 0 ? { text, count: 0 } : { text: text.slice(0, at) + replacement + text.slice(at + find.length), count: 1 };
	}
	const parts = text.split(find);
	return { text: parts.join(replacement), count: parts.length - 1 };
}

const modify = defineOperation({
	params: modifyParams,
	effect: 'workspace',
	summary: modifySummary,
	touches: (p) => ({ reads: [p.path], writes: [p.path] }),
	approvalReason: (p, sandbox) => sandbox.approvalReason(p.path),
	async run(p, ctx): Promise<{ path: string; bytes: number; replacements?: number }> {
		let text: string;
		let replacements: number | undefined;
		if (p.content !== undefined) {
			// The write itself checks that the file exists (mustExist): no separate exists() round trip.
			text = p.content;
		} else if (p.append !== undefined) {
			text = (await readText(ctx, p.path, 'modify')) + p.append;
		} else {
			const r = replaceText(p, await readText(ctx, p.path, 'modify'));
			if (r.count === 0) {
				const what = p.regex ? `/${clip(p.find ?? '', 60)}/` : quoted(clip(p.find ?? '', 60));
				throw new StepError('not-found', `${what} was not found in ${p.path}`, { permanent: true });
			}
			text = r.text;
			replacements = r.count;
		}
		const data = Buffer.from(text, 'utf8');
		await attempt(p.path, 'modify', () => ctx.fs.writeFile(p.path, data, { mustExist: true })).catch((err: unknown) => {
			if (StepError.is(err, 'not-found')) {
				throw new StepError('not-found', `cannot modify ${p.path}: it does not exist (use file create)`, { permanent: true });
			}
			throw err;
		});
		return replacements === undefined ? { path: p.path, bytes: data.length } : { path: p.path, bytes: data.length, replacements };
	},
});

const del = defineOperation({
	params: z
		.object({
			path: pathParam,
			recursive: z.boolean().optional().describe('Required to delete a directory and everything under it.'),
			missing_ok: z.boolean().optional().describe('Succeed when the path does not exist (default false).'),
		})
		.strict(),
	effect: 'workspace',
	summary: (p) => `delete ${p.path}${p.recursive ? ' (recursively)' : ''}`,
	touches: (p) => ({ reads: [], writes: [p.path] }),
	approvalReason: (p, sandbox) => sandbox.approvalReason(p.path),
	async run(p, ctx): Promise<{ path: string; deleted: boolean }> {
		const kind = await kindOf(ctx.sandbox, p.path);
		if (kind === 'absent') {
			if (p.missing_ok) return { path: p.path, deleted: false };
			throw new StepError('not-found', `cannot delete ${p.path}: it does not exist (set missing_ok: true to allow)`, { permanent: true });
		}
		if (kind === 'dir' && !p.recursive) {
			throw new StepError('failed', `cannot delete ${p.path}: it is a directory (set recursive: true to delete it and its contents)`, {
				permanent: true,
			});
		}
		await attempt(p.path, 'delete', () => ctx.fs.remove(p.path));
		return { path: p.path, deleted: true };
	},
});

const read = defineOperation({
	params: z
		.object({
			path: pathParam,
			encoding: encodingParam.optional().describe('utf8 (default) or base64 for binary files.'),
		})
		.strict(),
	effect: 'none',
	summary: (p) => `read ${p.path}`,
	touches: (p) => ({ reads: [p.path], writes: [] }),
	async run(p, ctx): Promise<string> {
		const data = await attempt(p.path, 'read', () => ctx.fs.readFile(p.path));
		return data.toString(p.encoding ?? 'utf8');
	},
});

const transferParams = z
	.object({
		path: pathParam.describe('Workspace-relative source path.'),
		to: z.string().min(1).describe('Workspace-relative destination path.'),
		overwrite: z.boolean().optional().describe('Replace an existing destination (default false).'),
	})
	.strict();

async function transfer(
	p: z.output<typeof transferParams>,
	ctx: StepContext,
	verb: 'copy' | 'move',
): Promise<{ path: string; to: string }> {
	if (!(await attempt(p.path, verb, () => ctx.fs.exists(p.path)))) {
		throw new StepError('not-found', `cannot ${verb} ${p.path}: it does not exist`, { permanent: true });
	}
	if (!p.overwrite && (await attempt(p.to, verb, () => ctx.fs.exists(p.to)))) {
		throw new StepError('exists', `cannot ${verb} ${p.path} to ${p.to}: ${p.to} already exists (set overwrite: true to replace it)`, {
			permanent: true,
		});
	}
	await attempt(p.path, verb, () => ctx.fs[verb](p.path, p.to, { overwrite: p.overwrite ?? false }));
	return { path: p.path, to: p.to };
}

const copy = defineOperation({
	params: transferParams,
	effect: 'workspace',
	summary: (p) => `copy ${p.path} to ${p.to}${p.overwrite ? ' (overwrite)' : ''}`,
	touches: (p) => ({ reads: [p.path], writes: [p.to] }),
	approvalReason: (p, sandbox) => sandbox.approvalReason(p.to),
	run: (p, ctx) => transfer(p, ctx, 'copy'),
});

const move = defineOperation({
	params: transferParams,
	effect: 'workspace',
	summary: (p) => `move ${p.path} to ${p.to}${p.overwrite ? ' (overwrite)' : ''}`,
	touches: (p) => ({ reads: [p.path], writes: [p.path, p.to] }),
	approvalReason: (p, sandbox) => firstReason(sandbox, p.to, p.path),
	run: (p, ctx) => transfer(p, ctx, 'move'),
});

const mkdir = defineOperation({
	params: z.object({ path: pathParam }).strict(),
	effect: 'workspace',
	summary: (p) => `create directory ${p.path}`,
	touches: (p) => ({ reads: [], writes: [p.path] }),
	approvalReason: (p, sandbox) => sandbox.approvalReason(p.path),
	async run(p, ctx): Promise<{ path: string }> {
		await attempt(p.path, 'create directory', () => ctx.fs.mkdir(p.path));
		return { path: p.path };
	},
});

/** Workspace file operations; every write is journaled through ctx.fs so a run rolls back byte for byte. */
export const fileHandler: Handler = {
	type: 'file',
	description: 'Create, change, read and remove files in the workspace.',
	operations: { create, modify, delete: del, read, copy, move, mkdir, list, search },
};
