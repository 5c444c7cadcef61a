// `qo serve` as a real child process: it starts, a real HTTP request runs a workflow, SIGINT stops it cleanly (running
// runs finish, api.json goes), a second SIGINT exits at once; the token is never printed.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { httpCall, until } from '../../helpers/apiClient';
import { killQuietly } from '../../helpers/processes';
import { tempDir } from '../../helpers/tmp';

const ROOT = join(__dirname, '..', '..', '..');
const QO = join(ROOT, 'bin', 'qo.js');

interface Served {
	child: ChildProcessWithoutNullStreams;
	out: () => string;
	err: () => string;
	exited: Promise<number | null>;
}

function serve(ws: string, ...args: string[]): Served {
	const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
	for (const k of ['QO_LLM_BASE_URL', 'OPENAI_BASE_URL']) delete env[k];
	const child = spawn(process.execPath, [QO, 'serve', ...args], { cwd: ws, env });
	let out = '';
	let err = '';
	child.stdout.on('data', (d) => (out += d));
	child.stderr.on('data', (d) => (err += d));
	const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
	return { child, out: () => out, err: () => err, exited };
}

async function freePort(): Promise<number> {
	const s = createServer();
	await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
	const port = (s.address() as { port: number }).port;
	await new Promise((r) => s.close(r));
	return port;
}

