// `qo inbox` and `qo hooks` through the real binary, in real folders and a real git repository.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { tempDir } from '../../helpers/tmp';
import { runQo } from '../../helpers/qo';

const ROOT = join(__dirname, '..', '..', '..');
const QO = join(ROOT, 'bin', 'qo.js');
const HOME = tempDir('qo-home-');
const ENV: NodeJS.ProcessEnv = {
	...process.env,
	NO_COLOR: '1',
	HOME,
	XDG_CONFIG_HOME: HOME,
	GIT_CONFIG_NOSYSTEM: '1',
	PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
};

const qo = (ws: string, ...args: string[]) => runQo(ws, args, ENV);

function git(dir: string, ...args: string[]) {
	return spawnSync('git', args, { cwd: dir, encoding: 'utf8', env: ENV });
}

const workflow = (name: string) => JSON.stringify({ name, instructions: [{ id: 'w', type: 'file', operation: 'create', parameters: { path: `out/${name}.txt`, content: name } }] });

describe('qo inbox and qo hooks', function () {
	this.timeout(60_000);

	before(function () {
		if (!existsSync(join(ROOT, 'dist', 'cli.js'))) {
			const b = spawnSync(process.execPath, [join(ROOT, 'esbuild.config.mjs')], { cwd: ROOT, encoding: 'utf8' });
			assert.equal(b.status, 0, b.stderr);
		}
	});

	it('qo inbox --once runs what is in the inbox, prints a line per step of each file, and exits 1 when one did not succeed', () => {
		const ws = tempDir();
		const inbox = join(ws, '.quantum', 'inbox');
		mkdirSync(inbox, { recursive: true });
		writeFileSync(join(inbox, 'good.json'), workflow('good'));
		writeFileSync(join(inbox, 'bad.json'), '{"name": "bad",\n "instructions": [{"type": "file", "operation": "crate"}]}');
		const r = qo(ws, 'inbox', '--once');
		assert.equal(r.status, 1, r.stderr);
		assert.match(r.stdout, /· good\.json: picked up \(it was already in the inbox\)/);
		assert.match(r.stdout, /▶ good\.json: run \S+ started → done\/good\.json/);
		assert.match(r.stdout, /✔ good\.json: run \S+ succeeded/);
		assert.match(r.stdout, /✖ bad\.json: invalid → failed\/bad\.json\n {4}2:\d+ instructions\[0\]\.operation: unknown operation 'crate'/);
		assert.match(r.stdout, /2 files processed from \.quantum\/inbox; 1 did not succeed/);
		assert.equal(readFileSync(join(ws, 'out', 'good.txt'), 'utf8'), 'good');
		assert.equal(JSON.parse(readFileSync(join(inbox, 'done', 'good.result.json'), 'utf8')).run.status, 'succeeded');
		const empty = qo(ws, 'inbox', '--once');
		assert.equal(empty.status, 0);
		assert.match(empty.stdout, /Nothing to do: no workflow files in \.quantum\/inbox/);
	});

	it('qo inbox watches until Ctrl-C, running each file dropped meanwhile', async () => {
		const ws = tempDir();
		const child = spawn(process.execPath, [QO, 'inbox'], { cwd: ws, env: ENV });
		let out = '';
		child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
		child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
		const until = async (re: RegExp) => {
			for (let i = 0; i < 600 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 25));
			assert.match(out, re);
		};
		await until(/Watching \.quantum\/inbox for workflow files\. Ctrl-C to stop\./);
		writeFileSync(join(ws, '.quantum', 'inbox', 'dropped.json'), workflow('dropped'));
		await until(/✔ dropped\.json: run \S+ succeeded/);
		const code = new Promise<number | null>((resolve) => child.on('exit', resolve));
		child.kill('SIGINT');
		assert.equal(await code, 0);
		assert.match(out, /Stopping/);
		assert.equal(existsSync(join(ws, 'out', 'dropped.txt')), true);
		assert.equal(existsSync(join(ws, '.quantum', 'inbox', 'lock')), false, 'the folder’s lock is given back');
	});

	it('qo hooks install, list and remove; a commit drops the workflow for qo inbox to run', () => {
		const ws = tempDir();
		for (const args of [['init', '-q', '-b', 'main'], ['config', 'user.name', 'T'], ['config', 'user.email', 't@example.com'], ['config', 'commit.gpgsign', 'false']]) {
			assert.equal(git(ws, ...args).status, 0);
		}
		writeFileSync(join(ws, 'ci.json'), JSON.stringify({ name: 'ci', instructions: [{ id: 'mark', type: 'file', operation: 'create', parameters: { path: 'out/${vars.git_commit}.txt', content: '${vars.git_hook}' } }] }));
		const mine = '#!/bin/sh\necho "my own hook" >&2\n';
		writeFileSync(join(ws, '.git', 'hooks', 'post-commit'), mine, { mode: 0o755 });
		const bad = qo(ws, 'hooks', 'install', 'post-comit', '--workflow', 'ci.json');
		assert.equal(bad.status, 2);
		assert.match(bad.stderr, /unknown hook 'post-comit' \(did you mean 'post-commit'\?\)/);
		const install = qo(ws, 'hooks', 'install', 'post-commit', '--workflow', 'ci.json');
		assert.equal(install.status, 0, install.stderr);
		assert.match(install.stdout, /Installed post-commit in \.git\/hooks\/post-commit \(its own content is kept and still runs\)/);
		assert.match(qo(ws, 'hooks', 'install', 'post-commit', '--workflow', 'ci.json').stdout, /post-commit: already installed in \.git\/hooks\/post-commit, unchanged/);
		assert.match(qo(ws, 'hooks', 'list').stdout, /post-commit {2}→ ci\.json {2}\.git\/hooks\/post-commit, with content of its own/);
		const commit = git(ws, 'commit', '-q', '--allow-empty', '-m', 'one');
		assert.equal(commit.status, 0);
		assert.match(commit.stderr, /quantum-orchestrator: post-commit \w{7}: the orchestrator is not running: put ci\.json in the inbox/);
		assert.match(commit.stderr, /my own hook/);
		const sha = git(ws, 'rev-parse', 'HEAD').stdout.trim();
		const run = qo(ws, 'inbox', '--once');
		assert.equal(run.status, 0, run.stdout + run.stderr);
		assert.equal(readFileSync(join(ws, 'out', `${sha}.txt`), 'utf8'), 'post-commit');
		const removed = qo(ws, 'hooks', 'remove');
		assert.match(removed.stdout, /Removed post-commit: \.git\/hooks\/post-commit is as it was before/);
		assert.equal(readFileSync(join(ws, '.git', 'hooks', 'post-commit'), 'utf8'), mine);
		assert.match(qo(ws, 'hooks', 'list').stdout, /No orchestrator hooks in \.git\/hooks/);
		const outside = qo(tempDir(), 'hooks', 'list');
		assert.equal(outside.status, 2);
		assert.match(outside.stderr, /is not in a git repository/);
	});
});
