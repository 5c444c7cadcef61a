import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SandboxError, StepError } from '../../../src/core/errors';
import { gitHandler } from '../../../src/core/handlers/git';
import type { GitCommitOutput, GitLogEntry, GitStatusOutput } from '../../../src/core/handlers/git';
import { tempDir } from '../../helpers/tmp';
import { describeOp, makeContext, paramsError, runOp } from './stepContext';
import type { TestContext } from './stepContext';

/** Runs git in dir with identity and signing set per command, never from global config. */
function sh(dir: string, ...args: string[]): string {
	return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', ...args], {
		cwd: dir,
		encoding: 'utf8',
		env: { ...process.env, GIT_DIR: undefined, GIT_WORK_TREE: undefined },
	});
}

function initRepo(dir: string): void {
	sh(dir, 'init', '-q', '-b', 'main');
	// Repository config only: the handler's own commits need an identity, and must not sign or run global hooks.
	sh(dir, 'config', 'user.name', 'Test');
	sh(dir, 'config', 'user.email', 'test@example.com');
	sh(dir, 'config', 'commit.gpgsign', 'false');
	sh(dir, 'config', 'tag.gpgsign', 'false');
}

describe('git handler', () => {
	let ws: string;
	let ctx: TestContext;
	const git = (op: string, raw: Record<string, unknown> = {}, c: TestContext = ctx) => runOp(gitHandler, op, raw, c);

	beforeEach(async () => {
		ws = tempDir('qo-git-');
		initRepo(ws);
		ctx = await makeContext(ws);
	});

	async function commitFile(name: string, content: string, message: string): Promise<GitCommitOutput> {
		writeFileSync(join(ws, name), content);
		await git('add', { paths: name });
		return (await git('commit', { message })) as GitCommitOutput;
	}

	it('status reports the branch and untracked, staged and modified files', async () => {
		const clean = (await git('status')) as GitStatusOutput;
		assert.equal(clean.branch, 'main');
		assert.equal(clean.clean, true);
		await commitFile('a.txt', 'one\n', 'first');
		writeFileSync(join(ws, 'a.txt'), 'two\n');
		writeFileSync(join(ws, 'new.txt'), 'n');
		writeFileSync(join(ws, 'staged.txt'), 's');
		sh(ws, 'add', 'staged.txt');
		const s = (await git('status')) as GitStatusOutput;
		assert.equal(s.clean, false);
		assert.deepEqual(s.modified, ['a.txt']);
		assert.deepEqual(s.not_added, ['new.txt']);
		assert.deepEqual(s.staged, ['staged.txt']);
		assert.ok(s.files.some((f) => f.path === 'a.txt' && f.working_dir === 'M'));
		assert.doesNotThrow(() => JSON.stringify(s));
	});

	it('add stages the given paths, and commit records them with hash, branch and change counts', async () => {
		writeFileSync(join(ws, 'a.txt'), 'one\ntwo\n');
		mkdirSync(join(ws, 'src'));
		writeFileSync(join(ws, 'src', 'b.ts'), 'x\n');
		assert.deepEqual(await git('add', { paths: ['a.txt', 'src'] }), { paths: ['a.txt', 'src'] });
		const c = (await git('commit', { message: 'Add files\n\nWith a body.' })) as GitCommitOutput;
		assert.match(c.hash, /^[0-9a-f]{40}$/);
		assert.equal(c.hash, sh(ws, 'rev-parse', 'HEAD').trim());
		assert.ok(c.hash.startsWith(c.short));
		assert.equal(c.branch, 'main');
		assert.equal(c.summary, 'Add files');
		assert.deepEqual(c.changes, { files: 2, insertions: 3, deletions: 0 });
		assert.equal(sh(ws, 'log', '-1', '--format=%B').trim(), 'Add files\n\nWith a body.');
	});

	it('commit with all stages tracked changes first', async () => {
		await commitFile('a.txt', 'one\n', 'first');
		writeFileSync(join(ws, 'a.txt'), 'changed\n');
		const c = (await git('commit', { message: 'change', all: true })) as GitCommitOutput;
		assert.deepEqual(c.changes, { files: 1, insertions: 1, deletions: 1 });
	});

	it('commit with nothing staged fails clearly, unless allow_empty', async () => {
		await commitFile('a.txt', 'one\n', 'first');
		await assert.rejects(git('commit', { message: 'nothing' }), (err: unknown) => {
			assert.ok(StepError.is(err, 'failed'));
			assert.match(err.message, /nothing to commit/);
			return true;
		});
		const c = (await git('commit', { message: 'empty', allow_empty: true })) as GitCommitOutput;
		assert.deepEqual(c.changes, { files: 0, insertions: 0, deletions: 0 });
	});

	it('commit in a repository without commits and nothing staged fails clearly', async () => {
		await assert.rejects(git('commit', { message: 'nothing' }), /nothing to commit/);
	});

	it('branch creates a branch, and switches to it with checkout: true', async () => {
		const first = await commitFile('a.txt', 'one\n', 'first');
		assert.deepEqual(await git('branch', { name: 'feature' }), { name: 'feature', checked_out: false, hash: first.hash });
		assert.equal(((await git('status')) as GitStatusOutput).branch, 'main');
		await git('branch', { name: 'topic', checkout: true });
		assert.equal(((await git('status')) as GitStatusOutput).branch, 'topic');
		await assert.rejects(git('branch', { name: 'feature' }), (err: unknown) => StepError.is(err, 'failed') && /already exists/.test(err.message));
	});

	it('checkout switches branches, creates one with create: true, and detaches at a commit', async () => {
		const first = await commitFile('a.txt', 'one\n', 'first');
		await commitFile('a.txt', 'two\n', 'second');
		assert.deepEqual(await git('checkout', { ref: 'side', create: true }), { ref: 'side', branch: 'side', hash: sh(ws, 'rev-parse', 'HEAD').trim(), detached: false });
		const back = (await git('checkout', { ref: 'main' })) as { branch: string };
		assert.equal(back.branch, 'main');
		const detached = (await git('checkout', { ref: first.hash })) as { detached: boolean; hash: string };
		assert.equal(detached.detached, true);
		assert.equal(detached.hash, first.hash);
		await assert.rejects(git('checkout', { ref: 'no-such-branch' }), (err: unknown) => StepError.is(err, 'failed'));
	});

	it('diff outputs the patch text of working tree, staged or ref changes, optionally limited to paths', async () => {
		await commitFile('a.txt', 'old\n', 'first');
		await commitFile('b.txt', 'b\n', 'second');
		writeFileSync(join(ws, 'a.txt'), 'new\n');
		writeFileSync(join(ws, 'b.txt'), 'b2\n');
		const worktree = (await git('diff')) as string;
		assert.match(worktree, /^-old$/m);
		assert.match(worktree, /^\+new$/m);
		assert.doesNotMatch(worktree, /\x1b\[/, 'no colour codes');
		const limited = (await git('diff', { paths: 'a.txt' })) as string;
		assert.match(limited, /a\.txt/);
		assert.doesNotMatch(limited, /b\.txt/);
		assert.equal(await git('diff', { cached: true }), '');
		sh(ws, 'add', 'a.txt');
		assert.match((await git('diff', { cached: true })) as string, /^\+new$/m);
		assert.match((await git('diff', { ref: 'HEAD~1', paths: ['b.txt'] })) as string, /^\+b2$/m);
		assert.match((await git('diff', { stat: true })) as string, /b\.txt \| 2 \+-/);
	});

	it('log lists entries newest first, limited by max_count', async () => {
		await commitFile('a.txt', '1', 'first');
		await commitFile('a.txt', '2', 'second\n\nbody line');
		const { entries } = (await git('log')) as { entries: GitLogEntry[] };
		assert.deepEqual(
			entries.map((e) => [e.subject, e.body, e.author_name, e.author_email]),
			[
				['second', 'body line', 'Test', 'test@example.com'],
				['first', '', 'Test', 'test@example.com'],
			],
		);
		assert.match(entries[0].hash, /^[0-9a-f]{40}$/);
		assert.match(entries[0].refs, /HEAD -> main/);
		assert.ok(!Number.isNaN(Date.parse(entries[0].date)));
		assert.equal(((await git('log', { max_count: 1 })) as { entries: GitLogEntry[] }).entries.length, 1);
	});

	it('log of a repository without commits is empty', async () => {
		assert.deepEqual(await git('log'), { entries: [] });
	});

	it('tag makes lightweight and annotated tags', async () => {
		const c = await commitFile('a.txt', '1', 'first');
		assert.deepEqual(await git('tag', { name: 'v1' }), { name: 'v1', hash: c.hash, annotated: false });
		assert.deepEqual(await git('tag', { name: 'v1.1', message: 'Release 1.1' }), { name: 'v1.1', hash: c.hash, annotated: true });
		assert.equal(sh(ws, 'cat-file', '-t', 'v1').trim(), 'commit');
		assert.equal(sh(ws, 'cat-file', '-t', 'v1.1').trim(), 'tag');
	});

	it('fails with a clear error when the directory is not a git repository', async () => {
		const plain = tempDir('qo-nogit-');
		const c = await makeContext(plain);
		await assert.rejects(git('status', {}, c), (err: unknown) => {
			assert.ok(StepError.is(err, 'not-found'));
			assert.match(err.message, /the workspace is not a git repository/);
			assert.equal(err.permanent, true);
			return true;
		});
	});

	it('refuses a repository whose top level is outside the workspace', async () => {
		const parent = tempDir('qo-gitparent-');
		initRepo(parent);
		mkdirSync(join(parent, 'ws'));
		const c = await makeContext(join(parent, 'ws'));
		await assert.rejects(git('status', {}, c), (err: unknown) => SandboxError.is(err, 'outside') && /outside the workspace/.test(err.message));
	});

	it('works on a nested repository given by repo, with paths relative to the workspace', async () => {
		const nested = join(ws, 'pkg');
		mkdirSync(nested);
		initRepo(nested);
		writeFileSync(join(nested, 'x.txt'), 'x');
		assert.deepEqual(await git('add', { paths: 'pkg/x.txt', repo: 'pkg' }), { paths: ['x.txt'] });
		const c = (await git('commit', { message: 'nested', repo: 'pkg' })) as GitCommitOutput;
		assert.equal(c.hash, sh(nested, 'rev-parse', 'HEAD').trim());
	});

	it('refuses paths and repos outside the workspace', async () => {
		await assert.rejects(git('add', { paths: '../x' }), (err: unknown) => SandboxError.is(err, 'outside'));
		await assert.rejects(git('status', { repo: '..' }), (err: unknown) => SandboxError.is(err, 'outside'));
	});

	it('refuses refs and names that would be read as options', () => {
		assert.ok(paramsError(gitHandler, 'diff', { ref: '--output=/tmp/x' }));
		assert.ok(paramsError(gitHandler, 'checkout', { ref: '-f' }));
		assert.ok(paramsError(gitHandler, 'branch', { name: '--delete' }));
		assert.ok(paramsError(gitHandler, 'tag', { name: 'a b' }));
		assert.ok(paramsError(gitHandler, 'commit', { message: '' }));
		assert.equal(paramsError(gitHandler, 'log', { ref: 'main..HEAD~1' }), undefined);
	});

	it('ignores the host editor, pager, askpass and GIT_DIR, and works with a message that starts with "-"', async () => {
		const c = await makeContext(ws, {
			env: { ...process.env, EDITOR: 'false', PAGER: 'false', GIT_PAGER: 'false', GIT_ASKPASS: '/nope', GIT_DIR: '/nonexistent' },
		});
		writeFileSync(join(ws, 'a.txt'), 'a');
		await git('add', { paths: '.' }, c);
		const commit = (await git('commit', { message: '--amend is not an option here' }, c)) as GitCommitOutput;
		assert.equal(commit.summary, '--amend is not an option here');
		assert.equal(((await git('log', {}, c)) as { entries: GitLogEntry[] }).entries[0].subject, '--amend is not an option here');
	});

	it('stops when the step is cancelled', async () => {
		const ac = new AbortController();
		const c = await makeContext(ws, { signal: ac.signal });
		ac.abort();
		await assert.rejects(git('status', {}, c), (err: unknown) => StepError.is(err, 'cancelled'));
	});

	it('describes each operation as the git command it runs', async () => {
		const d = await describeOp(gitHandler, 'commit', { message: 'Fix it', all: true }, ws);
		assert.equal(d.summary, "git commit '--message=Fix it' --all");
		assert.deepEqual(d.touches?.commands, ["git commit '--message=Fix it' --all"]);
		assert.equal(d.effect, 'external');
		assert.equal((await describeOp(gitHandler, 'add', { paths: ['a', 'b'], repo: 'pkg' }, ws)).summary, 'git add -- a b (in pkg)');
		for (const op of Object.keys(gitHandler.operations)) assert.equal(gitHandler.operations[op].effect, 'external');
	});
});
