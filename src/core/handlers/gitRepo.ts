// Opening a repository inside the workspace for a git step: scrubbed environment, sandbox check, error wording.
import { realpath } from 'node:fs/promises';
import * as path from 'node:path';
import type * as SimpleGitModule from 'simple-git';
import type { SimpleGit } from 'simple-git';
import { SandboxError, StepError } from '../errors';
import { scrubEnv } from '../sandbox/env';
import type { StepContext } from './types';
import { abortError, lastLines } from './shared';

/**
 * Variables simple-git refuses (they make git run other programs) and those that point git at another repository;
 * git steps never inherit them, so the user's editor, pager, askpass and GIT_DIR are not used.
 */
const DROPPED_GIT_ENV = new Set([
	'EDITOR',
	'VISUAL',
	'PAGER',
	'GIT_EDITOR',
	'GIT_SEQUENCE_EDITOR',
	'GIT_PAGER',
	'GIT_ASKPASS',
	'SSH_ASKPASS',
	'GIT_SSH',
	'GIT_SSH_COMMAND',
	'GIT_EXTERNAL_DIFF',
	'GIT_PROXY_COMMAND',
	'GIT_TEMPLATE_DIR',
	'GIT_EXEC_PATH',
	'GIT_CONFIG',
	'GIT_CONFIG_GLOBAL',
	'GIT_CONFIG_SYSTEM',
	'GIT_CONFIG_COUNT',
	'GIT_CONFIG_PARAMETERS',
	'PREFIX',
	'GIT_DIR',
	'GIT_WORK_TREE',
	'GIT_INDEX_FILE',
	'GIT_OBJECT_DIRECTORY',
	'GIT_ALTERNATE_OBJECT_DIRECTORIES',
	'GIT_COMMON_DIR',
	'GIT_NAMESPACE',
	'LANGUAGE',
]);

// simple-git costs ~25 ms to load: only runs that use git pay for it, not every `qo` start.
let simpleGitModule: Promise<typeof SimpleGitModule> | undefined;
const loadSimpleGit = () => (simpleGitModule ??= import('simple-git'));

function gitEnv(ctx: StepContext): NodeJS.ProcessEnv {
	return cleanGitEnv(scrubEnv(ctx.env, { patterns: ctx.secretPolicy.patterns }).env);
}

/** A copy of `source` git can be run with: no editor, pager, askpass or GIT_DIR; English messages; no prompts. */
export function cleanGitEnv(source: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
	const env = { ...source };
	for (const name of Object.keys(env)) {
		const upper = name.toUpperCase();
		if (DROPPED_GIT_ENV.has(upper) || upper.startsWith('GIT_CONFIG_KEY_') || upper.startsWith('GIT_CONFIG_VALUE_')) delete env[name];
	}
	// English messages (git's output is parsed) without changing how file names are decoded.
	if (env.LC_ALL !== undefined) {
		env.LC_CTYPE ??= env.LC_ALL;
		delete env.LC_ALL;
	}
	env.LC_MESSAGES = 'C';
	env.GIT_TERMINAL_PROMPT = '0';
	env.GIT_OPTIONAL_LOCKS = '0';
	return env;
}

/** An opened repository, with the step it serves. */
export interface Repo {
	git: SimpleGit;
	/** Workspace-relative repository directory, for messages. */
	shown: string;
	dir: string;
	ctx: StepContext;
}

/** The error a git step throws: cancellation, a missing repository, or git's last lines of output. */
export function failure(err: unknown, repo: { shown: string; ctx: StepContext }, what: string): Error {
	if (repo.ctx.signal.aborted || (err as { plugin?: unknown } | null)?.plugin === 'abort') {
		return abortError(repo.ctx.signal, `git ${what}`);
	}
	if (StepError.is(err) || SandboxError.is(err)) return err;
	const message = err instanceof Error ? err.message : String(err);
	if (/not a git repository/i.test(message)) {
		return new StepError('not-found', `${repo.shown} is not a git repository (run \`git init\` there first)`, { permanent: true });
	}
	const detail = lastLines(message, 6);
	return new StepError('failed', `git ${what} failed in ${repo.shown}${detail ? `: ${detail}` : ''}`);
}

/** A simple-git instance on `rel` (default the workspace root), refused when its repository starts outside the workspace. */
export async function openRepo(ctx: StepContext, rel: string | undefined): Promise<Repo> {
	const dir = await ctx.sandbox.resolveCwd(rel);
	const shown = ctx.sandbox.relative(dir) || 'the workspace';
	const { simpleGit } = await loadSimpleGit();
	const git = simpleGit({
		baseDir: dir,
		maxConcurrentProcesses: 1,
		trimmed: false,
		abort: ctx.signal,
		config: ['color.ui=false', 'core.quotePath=false'],
	}).env(gitEnv(ctx));
	const repo = { git, shown, dir, ctx };
	let top: string;
	try {
		top = await realpath((await git.raw(['rev-parse', '--show-toplevel'])).trim());
	} catch (err) {
		throw failure(err, repo, 'rev-parse');
	}
	try {
		ctx.sandbox.relative(top);
	} catch {
		throw new SandboxError(
			'outside',
			`the git repository of ${shown} starts at ${top}, outside the workspace; git steps only work on repositories inside it`,
		);
	}
	return repo;
}

/** Runs `git <args>` in the repository, a failure worded by failure(). */
export async function git(repo: Repo, args: string[]): Promise<string> {
	try {
		return await repo.git.raw(args);
	} catch (err) {
		throw failure(err, repo, args[0]);
	}
}

/** Workspace-relative paths (checked by the sandbox) as pathspecs relative to the repository directory. */
export async function pathspecs(repo: Repo, paths: readonly string[]): Promise<string[]> {
	const out: string[] = [];
	for (const p of paths) {
		await repo.ctx.sandbox.resolveRead(p);
		const abs = path.resolve(repo.ctx.sandbox.root, repo.ctx.sandbox.relative(path.resolve(repo.ctx.sandbox.root, p)));
		out.push(path.relative(repo.dir, abs).split(path.sep).join('/') || '.');
	}
	return out;
}

/** The commit HEAD points at, and its branch (null when detached). */
export async function head(repo: Repo): Promise<{ hash: string; short: string; branch: string | null }> {
	const [hash = '', short = '', branch = ''] = (await git(repo, ['log', '-1', '--format=%H%n%h%n%D'])).split('\n');
	const m = /(?:^|, )HEAD -> ([^,]+)/.exec(branch);
	return { hash, short, branch: m ? m[1] : null };
}
