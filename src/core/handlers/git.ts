// git (through simple-git): status, add, commit, branch, checkout, diff, log, tag on a repository inside the workspace.
import type { StatusResult } from 'simple-git';
import { z } from 'zod';
import { StepError } from '../errors';
import type { Handler } from './types';
import { defineOperation } from './types';
import { lastLines } from './shared';
import { branchArgs, checkoutArgs, commands, commitArgs, diffArgs, logArgs, pathsParam, refName, repoParam, shownCommand, tagArgs, toArray } from './gitArgs';
import { failure, git, head, openRepo, pathspecs } from './gitRepo';

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
