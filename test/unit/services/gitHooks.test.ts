// Git hooks in real repositories: real `git commit` and `git push` fire them; a loopback server stands in for the API.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { createEngine } from '../../../src/core/engine';
import { HookError, installHooks, listHooks, locateHooks, removeHooks } from '../../../src/core/services/hooks/gitHooks';
import { Inbox } from '../../../src/core/services/inbox/inbox';
import type { InboxResult } from '../../../src/core/services/inbox/inboxResult';
import { DecisionBroker } from '../../../src/core/services/triggers/decisionBroker';
import { Dispatcher } from '../../../src/core/services/triggers/dispatcher';
import { tempDir } from '../../helpers/tmp';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => T | undefined | false, ms = 15_000): Promise<T> {
	const until = Date.now() + ms;
	for (;;) {
		const v = fn();
		if (v) return v;
		if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
		await sleep(25);
	}
}

/** git with no global or system configuration (no user hooksPath, no signing), and the test's node first on PATH. */
const HOME = tempDir('qo-home-');
const ENV: NodeJS.ProcessEnv = {
	...process.env,
	HOME,
	XDG_CONFIG_HOME: HOME,
	GIT_CONFIG_NOSYSTEM: '1',
	GIT_DIR: undefined,
	GIT_WORK_TREE: undefined,
	GIT_INDEX_FILE: undefined,
	PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
};

