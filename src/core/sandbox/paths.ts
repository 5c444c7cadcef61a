// The workspace root as a sandbox: lexical checks first, then a symlink-by-symlink walk of the real file system.
import { lstatSync, readlinkSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { SandboxError } from '../errors';
import { compileGlob } from './glob';
import type { Glob } from './glob';
import type { Sandbox, SandboxPolicy, WriteTarget } from './types';

/** Paths no `file` step may write; always enforced, whatever the configured policy adds. */
const BUILTIN_PROTECTED = ['.quantum', '.quantum/**', '**/.git', '**/.git/**'];

/** Why each default approval glob exists, shown to the person asked to approve. */
const APPROVAL_REASONS: Record<string, string> = {
	'**/.vscode/**': 'VS Code runs tasks, launch configurations and settings from .vscode/',
	'**/*.code-workspace': 'VS Code applies settings and tasks from workspace files',
	'.github/workflows/**': 'GitHub Actions runs these workflows with repository secrets',
	'**/.git/hooks/**': 'git executes hooks on commit, checkout and push',
	'**/.husky/**': 'git executes these hooks through husky',
	'**/.env*': 'tools load environment variables (often secrets) from .env files',
	'**/.npmrc': 'npm reads registries, tokens and scripts settings from .npmrc',
	'**/.quantum-policy*': "it is the orchestrator's own policy file",
	'**/.quantumrc*': "it is the orchestrator's own configuration file",
};

/** The default policy: writes matching approvalGlobs always ask; protectedGlobs are never written. */
export const DEFAULT_SANDBOX_POLICY: Readonly<SandboxPolicy> = Object.freeze({
	approvalGlobs: Object.freeze(Object.keys(APPROVAL_REASONS)) as string[],
	protectedGlobs: Object.freeze([...BUILTIN_PROTECTED]) as string[],
});

/** Symlink hops allowed while resolving one path (Linux's own limit). */
const MAX_SYMLINK_HOPS = 40;

interface Walked {
	/** Real absolute path with every existing symlink resolved. */
	real: string;
	/** lstat of `real` (never a symlink: those were expanded); undefined when nothing is there. */
	st: Stats | undefined;
	/** When `real` is missing: its outermost missing ancestor-or-self (everything below it is missing too). */
	firstMissing?: string;
}

const CHECK = Symbol('check');
type QueueItem = string | { [CHECK]: string };

function toPosix(p: string): string {
	return path.sep === '/' ? p : p.split(path.sep).join('/');
}

/** A relative path already in normal form (`/`-separated, no empty, `.` or `..` segment): its own lexical form. */
function isNormalRelative(rel: string): boolean {
	if (path.sep !== '/' || rel === '' || rel.charCodeAt(0) === 0x2f) return false;
	let start = 0;
	for (let i = 0; i <= rel.length; i++) {
		if (i < rel.length && rel.charCodeAt(i) !== 0x2f) continue;
		const len = i - start;
		if (len === 0 || (rel.charCodeAt(start) === 0x2e && (len === 1 || (len === 2 && rel.charCodeAt(start + 1) === 0x2e)))) return false;
		start = i + 1;
	}
	return true;
}

/** A compiled policy glob with the literal pieces any match must contain (a cheap test that rules most paths out). */
interface PolicyGlob {
	glob: Glob;
	pieces: string[];
}

function policyGlob(pattern: string): PolicyGlob {
	return { glob: compileGlob(pattern, { nocase: true }), pieces: pattern.toLowerCase().split(/[/*?]+/).filter((p) => p !== '') };
}

/** The first glob matching `checked` (workspace-relative, normalized). */
function firstMatch(globs: readonly PolicyGlob[], checked: string): Glob | undefined {
	const lower = checked.toLowerCase();
	for (const { glob, pieces } of globs) {
		if (pieces.every((p) => lower.includes(p)) && glob.test(checked)) return glob;
	}
	return undefined;
}

function isInside(root: string, abs: string): boolean {
	const rel = path.relative(root, abs);
	return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

function errnoCode(err: unknown): string | undefined {
	return (err as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * lstat as one cheap synchronous call (no thread-pool round trip, no exception built for a missing entry);
 * undefined when nothing is there or a parent is not a directory.
 */
function lstatQuiet(abs: string): Stats | undefined {
	try {
		return lstatSync(abs, { throwIfNoEntry: false });
	} catch (err) {
		if (errnoCode(err) === 'ENOTDIR') return undefined;
		throw err;
	}
}

class WorkspaceSandbox implements Sandbox {
	private readonly protectedGlobs: PolicyGlob[];
	private readonly approvalGlobs: PolicyGlob[];

	constructor(
		readonly root: string,
		/** The root as given (may differ from the real one, e.g. /tmp vs /private/tmp); absolute paths under it are accepted. */
		private readonly givenRoot: string,
		policy: SandboxPolicy,
	) {
		const unique = (globs: string[]) => [...new Set(globs)].map(policyGlob);
		this.protectedGlobs = unique([...BUILTIN_PROTECTED, ...policy.protectedGlobs]);
		this.approvalGlobs = unique(policy.approvalGlobs);
	}

	async resolveRead(rel: string): Promise<string> {
		const lexical = this.lexical(rel);
		return this.walk(rel, lexical).real;
	}

	async resolveWrite(rel: string): Promise<string> {
		return this.resolveWriteTarget(rel).abs;
	}

	resolveWriteTarget(rel: string): WriteTarget {
		const lexical = this.lexical(rel);
		if (lexical === '') throw new SandboxError('protected', `refusing to write the workspace root itself ("${rel}")`);
		this.refuseProtected(rel, lexical);
		const walked = this.walk(rel, lexical);
		const realRel = this.relative(walked.real);
		if (realRel === '') throw new SandboxError('protected', `refusing to write the workspace root itself ("${rel}")`);
		if (realRel !== lexical) {
			this.refuseProtected(rel, realRel);
			// A symlink must not launder a write past approval: the checked name is the one the user approves.
			const hidden = this.approvalReason(realRel);
			if (hidden !== undefined && this.approvalReason(lexical) === undefined) {
				throw new SandboxError(
					'symlink',
					`"${rel}" leads through a symlink to "${realRel}", which needs approval; write "${realRel}" directly`,
				);
			}
		}
		const st = walked.st;
		if (st && !st.isDirectory() && st.nlink > 1) {
			throw new SandboxError(
				'hardlink',
				`"${rel}" has ${st.nlink} hard links; writing it would change the other names too (possibly outside the workspace)`,
			);
		}
		const missingParents: string[] = [];
		if (walked.firstMissing !== undefined) {
			for (let dir = path.dirname(walked.real); dir.length >= walked.firstMissing.length; dir = path.dirname(dir)) missingParents.unshift(dir);
		}
		return { abs: walked.real, st, missingParents };
	}

	async resolveCwd(rel?: string): Promise<string> {
		const given = rel === undefined || rel === '' ? '.' : rel;
		const abs = await this.resolveRead(given);
		let isDir = false;
		try {
			isDir = (await stat(abs)).isDirectory();
		} catch (err) {
			if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ENOTDIR') throw err;
		}
		if (!isDir) throw new SandboxError('cwd', `cwd "${given}" is not a directory in the workspace`);
		return abs;
	}

	approvalReason(rel: string): string | undefined {
		let lexical: string;
		try {
			lexical = this.lexical(rel);
		} catch {
			return undefined; // refused anyway when resolved
		}
		if (lexical === '') return undefined;
		const glob = firstMatch(this.approvalGlobs, lexical);
		if (!glob) return undefined;
		const why = APPROVAL_REASONS[glob.pattern] ?? `it matches the approval policy "${glob.pattern}"`;
		return `writes ${lexical}: ${why}`;
	}

	relative(abs: string): string {
		if (abs.length > this.root.length + 1 && abs.startsWith(this.root) && abs.charCodeAt(this.root.length) === 0x2f) {
			const rest = abs.slice(this.root.length + 1);
			if (isNormalRelative(rest)) return rest;
		}
		const base = isInside(this.root, abs) ? this.root : isInside(this.givenRoot, abs) ? this.givenRoot : undefined;
		if (base === undefined) throw new SandboxError('outside', `"${abs}" is outside the workspace ${this.root}`);
		return toPosix(path.relative(base, abs));
	}

	/** Workspace-relative, normalized, `/`-separated form, or a SandboxError for `..` escapes and outside absolutes. */
	private lexical(rel: string): string {
		if (typeof rel !== 'string') throw new SandboxError('outside', `path must be a string, got ${typeof rel}`);
		if (rel.includes('\0')) throw new SandboxError('outside', `path "${rel.replace(/\0/g, '\\0')}" contains a NUL byte`);
		if (isNormalRelative(rel)) return rel;
		if (path.isAbsolute(rel)) {
			const abs = path.resolve(rel);
			if (isInside(this.root, abs)) return toPosix(path.relative(this.root, abs));
			if (isInside(this.givenRoot, abs)) return toPosix(path.relative(this.givenRoot, abs));
			throw new SandboxError('absolute', `absolute path "${rel}" is outside the workspace ${this.root}`);
		}
		const abs = path.resolve(this.root, rel);
		if (!isInside(this.root, abs)) throw new SandboxError('outside', `path "${rel}" escapes the workspace with ".."`);
		return toPosix(path.relative(this.root, abs));
	}

	private refuseProtected(rel: string, checked: string): void {
		const glob = firstMatch(this.protectedGlobs, checked);
		if (glob) {
			const shown = checked === rel ? `"${rel}"` : `"${rel}" (${checked})`;
			throw new SandboxError('protected', `${shown} is protected (${glob.pattern}): file steps may not write it`);
		}
	}

	/**
	 * Follow the path component by component from the real root, expanding every symlink (dangling ones too),
	 * and refuse as soon as a symlink's target lies outside the root. Every component is lstat'ed afresh on each
	 * call (nothing is cached): a folder swapped for a symlink by someone else between two calls is caught by the
	 * second. The calls are synchronous: an lstat costs less than a thread-pool round trip, and callers can act on
	 * the result (take a lock, reuse the final lstat) before any other step runs.
	 */
	private walk(rel: string, lexical: string): Walked {
		const queue: QueueItem[] = lexical === '' ? [] : lexical.split('/');
		let current = this.root;
		let missing = false;
		let firstMissing: string | undefined;
		/** The last lstat taken and the path it was taken of: the final one is the caller's, when it is of `real`. */
		let lastSt: Stats | undefined;
		let lastPath: string | undefined;
		let hops = 0;
		while (queue.length > 0) {
			const item = queue.shift() as QueueItem;
			if (typeof item !== 'string') {
				if (!isInside(this.root, current)) {
					throw new SandboxError(
						'symlink',
						`"${rel}" goes through the symlink "${this.shown(item[CHECK])}", which leads outside the workspace (to ${current})`,
					);
				}
				continue;
			}
			if (item === '' || item === '.') continue;
			if (item === '..') {
				current = path.dirname(current);
				// `missing/..` (from a symlink target) can climb back out of the missing part, to folders that exist:
				// what follows is checked again, never taken on trust.
				if (firstMissing !== undefined && current !== firstMissing && !current.startsWith(firstMissing + path.sep)) {
					missing = false;
					firstMissing = undefined;
				}
				continue;
			}
			const next = path.join(current, item);
			if (missing) {
				current = next;
				continue;
			}
			const st = lstatQuiet(next);
			if (!st) {
				missing = true;
				firstMissing = next;
				current = next;
				continue;
			}
			if (!st.isSymbolicLink()) {
				current = next;
				lastSt = st;
				lastPath = next;
				continue;
			}
			if (++hops > MAX_SYMLINK_HOPS) throw new SandboxError('symlink', `"${rel}": too many levels of symbolic links`);
			const target = readlinkSync(next);
			if (path.isAbsolute(target)) current = path.parse(target).root;
			queue.unshift(...target.split(/[\\/]/), { [CHECK]: next });
		}
		if (!isInside(this.root, current)) {
			throw new SandboxError('symlink', `"${rel}" resolves outside the workspace (to ${current})`);
		}
		if (missing) return { real: current, st: undefined, firstMissing };
		// The final lstat is reused unless the walk ended elsewhere (at the root, or after a `..`).
		const st = lastPath === current ? lastSt : lstatQuiet(current);
		return { real: current, st };
	}

	private shown(abs: string): string {
		return isInside(this.root, abs) ? toPosix(path.relative(this.root, abs)) : abs;
	}
}

/** The sandbox for a workspace; policy globs are added to the defaults (protection cannot be switched off). */
export async function createSandbox(root: string, policy: Partial<SandboxPolicy> = {}): Promise<Sandbox> {
	const given = path.resolve(root);
	let real: string;
	try {
		real = await realpath(given);
	} catch (err) {
		throw new SandboxError('outside', `workspace root ${given} cannot be opened (${errnoCode(err) ?? String(err)})`);
	}
	if (!(await stat(real)).isDirectory()) throw new SandboxError('outside', `workspace root ${given} is not a directory`);
	return new WorkspaceSandbox(real, given, {
		approvalGlobs: [...DEFAULT_SANDBOX_POLICY.approvalGlobs, ...(policy.approvalGlobs ?? [])],
		protectedGlobs: [...DEFAULT_SANDBOX_POLICY.protectedGlobs, ...(policy.protectedGlobs ?? [])],
	});
}
