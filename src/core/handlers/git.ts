// git (through simple-git): status, add, commit, branch, checkout, diff, log, tag on a repository inside the workspace.
import { realpath } from 'node:fs/promises';
import * as path from 'node:path';
import type * as SimpleGitModule from 'simple-git';
import type { SimpleGit, StatusResult } from 'simple-git';
import { z } from 'zod';
import { SandboxError, StepError } from '../errors';
import { scrubEnv } from '../sandbox/env';
import type { Handler, StepContext } from './types';
import { defineOperation } from './types';
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
	const env = scrubEnv(ctx.env, { patterns: ctx.secretPolicy.patterns }).env;
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

interface Repo {
	git: SimpleGit;
	/** Workspace-relative repository directory, for messages. */
	shown: string;
	dir: string;
	ctx: StepContext;
}

function failure(err: unknown, repo: { shown: string; ctx: StepContext }, what: string): Error {
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

async function openRepo(ctx: StepContext, rel: string | undefined): Promise<Repo> {
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

async function git(repo: Repo, args: string[]): Promise<string> {
	try {
		return await repo.git.raw(args);
	} catch (err) {
		throw failure(err, repo, args[0]);
	}
}

/** Workspace-relative paths (checked by the sandbox) as pathspecs relative to the repository directory. */
async function pathspecs(repo: Repo, paths: readonly string[]): Promise<string[]> {
	const out: string[] = [];
	for (const p of paths) {
		await repo.ctx.sandbox.resolveRead(p);
		const abs = path.resolve(repo.ctx.sandbox.root, repo.ctx.sandbox.relative(path.resolve(repo.ctx.sandbox.root, p)));
		out.push(path.relative(repo.dir, abs).split(path.sep).join('/') || '.');
	}
	return out;
}

async function head(repo: Repo): Promise<{ hash: string; short: string; branch: string | null }> {
	const [hash = '', short = '', branch = ''] = (await git(repo, ['log', '-1', '--format=%H%n%h%n%D'])).split('\n');
	const m = /(?:^|, )HEAD -> ([^,]+)/.exec(branch);
	return { hash, short, branch: m ? m[1] : null };
}

// Refs, branch and tag names never start with '-', so they cannot be read as options.
const refName = (what: string) =>
	z
		.string()
		.min(1)
		.regex(/^[^-\s][^\s]*$/, `${what} must not start with "-" or contain spaces`);
const repoParam = z.string().optional().describe('Repository directory, workspace-relative (default: the workspace root).');
const pathsParam = z
	.union([z.string().min(1), z.array(z.string().min(1)).min(1)])
	.describe('Workspace-relative path or paths (git pathspecs, e.g. "src" or ".").');

function toArray(p: string | string[] | undefined): string[] {
	return p === undefined ? [] : typeof p === 'string' ? [p] : p;
}

function quote(arg: string): string {
	return /^[\w@%+=:,./^~-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function shownCommand(args: string[], repo: string | undefined): string {
	return `git ${args.map(quote).join(' ')}${repo ? ` (in ${repo})` : ''}`;
}

function commands(args: string[], repo: string | undefined) {
	return { reads: [], writes: [], commands: [shownCommand(args, repo)] };
}

/** What `git status` outputs. */
export interface GitStatusOutput {
	branch: string | null;
	tracking: string | null;
	ahead: number;
	behind: number;
	detached: boolean;
	clean: boolean;
	files: { path: string; index: string; working_dir: string; from?: string }[];
	staged: string[];
	modified: string[];
	created: string[];
	deleted: string[];
	renamed: { from: string; to: string }[];
	not_added: string[];
	conflicted: string[];
}

function statusOutput(s: StatusResult): GitStatusOutput {
	return {
		branch: s.current,
		tracking: s.tracking,
		ahead: s.ahead,
		behind: s.behind,
		detached: s.detached,
		clean: s.isClean(),
		files: s.files.map((f) => ({ path: f.path, index: f.index, working_dir: f.working_dir, ...(f.from ? { from: f.from } : {}) })),
		staged: [...s.staged],
		modified: [...s.modified],
		created: [...s.created],
		deleted: [...s.deleted],
		renamed: s.renamed.map((r) => ({ from: r.from, to: r.to })),
		not_added: [...s.not_added],
		conflicted: [...s.conflicted],
	};
}

const status = defineOperation({
	params: z.object({ repo: repoParam }).strict(),
	effect: 'external',
	summary: (p) => shownCommand(['status'], p.repo),
	touches: (p) => commands(['status'], p.repo),
	async run(p, ctx): Promise<GitStatusOutput> {
		const repo = await openRepo(ctx, p.repo);
		try {
			return statusOutput(await repo.git.status());
		} catch (err) {
			throw failure(err, repo, 'status');
		}
	},
});

const add = defineOperation({
	params: z.object({ paths: pathsParam, repo: repoParam }).strict(),
	effect: 'external',
	summary: (p) => shownCommand(['add', '--', ...toArray(p.paths)], p.repo),
	touches: (p) => ({ ...commands(['add', '--', ...toArray(p.paths)], p.repo), reads: toArray(p.paths) }),
	async run(p, ctx): Promise<{ paths: string[] }> {
		const repo = await openRepo(ctx, p.repo);
		const specs = await pathspecs(repo, toArray(p.paths));
		await git(repo, ['add', '--', ...specs]);
		return { paths: specs };
	},
});

function commitArgs(p: { message: string; all?: boolean; allow_empty?: boolean }, specs: string[]): string[] {
	return [
		'commit',
		`--message=${p.message}`,
		...(p.all ? ['--all'] : []),
		...(p.allow_empty ? ['--allow-empty'] : []),
		...(specs.length ? ['--', ...specs] : []),
	];
}

/** What `git commit` outputs. */
export interface GitCommitOutput {
	hash: string;
	short: string;
	branch: string | null;
	/** First line of the message. */
	summary: string;
	changes: { files: number; insertions: number; deletions: number };
}

const commit = defineOperation({
	params: z
		.object({
			message: z.string().min(1).describe('Commit message.'),
			all: z.boolean().optional().describe('Stage every modified and deleted tracked file first (git commit --all).'),
			allow_empty: z.boolean().optional().describe('Record a commit even when nothing changed.'),
			paths: pathsParam.optional().describe('Commit only these paths (git commit -- paths).'),
			repo: repoParam,
		})
		.strict(),
	effect: 'external',
	summary: (p) => shownCommand(commitArgs(p, toArray(p.paths)), p.repo),
	touches: (p) => commands(commitArgs(p, toArray(p.paths)), p.repo),
	async run(p, ctx): Promise<GitCommitOutput> {
		const repo = await openRepo(ctx, p.repo);
		const specs = await pathspecs(repo, toArray(p.paths));
		const before = (await git(repo, ['rev-parse', '-q', '--verify', 'HEAD'])).trim();
		const out = await git(repo, commitArgs(p, specs));
		// git exits 1 with its explanation on stdout when there is nothing to commit; simple-git resolves then.
		if ((await git(repo, ['rev-parse', '-q', '--verify', 'HEAD'])).trim() === before) {
			throw new StepError('failed', `nothing to commit in ${repo.shown}: ${lastLines(out, 3) || 'no changes'}`);
		}
		const stat = (await git(repo, ['log', '-1', '--format=%H%n%h%n%D%n%s', '--shortstat'])).split('\n');
		const [hash = '', short = '', refs = ''] = stat;
		const shortstat = stat.slice(4).join(' ');
		const count = (re: RegExp) => Number(re.exec(shortstat)?.[1] ?? 0);
		const m = /(?:^|, )HEAD -> ([^,]+)/.exec(refs);
		return {
			hash,
			short,
			branch: m ? m[1] : null,
			summary: p.message.split('\n')[0],
			changes: {
				files: count(/(\d+) files? changed/),
				insertions: count(/(\d+) insertions?\(\+\)/),
				deletions: count(/(\d+) deletions?\(-\)/),
			},
		};
	},
});

function branchArgs(p: { name: string; checkout?: boolean; start_point?: string }): string[] {
	const start = p.start_point ? [p.start_point] : [];
	return p.checkout ? ['checkout', '-b', p.name, ...start] : ['branch', p.name, ...start];
}

const branch = defineOperation({
	params: z
		.object({
			name: refName('branch name').describe('Name of the new branch.'),
			checkout: z.boolean().optional().describe('Switch to the new branch (git checkout -b).'),
			start_point: refName('start_point').optional().describe('Commit or branch to start from (default HEAD).'),
			repo: repoParam,
		})
		.strict(),
	effect: 'external',
	summary: (p) => shownCommand(branchArgs(p), p.repo),
	touches: (p) => commands(branchArgs(p), p.repo),
	async run(p, ctx): Promise<{ name: string; checked_out: boolean; hash: string }> {
		const repo = await openRepo(ctx, p.repo);
		await git(repo, branchArgs(p));
		const hash = (await git(repo, ['rev-parse', '--verify', `refs/heads/${p.name}`])).trim();
		return { name: p.name, checked_out: p.checkout ?? false, hash };
	},
});

function checkoutArgs(p: { ref: string; create?: boolean }): string[] {
	return p.create ? ['checkout', '-b', p.ref] : ['checkout', p.ref, '--'];
}

const checkout = defineOperation({
	params: z
		.object({
			ref: refName('ref').describe('Branch, tag or commit to check out (with create: the new branch name).'),
			create: z.boolean().optional().describe('Create the branch first (git checkout -b).'),
			repo: repoParam,
		})
		.strict(),
	effect: 'external',
	summary: (p) => shownCommand(checkoutArgs(p), p.repo),
	touches: (p) => commands(checkoutArgs(p), p.repo),
	async run(p, ctx): Promise<{ ref: string; branch: string | null; hash: string; detached: boolean }> {
		const repo = await openRepo(ctx, p.repo);
		await git(repo, checkoutArgs(p));
		const h = await head(repo);
		return { ref: p.ref, branch: h.branch, hash: h.hash, detached: h.branch === null };
	},
});

function diffArgs(p: { ref?: string; cached?: boolean; stat?: boolean }, specs: string[]): string[] {
	return [
		'diff',
		'--no-color',
		'--no-ext-diff',
		...(p.cached ? ['--cached'] : []),
		...(p.stat ? ['--stat'] : []),
		...(p.ref ? [p.ref] : []),
		'--',
		...specs,
	];
}

const diff = defineOperation({
	params: z
		.object({
			ref: refName('ref').optional().describe('Compare against this commit, or a range such as main..HEAD (default: the index).'),
			cached: z.boolean().optional().describe('Show staged changes (git diff --cached).'),
			stat: z.boolean().optional().describe('A diffstat instead of the patch.'),
			paths: pathsParam.optional().describe('Limit the diff to these paths.'),
			repo: repoParam,
		})
		.strict(),
	effect: 'external',
	summary: (p) => shownCommand(diffArgs(p, toArray(p.paths)), p.repo),
	touches: (p) => commands(diffArgs(p, toArray(p.paths)), p.repo),
	async run(p, ctx): Promise<string> {
		const repo = await openRepo(ctx, p.repo);
		return git(repo, diffArgs(p, await pathspecs(repo, toArray(p.paths))));
	},
});

/** One entry of `git log` output. */
export interface GitLogEntry {
	hash: string;
	short: string;
	author_name: string;
	author_email: string;
	/** Author date, ISO 8601. */
	date: string;
	refs: string;
	subject: string;
	body: string;
}

const LOG_FORMAT = '--format=%H%x1f%h%x1f%an%x1f%ae%x1f%aI%x1f%D%x1f%s%x1f%b%x1e';

function logArgs(p: { max_count?: number; ref?: string }, specs: string[]): string[] {
	return ['log', `--max-count=${p.max_count ?? 10}`, LOG_FORMAT, ...(p.ref ? [p.ref] : []), '--', ...specs];
}

const log = defineOperation({
	params: z
		.object({
			max_count: z.number().int().min(1).max(100_000).optional().describe('Most recent commits to list (default 10).'),
			ref: refName('ref').optional().describe('Start from this commit or range (default HEAD).'),
			paths: pathsParam.optional().describe('Only commits touching these paths.'),
			repo: repoParam,
		})
		.strict(),
	effect: 'external',
	summary: (p) => shownCommand(['log', `--max-count=${p.max_count ?? 10}`, ...(p.ref ? [p.ref] : [])], p.repo),
	touches: (p) => commands(['log', `--max-count=${p.max_count ?? 10}`, ...(p.ref ? [p.ref] : [])], p.repo),
	async run(p, ctx): Promise<{ entries: GitLogEntry[] }> {
		const repo = await openRepo(ctx, p.repo);
		const specs = await pathspecs(repo, toArray(p.paths));
		if (!p.ref && (await git(repo, ['rev-parse', '-q', '--verify', 'HEAD'])).trim() === '') return { entries: [] };
		const out = await git(repo, logArgs(p, specs));
		const entries = out
			.split('\x1e')
			.map((r) => r.replace(/^\n/, ''))
			.filter((r) => r !== '')
			.map((r): GitLogEntry => {
				const [hash, short, author_name, author_email, date, refs, subject, body = ''] = r.split('\x1f');
				return { hash, short, author_name, author_email, date, refs, subject, body: body.replace(/\n+$/, '') };
			});
		return { entries };
	},
});

function tagArgs(p: { name: string; message?: string; ref?: string }): string[] {
	return ['tag', ...(p.message !== undefined ? ['-a', `--message=${p.message}`] : []), p.name, ...(p.ref ? [p.ref] : [])];
}

const tag = defineOperation({
	params: z
		.object({
			name: refName('tag name').describe('Tag name.'),
			message: z.string().min(1).optional().describe('Make an annotated tag with this message.'),
			ref: refName('ref').optional().describe('Commit to tag (default HEAD).'),
			repo: repoParam,
		})
		.strict(),
	effect: 'external',
	summary: (p) => shownCommand(tagArgs(p), p.repo),
	touches: (p) => commands(tagArgs(p), p.repo),
	async run(p, ctx): Promise<{ name: string; hash: string; annotated: boolean }> {
		const repo = await openRepo(ctx, p.repo);
		await git(repo, tagArgs(p));
		const hash = (await git(repo, ['rev-parse', '--verify', `refs/tags/${p.name}^{commit}`])).trim();
		return { name: p.name, hash, annotated: p.message !== undefined };
	},
});

/** git operations on a repository inside the workspace, with the scrubbed environment and no editor or pager. */
export const gitHandler: Handler = {
	type: 'git',
	description: 'Inspect and record changes with git.',
	operations: { status, add, commit, branch, checkout, diff, log, tag },
};