describe('qo serve', function () {
	this.timeout(150_000);
	const children: number[] = [];

	before(function () {
		if (!existsSync(join(ROOT, 'dist', 'cli.js'))) {
			const b = spawnSync(process.execPath, [join(ROOT, 'esbuild.config.mjs')], { cwd: ROOT, encoding: 'utf8' });
			assert.equal(b.status, 0, b.stderr);
		}
	});
	after(() => killQuietly(children));

	it('starts, runs a workflow a real HTTP request sends, and stops cleanly on SIGINT after the running run finished', async () => {
		const ws = tempDir('qo-serve-');
		const port = await freePort();
		const s = serve(ws, '--port', String(port));
		children.push(s.child.pid as number);
		await until('qo serve to be up', () => /Serving /.exec(s.out()), 45_000);
		assert.match(s.out(), new RegExp(`127\\.0\\.0\\.1:${port} \\(port and token in \\.quantum/api\\.json`));
		const file = join(ws, '.quantum', 'api.json');
		const { token, port: filePort } = JSON.parse(readFileSync(file, 'utf8'));
		assert.equal(filePort, port);
		assert.equal(statSync(file).mode & 0o777, 0o600);

		const wf = { name: 'served', instructions: [{ id: 'write', type: 'file', operation: 'create', parameters: { path: 'hello.txt', content: 'from the API\n' } }] };
		const r = await httpCall(port, 'POST', '/v1/runs', { token, body: wf });
		assert.equal(r.status, 202, r.text);
		const done = await until('the run to succeed', async () => {
			const x = await httpCall(port, 'GET', `/v1/runs/${r.json.run_id}`, { token });
			return x.json.status === 'succeeded' ? x.json : undefined;
		});
		assert.equal(done.steps[0].state, 'succeeded');
		assert.equal(readFileSync(join(ws, 'hello.txt'), 'utf8'), 'from the API\n');
		assert.equal((await httpCall(port, 'GET', '/v1/state', { token: 'wrong-token-wrong-token-wrong' })).status, 401);

		// A run still going when SIGINT comes is waited for; the API refuses new runs meanwhile.
		const slow = await httpCall(port, 'POST', '/v1/runs', { token, body: { name: 'slow', instructions: [{ id: 'w', type: 'util', operation: 'wait', parameters: { ms: 1500 } }] } });
		assert.equal(slow.status, 202);
		s.child.kill('SIGINT');
		await until('the stopping notice', () => /Stopping: no new work, waiting for 1 running run/.test(s.err()));
		assert.equal((await httpCall(port, 'POST', '/v1/runs', { token, body: wf, headers: { 'Idempotency-Key': 'late' } })).status, 503);
		assert.equal(await s.exited, 0, s.err());
		assert.match(s.out(), new RegExp(`run ${slow.json.run_id} slow \\(api\\): succeeded`));
		assert.match(s.out(), /Stopped\.\n$/);
		assert.equal(existsSync(file), false, 'api.json removed');
		assert.ok(!s.out().includes(token) && !s.err().includes(token), 'the token is never printed');
		await assert.rejects(httpCall(port, 'GET', '/v1/state', { token }), /ECONNREFUSED/);
	});

	it('a second SIGINT exits at once (130), still removing api.json', async () => {
		const ws = tempDir('qo-serve-');
		const s = serve(ws);
		children.push(s.child.pid as number);
		// "Serving" once every service started and Ctrl-C is handled (a Ctrl-C before that stops the process at once).
		await until('qo serve to be up', () => /Serving /.test(s.out()), 45_000);
		const { port, token } = JSON.parse(readFileSync(join(ws, '.quantum', 'api.json'), 'utf8'));
		const r = await httpCall(port, 'POST', '/v1/runs', { token, body: { name: 'long', instructions: [{ id: 'w', type: 'util', operation: 'wait', parameters: { ms: 60_000 } }] } });
		assert.equal(r.status, 202);
		s.child.kill('SIGINT');
		await until('the stopping notice', () => /Stopping/.test(s.err()));
		s.child.kill('SIGINT');
		assert.equal(await s.exited, 130);
		assert.match(s.err(), /Exiting now/);
		assert.equal(existsSync(join(ws, '.quantum', 'api.json')), false);
	});

	it('runs the schedules of workflow files and the inbox next to the API, and /metrics has the telemetry figures too', async () => {
		const ws = tempDir('qo-serve-');
		writeFileSync(join(ws, 'nightly.workflow.json'), JSON.stringify({ name: 'nightly', settings: { schedule: '0 3 * * *' }, instructions: [{ type: 'util', operation: 'echo', parameters: { value: 1 } }] }));
		const s = serve(ws);
		children.push(s.child.pid as number);
		await until('qo serve to be up', () => /Serving /.exec(s.out()), 45_000);
		assert.match(s.out(), /Schedules: 1 schedule; next at \d{4}-\d\d-\d\dT03:00/);
		const api = JSON.parse(readFileSync(join(ws, '.quantum', 'api.json'), 'utf8')) as { port: number; token: string };
		const posted = await httpCall(api.port, 'POST', '/v1/runs', { token: api.token, body: { name: 'now', instructions: [{ type: 'util', operation: 'echo', parameters: { value: 2 } }] } });
		assert.equal(posted.status, 202);
		// Generous: on a loaded machine the API, the schedules scan and the inbox's first scan share two cores.
		await until('the run to finish', () => /run \S+ now \(api\): succeeded/.exec(s.out()), 45_000).catch((err: Error) => {
			throw new Error(`${err.message}\nqo serve said:\n${s.out()}${s.err()}`);
		});
		writeFileSync(join(ws, '.quantum', 'inbox', 'dropped.json'), JSON.stringify({ name: 'dropped', instructions: [{ type: 'util', operation: 'echo', parameters: { value: 3 } }] }));
		await until('the inbox run to finish', () => /run \S+ dropped \(inbox, dropped\.json\): succeeded/.exec(s.out()), 45_000).catch((err: Error) => {
			throw new Error(`${err.message}\nqo serve said:\n${s.out()}${s.err()}`);
		});
		const metrics = await httpCall(api.port, 'GET', '/metrics', { token: api.token });
		assert.match(metrics.text, /^qo_runs_finished_total\{source="api",status="succeeded"\} 1$/m);
		assert.match(metrics.text, /^qo_run_finished_total\{[^}]*workflow="now"[^}]*\} 1$/m);
		s.child.kill('SIGINT');
		assert.equal(await s.exited, 0);
	});

	it('a real git commit fires the installed post-commit hook, which submits the workflow to the running qo serve', async () => {
		const ws = tempDir('qo-serve-hook-');
		const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.org', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.org' };
		const git = (...args: string[]) => {
			const r = spawnSync('git', args, { cwd: ws, encoding: 'utf8', env });
			assert.equal(r.status, 0, r.stderr);
			return r;
		};
		git('init', '-q');
		writeFileSync(join(ws, 'on-commit.workflow.json'), JSON.stringify({ name: 'on commit', variables: { git_hook: '', git_commit: '' }, instructions: [{ type: 'file', operation: 'create', parameters: { path: 'built/${vars.git_commit}.txt', content: 'built' } }] }));
		const install = spawnSync(process.execPath, [QO, 'hooks', 'install', 'post-commit', '--workflow', 'on-commit.workflow.json'], { cwd: ws, encoding: 'utf8', env });
		assert.equal(install.status, 0, install.stdout + install.stderr);
		const s = serve(ws, '--no-inbox', '--no-schedules');
		children.push(s.child.pid as number);
		await until('qo serve to be up', () => /Serving /.exec(s.out()), 45_000);
		git('add', 'on-commit.workflow.json');
		const commit = git('commit', '-q', '-m', 'first');
		const sha = git('rev-parse', 'HEAD').stdout.trim();
		await until('the hook run to finish', () => /run \S+ on commit \(api, post-commit [0-9a-f]{12}\): succeeded/.exec(s.out()), 20_000).catch((err: Error) => {
			throw new Error(`${err.message}\nqo serve said:\n${s.out()}${s.err()}\ngit commit said:\n${commit.stdout}${commit.stderr}`);
		});
		assert.equal(readFileSync(join(ws, 'built', `${sha}.txt`), 'utf8'), 'built');
		assert.doesNotMatch(commit.stderr, /error/i);
		s.child.kill('SIGINT');
		assert.equal(await s.exited, 0);
	});

	it('--no-api --no-schedules --no-inbox: nothing to serve (exit 2); a bad --port is refused', async () => {
		const ws = tempDir('qo-serve-');
		const s = serve(ws, '--no-api', '--no-schedules', '--no-inbox');
		assert.equal(await s.exited, 2);
		assert.match(s.err(), /nothing to serve/);
		const bad = serve(ws, '--port', '70000');
		assert.equal(await bad.exited, 2);
		assert.match(bad.err(), /--port must be a whole number from 0 to 65535/);
	});
});