function git(dir: string, ...args: string[]): { status: number | null; stdout: string; stderr: string; ms: number } {
	const t0 = Date.now();
	const r = spawnSync('git', args, { cwd: dir, encoding: 'utf8', env: ENV });
	return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

/** As git(), without blocking the event loop: for commands whose hooks talk to a server in this process. */
function gitAsync(dir: string, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string; ms: number }> {
	const t0 = Date.now();
	return new Promise((resolve, reject) => {
		const child = spawn('git', args, { cwd: dir, env: ENV });
		let stdout = '';
		let stderr = '';
		child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
		child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
		child.on('error', reject);
		child.on('close', (status) => resolve({ status, stdout, stderr, ms: Date.now() - t0 }));
	});
}

function repo(): string {
	const dir = tempDir('qo-hooks-');
	for (const args of [
		['init', '-q', '-b', 'main'],
		['config', 'user.name', 'Test'],
		['config', 'user.email', 'test@example.com'],
		['config', 'commit.gpgsign', 'false'],
	]) {
		assert.equal(git(dir, ...args).status, 0);
	}
	writeFileSync(join(dir, '.gitignore'), '.quantum/\nout/\n');
	// Writes a file named after the commit: proof the workflow ran, and for which event.
	writeFileSync(
		join(dir, 'ci.workflow.json'),
		JSON.stringify({ name: 'ci', instructions: [{ id: 'mark', type: 'file', operation: 'create', parameters: { path: 'out/${vars.git_hook}-${vars.git_commit}.txt', content: 'ran' } }] }, null, 2),
	);
	assert.equal(git(dir, 'add', '.').status, 0);
	assert.equal(git(dir, 'commit', '-q', '-m', 'initial').status, 0);
	return dir;
}

const head = (dir: string) => git(dir, 'rev-parse', 'HEAD').stdout.trim();
const hookFile = (dir: string, hook: string) => join(dir, '.git', 'hooks', hook);

interface Received {
	method?: string;
	url?: string;
	headers: IncomingHttpHeaders;
	body: string;
}

/** A loopback stand-in for `qo serve`'s API, answering with `answer`; api.json in `ws` points at it. */
async function fakeApi(ws: string, answer: (req: Received) => { status: number; body?: unknown } | undefined): Promise<{ server: Server; received: Received[]; close(): Promise<void> }> {
	const received: Received[] = [];
	const server = createServer((req, res) => {
		let body = '';
		req.setEncoding('utf8');
		req.on('data', (c: string) => (body += c));
		req.on('end', () => {
			const r: Received = { method: req.method, url: req.url, headers: req.headers, body };
			received.push(r);
			const a = answer(r);
			if (!a) return; // never answers
			res.writeHead(a.status, { 'Content-Type': 'application/json' });
			res.end(JSON.stringify(a.body ?? {}));
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const port = (server.address() as AddressInfo).port;
	mkdirSync(join(ws, '.quantum'), { recursive: true });
	writeFileSync(join(ws, '.quantum', 'api.json'), JSON.stringify({ port, token: 'secret-token-123' }));
	return {
		server,
		received,
		close: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}

describe('git hooks', function () {
	this.timeout(60_000);

	it('install keeps an existing hook’s content (which still runs), is idempotent, and remove restores it byte for byte', async () => {
		const originals = [
			'#!/bin/bash\nset -e\necho mine >> hook.log\nexit 0\n',
			'#!/bin/sh -e\necho no-final-newline >> hook.log',
			'#!/bin/sh',
			'echo no-shebang >> hook.log\n',
			'',
		];
		for (const original of originals) {
			const ws = repo();
			const file = hookFile(ws, 'post-commit');
			writeFileSync(file, original);
			chmodSync(file, 0o750);
			const [installed] = await installHooks({ workspace: ws, env: ENV, hooks: ['post-commit'], workflow: 'ci.workflow.json' });
			assert.equal(installed.action, 'installed');
			assert.equal(installed.keptExisting, original !== '');
			const text = readFileSync(file, 'utf8');
			assert.match(text, /# >>> quantum-orchestrator >>>\n[\s\S]*# <<< quantum-orchestrator <<<\n/);
			if (original.startsWith('#!')) assert.ok(text.startsWith(original.split('\n')[0]), 'the #! line stays first');
			assert.equal(statSync(file).mode & 0o777, 0o750, 'mode kept');
			const [again] = await installHooks({ workspace: ws, env: ENV, hooks: ['post-commit'], workflow: 'ci.workflow.json' });
			assert.equal(again.action, 'unchanged');
			assert.equal(readFileSync(file, 'utf8'), text);
			const c = git(ws, 'commit', '-q', '--allow-empty', '-m', 'two');
			assert.equal(c.status, 0, c.stderr);
			assert.ok(existsSync(join(ws, '.quantum', 'inbox', `post-commit-${head(ws)}.json`)), `our block ran (${JSON.stringify(original)})`);
			if (original.includes('hook.log')) assert.ok(existsSync(join(ws, 'hook.log')), 'and so did the hook’s own content');
			const [removed] = await removeHooks({ workspace: ws, env: ENV, hooks: ['post-commit'] });
			assert.equal(removed.action, 'removed');
			assert.equal(readFileSync(file, 'utf8'), original, `restored exactly: ${JSON.stringify(original)}`);
			assert.equal(statSync(file).mode & 0o777, 0o750);
			assert.deepEqual(await listHooks({ workspace: ws, env: ENV }), []);
		}
	});

	it('a hook file it created is deleted on removal; list reports what is installed; a new workflow updates the block', async () => {
		const ws = repo();
		writeFileSync(join(ws, 'other.json'), '{"name": "other", "instructions": []}');
		const made = await installHooks({ workspace: ws, env: ENV, hooks: ['post-commit', 'pre-push'], workflow: 'ci.workflow.json' });
		assert.deepEqual(made.map((c) => [c.hook, c.action, c.keptExisting]), [
			['post-commit', 'installed', false],
			['pre-push', 'installed', false],
		]);
		assert.ok(statSync(hookFile(ws, 'pre-push')).mode & 0o100, 'executable');
		const [updated] = await installHooks({ workspace: ws, env: ENV, hooks: ['pre-push'], workflow: './other.json' });
		assert.equal(updated.action, 'updated');
		assert.deepEqual(
			(await listHooks({ workspace: ws, env: ENV })).map((h) => [h.hook, h.workflow, h.blocking, h.otherContent]),
			[
				['post-commit', 'ci.workflow.json', false, false],
				['pre-push', 'other.json', false, false],
			],
		);
		const removed = await removeHooks({ workspace: ws, env: ENV });
		assert.deepEqual(removed.map((c) => [c.hook, c.action, c.deletedFile]), [
			['post-commit', 'removed', true],
			['pre-push', 'removed', true],
		]);
		assert.equal(existsSync(hookFile(ws, 'post-commit')), false);
		assert.equal(existsSync(hookFile(ws, 'pre-push')), false);
		assert.deepEqual((await removeHooks({ workspace: ws, env: ENV, hooks: ['post-merge'] })).map((c) => c.action), ['not-installed']);
	});

	it('refuses what it must not touch: unknown hooks, non-shell, non-executable or linked hooks, blocking post- hooks, missing workflows', async () => {
		const ws = repo();
		const install = (hooks: string[], extra: object = {}) => installHooks({ workspace: ws, env: ENV, hooks, workflow: 'ci.workflow.json', ...extra });
		await assert.rejects(install(['post-comit']), (e: unknown) => HookError.is(e, 'unknown-hook') && /did you mean 'post-commit'/.test(e.message));
		writeFileSync(hookFile(ws, 'post-merge'), '#!/usr/bin/env python3\nprint("hi")\n', { mode: 0o755 });
		await assert.rejects(install(['post-merge']), (e: unknown) => HookError.is(e, 'unsupported') && /python3 script/.test(e.message));
		writeFileSync(hookFile(ws, 'post-checkout'), '#!/bin/sh\necho off\n', { mode: 0o644 });
		await assert.rejects(install(['post-checkout']), /not executable, so git ignores it/);
		symlinkSync(join(ws, 'ci.workflow.json'), hookFile(ws, 'post-rewrite'));
		await assert.rejects(install(['post-rewrite']), /symbolic link/);
		await assert.rejects(install(['post-commit'], { blocking: true }), (e: unknown) => HookError.is(e, 'blocking'));
		await assert.rejects(installHooks({ workspace: ws, env: ENV, hooks: ['post-commit'], workflow: 'nope.json' }), /does not exist/);
		await assert.rejects(installHooks({ workspace: ws, env: ENV, hooks: ['post-commit'], workflow: '../x.json' }), /outside the workspace/);
		const plain = tempDir();
		writeFileSync(join(plain, 'x.json'), '{}');
		await assert.rejects(installHooks({ workspace: plain, env: ENV, hooks: ['post-commit'], workflow: 'x.json' }), (e: unknown) => HookError.is(e, 'not-a-repo') && /not in a git repository/.test(e.message));
		assert.equal(readFileSync(hookFile(ws, 'post-merge'), 'utf8'), '#!/usr/bin/env python3\nprint("hi")\n', 'untouched');
	});

	it('a real commit fires post-commit: with no orchestrator the workflow lands in the inbox named by the commit; a watcher runs it', async () => {
		const ws = repo();
		await installHooks({ workspace: ws, env: ENV, hooks: ['post-commit'], workflow: 'ci.workflow.json' });
		const c = git(ws, 'commit', '-q', '--allow-empty', '-m', 'second');
		assert.equal(c.status, 0);
		const first = head(ws);
		assert.match(c.stderr, new RegExp(`^quantum-orchestrator: post-commit ${first.slice(0, 7)}: the orchestrator is not running: put ci.workflow.json in the inbox as \\.quantum/inbox/post-commit-${first}\\.json`));
		assert.equal(c.stderr.trim().split('\n').length, 1, 'one line');
		const dropped = JSON.parse(readFileSync(join(ws, '.quantum', 'inbox', `post-commit-${first}.json`), 'utf8'));
		assert.deepEqual(dropped.variables, { git_hook: 'post-commit', git_commit: first });
		assert.deepEqual(readdirSync(join(ws, '.quantum', 'inbox')), [`post-commit-${first}.json`], 'no temporary file left');

		const broker = new DecisionBroker();
		const engine = await createEngine({ workspace: ws, prompter: broker });
		const dispatcher = new Dispatcher({ engine, broker });
		await dispatcher.open();
		const inbox = new Inbox({ engine, dispatcher, stabilityMs: 200, pollMs: 40 });
		assert.deepEqual(await inbox.start(), [`post-commit-${first}.json`]);
		const done = (sha: string) => () => {
			const f = join(ws, '.quantum', 'inbox', 'done', `post-commit-${sha}.result.json`);
			const r = existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as InboxResult) : undefined;
			return r?.run ? r : undefined;
		};
		assert.equal((await waitFor('the dropped workflow to run', done(first))).run?.status, 'succeeded');
		assert.equal(readFileSync(join(ws, 'out', `post-commit-${first}.txt`), 'utf8'), 'ran');
		// With the watcher running, the next commit's drop is picked up at once.
		assert.equal(git(ws, 'commit', '-q', '--allow-empty', '-m', 'third').status, 0);
		const second = head(ws);
		assert.equal((await waitFor('the second run', done(second))).run?.status, 'succeeded');
		assert.ok(existsSync(join(ws, 'out', `post-commit-${second}.txt`)));
		assert.equal((await engine.runs()).length, 2);
		await inbox.close();
		await dispatcher.dispose();
		await inbox.dispose();
	});

	it('with api.json pointing at the API the hook POSTs the workflow with the bearer token and an Idempotency-Key', async () => {
		const ws = repo();
		await installHooks({ workspace: ws, env: ENV, hooks: ['post-commit'], workflow: 'ci.workflow.json' });
		const api = await fakeApi(ws, () => ({ status: 202, body: { run_id: 'run-42' } }));
		const c = await gitAsync(ws, 'commit', '-q', '--allow-empty', '-m', 'second');
		await api.close();
		const sha = head(ws);
		assert.equal(c.status, 0);
		assert.equal(c.stderr.trim(), `quantum-orchestrator: post-commit ${sha.slice(0, 7)}: submitted ci.workflow.json as run run-42`);
		assert.equal(api.received.length, 1);
		const [r] = api.received;
		assert.equal(r.method, 'POST');
		assert.equal(r.url, '/v1/runs');
		assert.equal(r.headers.authorization, 'Bearer secret-token-123');
		assert.equal(r.headers['idempotency-key'], `post-commit:${sha}`);
		assert.match(String(r.headers['content-type']), /^application\/json/);
		const { workflow: body, origin } = JSON.parse(r.body);
		assert.equal(origin, `post-commit ${sha.slice(0, 12)}`, 'the API envelope says where it came from');
		assert.equal(body.name, 'ci');
		assert.equal(body.instructions[0].id, 'mark');
		assert.deepEqual(body.variables, { git_hook: 'post-commit', git_commit: sha });
		assert.equal(existsSync(join(ws, '.quantum', 'inbox')), false, 'nothing dropped into the inbox');
	});

	it('an API that says no is reported; connection refused drops into the inbox; no answer never holds git for long', async () => {
		const ws = repo();
		await installHooks({ workspace: ws, env: ENV, hooks: ['post-commit'], workflow: 'ci.workflow.json' });
		const refusing = await fakeApi(ws, () => ({ status: 401, body: { error: 'missing or wrong bearer token' } }));
		const denied = await gitAsync(ws, 'commit', '-q', '--allow-empty', '-m', 'denied');
		await refusing.close();
		assert.equal(denied.status, 0);
		assert.match(denied.stderr, /the orchestrator did not take ci\.workflow\.json: HTTP 401 missing or wrong bearer token/);

		// api.json left behind by an orchestrator that has stopped: nothing listens on its port any more.
		const refused = await gitAsync(ws, 'commit', '-q', '--allow-empty', '-m', 'refused');
		assert.equal(refused.status, 0);
		assert.match(refused.stderr, /the orchestrator is not running \(nothing listens on port \d+\): put ci\.workflow\.json in the inbox/);
		assert.ok(existsSync(join(ws, '.quantum', 'inbox', `post-commit-${head(ws)}.json`)));

		const silent = await fakeApi(ws, () => undefined);
		const slow = await gitAsync(ws, 'commit', '-q', '--allow-empty', '-m', 'silent');
		await silent.close();
		assert.equal(slow.status, 0);
		assert.ok(slow.ms < 5000, `git waited ${slow.ms} ms`);
		assert.match(slow.stderr, /(no answer|ETIMEDOUT).*ci\.workflow\.json may not have been submitted/);
		assert.equal(silent.received.length, 1);
		assert.equal(existsSync(join(ws, '.quantum', 'inbox', `post-commit-${head(ws)}.json`)), false, 'not dropped: the orchestrator may have it');
	});

	it('a blocking pre-push waits for the run and stops the push when it fails; non-blocking it never stops one', async () => {
		const ws = repo();
		const remote = tempDir('qo-remote-');
		assert.equal(git(remote, 'init', '-q', '--bare').status, 0);
		assert.equal(git(ws, 'remote', 'add', 'origin', remote).status, 0);
		await installHooks({ workspace: ws, env: ENV, hooks: ['pre-push'], workflow: 'ci.workflow.json', blocking: true });
		let final = 'failed';
		let polls = 0;
		const api = await fakeApi(ws, (r) => {
			if (r.method === 'POST') return { status: 201, body: { run_id: 'run-7' } };
			polls++;
			return { status: 200, body: polls % 2 ? { run_id: 'run-7', status: 'running' } : { run_id: 'run-7', status: final, message: final === 'failed' ? 'step lint failed' : undefined } };
		});
		const stopped = await gitAsync(ws, 'push', '-q', 'origin', 'main');
		assert.notEqual(stopped.status, 0, 'push stopped');
		assert.match(stopped.stderr, /quantum-orchestrator: pre-push \w{7}: run run-7 of ci\.workflow\.json failed: step lint failed/);
		assert.equal(api.received[1].url, '/v1/runs/run-7');
		assert.equal(api.received[1].headers.authorization, 'Bearer secret-token-123');
		final = 'succeeded';
		const pushed = await gitAsync(ws, 'push', '-q', 'origin', 'main');
		assert.equal(pushed.status, 0, pushed.stderr);
		assert.match(pushed.stderr, /run run-7 of ci\.workflow\.json succeeded/);
		await api.close();
		// Blocking and no orchestrator: the push is stopped, saying how to go on.
		assert.equal((await gitAsync(ws, 'commit', '-q', '--allow-empty', '-m', 'more')).status, 0);
		const offline = await gitAsync(ws, 'push', '-q', 'origin', 'main');
		assert.notEqual(offline.status, 0);
		assert.match(offline.stderr, /not running.*--no-verify/);
		// Installed again without blocking, the same failing answer never stops a push.
		await installHooks({ workspace: ws, env: ENV, hooks: ['pre-push'], workflow: 'ci.workflow.json' });
		const relaxed = await gitAsync(ws, 'push', '-q', 'origin', 'main');
		assert.equal(relaxed.status, 0, relaxed.stderr);
	});

	it('linked worktrees share the main hooks folder; core.hooksPath is obeyed', async () => {
		const ws = repo();
		const wt = join(tempDir('qo-wt-'), 'tree');
		assert.equal(git(ws, 'worktree', 'add', '-q', '-b', 'side', wt).status, 0);
		assert.equal((await locateHooks({ workspace: wt, env: ENV })).dir, join(ws, '.git', 'hooks'));
		await installHooks({ workspace: wt, env: ENV, hooks: ['post-commit'], workflow: 'ci.workflow.json' });
		assert.ok(existsSync(hookFile(ws, 'post-commit')));
		assert.equal(git(wt, 'commit', '-q', '--allow-empty', '-m', 'in the worktree').status, 0);
		assert.ok(existsSync(join(wt, '.quantum', 'inbox', `post-commit-${head(wt)}.json`)), 'dropped into the worktree’s own inbox');
		await removeHooks({ workspace: wt, env: ENV });

		assert.equal(git(ws, 'config', 'core.hooksPath', '.githooks').status, 0);
		const [c] = await installHooks({ workspace: ws, env: ENV, hooks: ['post-commit'], workflow: 'ci.workflow.json' });
		assert.equal(c.file, join(ws, '.githooks', 'post-commit'));
		assert.equal(git(ws, 'commit', '-q', '--allow-empty', '-m', 'hooksPath').status, 0);
		assert.ok(existsSync(join(ws, '.quantum', 'inbox', `post-commit-${head(ws)}.json`)));
	});

	it('a workspace in a subfolder of the repository: the hook finds its workflow, state and inbox there', async () => {
		const top = repo();
		const ws = join(top, 'packages', 'app');
		mkdirSync(ws, { recursive: true });
		writeFileSync(join(ws, 'app.workflow.json'), '{"name": "app", "instructions": []}');
		await installHooks({ workspace: ws, env: ENV, hooks: ['post-commit'], workflow: 'app.workflow.json' });
		assert.match(readFileSync(hookFile(top, 'post-commit'), 'utf8'), /QO_WORKSPACE='packages\/app'/);
		assert.equal(git(top, 'commit', '-q', '--allow-empty', '-m', 'sub').status, 0);
		assert.ok(existsSync(join(ws, '.quantum', 'inbox', `post-commit-${head(top)}.json`)));
	});
});
