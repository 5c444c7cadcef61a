// Installs, removes and lists the orchestrator's git hooks in the workspace's repository. The hooks folder is the one
// git itself uses (`git rev-parse --git-path hooks`: linked worktrees share the main one, core.hooksPath is obeyed).
// Our part of a hook sits between marker comments, so a hook's own content is kept and removal restores it exactly.
import { lstat, mkdir, readdir, readFile, realpath, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { QoErrorBase } from '../../errors';
import { cleanGitEnv } from '../../handlers/gitRepo';
import { writeFileAtomic } from '../../state/atomicFs';
import { isMissing } from '../../state/io';
import { stateDirFor } from '../../state/runStore';
import { suggest } from '../../workflow/suggest';
import { findBlock, HOOK_NAMES, hookBlock, type HookMeta, type HookName } from './hookScript';

export type HookErrorCode = 'not-a-repo' | 'unknown-hook' | 'unsupported' | 'workflow' | 'blocking';

/** A hook that cannot be installed or removed: no repository, an unknown hook, a hook file we must not edit. */
export class HookError extends QoErrorBase<HookErrorCode> {
	override readonly name = 'HookError';
	static is(err: unknown, code?: HookErrorCode): err is HookError {
		return err instanceof HookError && (code === undefined || err.code === code);
	}
}

export interface HookRepoOptions {
	/** The workspace folder (inside the repository). */
	workspace: string;
	/** For git (default process.env; GIT_DIR and the like are dropped). */
	env?: NodeJS.ProcessEnv;
}

export interface InstallHooksOptions extends HookRepoOptions {
	hooks: readonly string[];
	/** The workflow file the hooks submit (workspace-relative, or absolute inside the workspace). */
	workflow: string;
	/** The state folder holding api.json (default `<workspace>/.quantum`) and the inbox (default `<state>/inbox`). */
	stateDir?: string;
	inbox?: string;
	/** pre-* hooks only: wait for the run and stop the git operation unless it succeeds. Default false. */
	blocking?: boolean;
	/** How long the hook waits for the orchestrator to answer (default 2000 ms). */
	timeoutMs?: number;
	/** Blocking hooks: how long they wait for the run to end (default 10 minutes). */
	waitMs?: number;
}

export interface HookChange {
	hook: string;
	file: string;
	action: 'installed' | 'updated' | 'unchanged' | 'removed' | 'not-installed';
	/** The hook had content of its own, kept as it was. */
	keptExisting?: boolean;
	/** remove: the file was ours alone and is gone. */
	deletedFile?: boolean;
}

export interface InstalledHook {
	hook: string;
	file: string;
	workflow: string;
	blocking: boolean;
	/** The hook has content besides ours. */
	otherContent: boolean;
}

export interface HooksLocation {
	/** Where git looks for hooks. */
	dir: string;
	/** The repository's (or linked worktree's) top level: where git runs hooks. */
	topLevel: string;
	/** The workspace relative to the top level, `/`-separated; `.` when they are the same. */
	workspaceFromTop: string;
}

/** What a hook file we create holds besides the block. */
const NEW_HOOK = '#!/bin/sh\n';
const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash']);

async function git(o: HookRepoOptions, args: string[]): Promise<string> {
	const { simpleGit } = await import('simple-git');
	try {
		return (await simpleGit({ baseDir: o.workspace, maxConcurrentProcesses: 1 }).env(cleanGitEnv(o.env ?? process.env)).raw(args)).trim();
	} catch (err) {
		const message = err instanceof Error ? err.message : String(err);
		if (/not a git repository/i.test(message)) throw new HookError('not-a-repo', `${o.workspace} is not in a git repository (run \`git init\` there first)`);
		throw new HookError('not-a-repo', `git ${args.join(' ')} failed in ${o.workspace}: ${message.trim().split('\n').slice(-3).join(' ')}`);
	}
}

/** The hooks folder git uses for the workspace's repository, and where the workspace is in it. */
export async function locateHooks(o: HookRepoOptions): Promise<HooksLocation> {
	const [dir, top] = (await git(o, ['rev-parse', '--git-path', 'hooks', '--show-toplevel'])).split('\n');
	const topLevel = await realpath(top);
	const rel = path.relative(topLevel, await realpath(o.workspace)).split(path.sep).join('/');
	return { dir: path.resolve(o.workspace, dir), topLevel, workspaceFromTop: rel || '.' };
}

/** The hook names, each checked (HookError 'unknown-hook' with a suggestion), without repeats. */
export function checkHookNames(hooks: readonly string[]): HookName[] {
	for (const h of hooks) {
		if (!(HOOK_NAMES as readonly string[]).includes(h)) {
			const close = suggest(h, HOOK_NAMES);
			throw new HookError('unknown-hook', `unknown hook '${h}'${close ? ` (did you mean '${close}'?)` : ''}; hooks: ${HOOK_NAMES.join(', ')}`);
		}
	}
	return [...new Set(hooks)] as HookName[];
}

/** A path as the hook should name it: relative to the workspace when inside it, else absolute. */
function fromWorkspace(workspace: string, p: string): string {
	const rel = path.relative(workspace, path.resolve(workspace, p));
	return rel.startsWith('..') || path.isAbsolute(rel) ? path.resolve(workspace, p) : rel.split(path.sep).join('/') || '.';
}

interface HookFile {
	text: string;
	mode: number;
	exists: boolean;
}

async function readHook(file: string, hook: string): Promise<HookFile> {
	let st;
	try {
		st = await lstat(file);
	} catch (err) {
		if (isMissing(err)) return { text: '', mode: 0o755, exists: false };
		throw err;
	}
	if (st.isSymbolicLink()) throw new HookError('unsupported', `the ${hook} hook ${file} is a symbolic link (a hook manager's?); add the orchestrator's block to the file it points to by hand, or remove the link`);
	if (!st.isFile()) throw new HookError('unsupported', `the ${hook} hook ${file} is not a file`);
	return { text: await readFile(file, 'utf8'), mode: st.mode & 0o7777, exists: true };
}

/** Refuses a hook our sh block cannot go into: not a shell script, or not executable (git ignores it: ours would wake it). */
function checkEditable(h: HookFile, hook: string, file: string): void {
	if (!h.exists || findBlock(h.text)) return;
	if (h.text.includes('\0')) throw new HookError('unsupported', `the ${hook} hook ${file} is a binary; the orchestrator's block is a shell script`);
	if ((h.mode & 0o100) === 0) {
		throw new HookError('unsupported', `the ${hook} hook ${file} is not executable, so git ignores it; make it executable (or delete it) first`);
	}
	if (h.text.startsWith('#!')) {
		const words = h.text.slice(2, h.text.indexOf('\n') < 0 ? undefined : h.text.indexOf('\n')).trim().split(/\s+/);
		let shell = path.basename(words[0] ?? '');
		if (shell === 'env') shell = path.basename(words.slice(1).find((w) => !w.startsWith('-') && !w.includes('=')) ?? '');
		if (!SHELLS.has(shell)) throw new HookError('unsupported', `the ${hook} hook ${file} is a ${shell || 'non-shell'} script; the orchestrator's block is POSIX sh, so it cannot go into it`);
	}
}

/** Installs (or updates) the block in each hook; idempotent: the same block again changes nothing. */
export async function installHooks(o: InstallHooksOptions): Promise<HookChange[]> {
	const hooks = checkHookNames(o.hooks);
	if (hooks.length === 0) throw new HookError('unknown-hook', `name the hooks to install: ${HOOK_NAMES.join(', ')}`);
	const nonBlocking = hooks.filter((h) => !h.startsWith('pre-'));
	if (o.blocking && nonBlocking.length) {
		throw new HookError('blocking', `only pre-* hooks can stop a git operation; ${nonBlocking.join(', ')} run${nonBlocking.length === 1 ? 's' : ''} after it`);
	}
	const workspace = await realpath(o.workspace);
	const workflow = fromWorkspace(workspace, o.workflow);
	if (path.isAbsolute(workflow)) throw new HookError('workflow', `the workflow ${o.workflow} is outside the workspace ${workspace}`);
	const st = await lstat(path.join(workspace, workflow)).catch(() => undefined);
	if (!st?.isFile()) throw new HookError('workflow', `the workflow ${workflow} does not exist in ${workspace}`);
	const stateDir = path.resolve(workspace, o.stateDir ?? stateDirFor(workspace));
	const inbox = path.resolve(workspace, o.inbox ?? path.join(stateDir, 'inbox'));
	const where = await locateHooks({ ...o, workspace });
	await mkdir(where.dir, { recursive: true });
	const changes: HookChange[] = [];
	for (const hook of hooks) {
		const file = path.join(where.dir, hook);
		const current = await readHook(file, hook);
		checkEditable(current, hook, file);
		const found = findBlock(current.text);
		// Without the block: the text the hook had before we came, which removal gives back exactly.
		const own = found ? withoutBlock(current.text, found) : current.text;
		const createdFile = found ? (found.meta?.createdFile ?? false) : !current.exists;
		const text = withBlock(own, createdFile, (addedNewline) =>
			hookBlock({
				hook,
				workflow,
				blocking: o.blocking ?? false,
				createdFile,
				addedNewline,
				workspace: where.workspaceFromTop,
				stateDir: fromWorkspace(workspace, stateDir),
				inbox: fromWorkspace(workspace, inbox),
				timeoutMs: o.timeoutMs,
				waitMs: o.waitMs,
			}),
		);
		const keptExisting = own !== '' && !(createdFile && own === NEW_HOOK);
		if (text === current.text) {
			changes.push({ hook, file, action: 'unchanged', keptExisting });
			continue;
		}
		await writeFileAtomic(file, text, { mode: current.exists ? current.mode : 0o755, what: `${hook} hook` });
		changes.push({ hook, file, action: found ? 'updated' : 'installed', keptExisting });
	}
	return changes;
}

/** `own` (a hook's text without our block) with the block after its first line (the shebang), or a new script. */
function withBlock(own: string, createdFile: boolean, block: (addedNewline: boolean) => string): string {
	if (createdFile && (own === '' || own === NEW_HOOK)) return NEW_HOOK + block(false);
	// Scripts without a #! line are run by sh: the block goes first. Otherwise right after the #! line, before any
	// `exec` or `exit` of the hook's own that would keep a block at the end from ever running.
	if (!own.startsWith('#!')) return block(false) + own;
	const nl = own.indexOf('\n');
	if (nl < 0) return `${own}\n${block(true)}`;
	return own.slice(0, nl + 1) + block(false) + own.slice(nl + 1);
}

function withoutBlock(text: string, found: NonNullable<ReturnType<typeof findBlock>>): string {
	const before = found.meta?.addedNewline && text[found.start - 1] === '\n' ? found.start - 1 : found.start;
	return text.slice(0, before) + text.slice(found.end);
}

/** Takes our block out of the named hooks (default: every hook that has it); a hook file we created is deleted. */
export async function removeHooks(o: HookRepoOptions & { hooks?: readonly string[] }): Promise<HookChange[]> {
	const where = await locateHooks(o);
	const hooks = o.hooks?.length ? checkHookNames(o.hooks) : (await listHooks(o)).map((h) => h.hook);
	const changes: HookChange[] = [];
	for (const hook of hooks) {
		const file = path.join(where.dir, hook);
		const current = await readHook(file, hook);
		const found = findBlock(current.text);
		if (!found) {
			changes.push({ hook, file, action: 'not-installed' });
			continue;
		}
		const own = withoutBlock(current.text, found);
		if (found.meta?.createdFile && own === NEW_HOOK) {
			await unlink(file);
			changes.push({ hook, file, action: 'removed', deletedFile: true });
			continue;
		}
		await writeFileAtomic(file, own, { mode: current.mode, what: `${hook} hook` });
		changes.push({ hook, file, action: 'removed', keptExisting: true });
	}
	return changes;
}

/** The hooks that have our block, with the workflow each submits. */
export async function listHooks(o: HookRepoOptions): Promise<InstalledHook[]> {
	const where = await locateHooks(o);
	let names: string[];
	try {
		names = (await readdir(where.dir)).filter((n) => !n.endsWith('.sample')).sort();
	} catch (err) {
		if (isMissing(err)) return [];
		throw err;
	}
	const out: InstalledHook[] = [];
	for (const hook of names) {
		const file = path.join(where.dir, hook);
		const text = await readFile(file, 'utf8').catch(() => '');
		const found = findBlock(text);
		if (!found) continue;
		const meta: Partial<HookMeta> = found.meta ?? {};
		const own = withoutBlock(text, found);
		out.push({
			hook,
			file,
			workflow: meta.workflow ?? '(unknown: the block was edited)',
			blocking: meta.blocking ?? false,
			otherContent: own !== (meta.createdFile ? NEW_HOOK : ''),
		});
	}
	return out;
}
