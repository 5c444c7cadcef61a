import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SandboxError, StepError } from '../../../src/core/errors';
import { execHandler } from '../../../src/core/handlers/exec';
import type { ExecOutput } from '../../../src/core/handlers/exec';
import { isAlive, killQuietly, waitUntilDead } from '../../helpers/processes';
import { tempDir } from '../../helpers/tmp';
import { describeOp, makeContext, paramsError, runOp } from './stepContext';
import type { TestContext } from './stepContext';

const node = process.execPath;

function run(raw: Record<string, unknown>, ctx: TestContext): Promise<ExecOutput> {
	return runOp(execHandler, 'run', raw, ctx) as Promise<ExecOutput>;
}

describe('exec handler', () => {
	let ws: string;
	let ctx: TestContext;

	beforeEach(async () => {
		ws = tempDir('qo-exec-');
		mkdirSync(join(ws, 'sub'));
		ctx = await makeContext(ws);
	});

	it('runs an executable with args without a shell and outputs exit_code, stdout and stderr', async () => {
		const out = await run({ command: node, args: ['-e', 'console.log(process.argv.slice(1).join("|")); console.error("warn")', '$HOME', 'a b; echo x'] }, ctx);
		assert.deepEqual(out, {
			exit_code: 0,
			signal: null,
			stdout: '$HOME|a b; echo x\n',
			stderr: 'warn\n',
			truncated: { stdout: false, stderr: false },
		});
	});

	it('runs a line through the shell when no args are given, in the workspace root by default', async () => {
		const out = await run({ command: 'echo one && pwd' }, ctx);
		assert.equal(out.stdout, `one\n${ws}\n`);
	});

	it('runs in a cwd inside the workspace', async () => {
		const out = await run({ command: 'pwd', cwd: 'sub' }, ctx);
		assert.equal(out.stdout, `${join(ws, 'sub')}\n`);
	});

	it('refuses a cwd outside the workspace before running anything', async () => {
		const parent = tempDir('qo-exec-parent-');
		const inner = join(parent, 'ws');
		mkdirSync(inner);
		const c = await makeContext(inner);
		await assert.rejects(run({ command: 'touch escaped', cwd: '..' }, c), (err: unknown) => SandboxError.is(err, 'outside'));
		await assert.rejects(run({ command: 'touch escaped', cwd: parent }, c), (err: unknown) => SandboxError.is(err, 'absolute'));
		await assert.rejects(run({ command: 'touch escaped', cwd: 'missing' }, c), (err: unknown) => SandboxError.is(err, 'cwd'));
		assert.equal(existsSync(join(parent, 'escaped')), false);
	});

	it('streams output to the step while it runs', async () => {
		await run({ command: 'echo streamed; echo err >&2' }, ctx);
		assert.equal(ctx.outputs.filter((o) => o.stream === 'stdout').map((o) => o.text).join(''), 'streamed\n');
		assert.equal(ctx.outputs.filter((o) => o.stream === 'stderr').map((o) => o.text).join(''), 'err\n');
	});

	it('fails a non-zero exit with the code and the last lines of stderr', async () => {
		await assert.rejects(run({ command: 'for i in 1 2 3 4 5 6 7; do echo line$i >&2; done; exit 3' }, ctx), (err: unknown) => {
			assert.ok(StepError.is(err, 'exit-code'));
			assert.match(err.message, /exited with code 3/);
			assert.match(err.message, /line7/);
			assert.match(err.message, /line3/);
			assert.doesNotMatch(err.message, /line2/);
			assert.equal(err.permanent, false);
			return true;
		});
	});

	it('with allow_failure, a non-zero exit succeeds and outputs the exit code', async () => {
		const out = await run({ command: 'echo out; exit 4', allow_failure: true }, ctx);
		assert.equal(out.exit_code, 4);
		assert.equal(out.stdout, 'out\n');
	});

	it('reports a missing executable as "command not found"', async () => {
		await assert.rejects(run({ command: 'qo-missing-tool-xyz', args: ['x'] }, ctx), (err: unknown) => {
			assert.ok(StepError.is(err, 'not-found'));
			assert.equal(err.message, 'command not found: qo-missing-tool-xyz');
			return true;
		});
		await assert.rejects(run({ command: 'qo-missing-tool-xyz' }, ctx), /exited with code 127 \(command not found\)/);
	});

	it('removes secret-looking variables from the child environment, even when the host passes them', async () => {
		const raw = await makeContext(ws, { env: { PATH: process.env.PATH, QO_API_TOKEN: 't', DB_PASSWORD: 'p', PLAIN: 'ok' } });
		// A host that forgot to scrub: the handler scrubs again with the step's secret policy.
		Object.defineProperty(raw, 'env', { value: { PATH: process.env.PATH, QO_API_TOKEN: 't', DB_PASSWORD: 'p', PLAIN: 'ok' } });
		const out = await run({ command: node, args: ['-e', 'console.log(JSON.stringify(process.env))'] }, raw);
		const childEnv = JSON.parse(out.stdout) as Record<string, string>;
		assert.equal(childEnv.PLAIN, 'ok');
		assert.equal(childEnv.QO_API_TOKEN, undefined);
		assert.equal(childEnv.DB_PASSWORD, undefined);
	});

	it('keeps secrets the step lists in env_allow, and adds the step env', async () => {
		process.env.QO_TEST_DEPLOY_TOKEN = 'deploy-secret';
		try {
			const c = await makeContext(ws);
			assert.equal(c.env.QO_TEST_DEPLOY_TOKEN, undefined, 'the context env is scrubbed');
			const script = 'console.log(JSON.stringify([process.env.QO_TEST_DEPLOY_TOKEN, process.env.GREETING, process.env.N]))';
			const without = await run({ command: node, args: ['-e', script], env: { GREETING: 'hi', N: 3 } }, c);
			assert.deepEqual(JSON.parse(without.stdout), [null, 'hi', '3']);
			const withAllow = await run({ command: node, args: ['-e', script], env_allow: ['QO_TEST_DEPLOY_TOKEN'] }, c);
			assert.deepEqual(JSON.parse(withAllow.stdout), ['deploy-secret', null, null]);
		} finally {
			delete process.env.QO_TEST_DEPLOY_TOKEN;
		}
	});

	it('stops the command at the step timeout with a timeout error', async () => {
		const c = await makeContext(ws, { step: { timeout_ms: 150 } });
		const t0 = Date.now();
		await assert.rejects(run({ command: 'sleep', args: ['10'] }, c), (err: unknown) => StepError.is(err, 'timeout'));
		assert.ok(Date.now() - t0 < 3000);
	});

	it('cancellation kills the whole process tree, by pid', async () => {
		const ac = new AbortController();
		const c = await makeContext(ws, { signal: ac.signal });
		const script = ['sleep 1000 & echo bg:$!', `sh -c 'sleep 1000 & echo nested:$!; wait' & echo sub:$!`, 'wait'].join('\n');
		const running = run({ command: script }, c);
		const pids = new Map<string, number>();
		const deadline = Date.now() + 5000;
		while (pids.size < 3 && Date.now() < deadline) {
			for (const m of c.outputs.map((o) => o.text).join('').matchAll(/(\w+):(\d+)/g)) pids.set(m[1], Number(m[2]));
			await new Promise((r) => setTimeout(r, 10));
		}
		const all = [...pids.values()];
		try {
			assert.equal(all.length, 3, 'the script reported its pids');
			assert.ok(all.every(isAlive));
			ac.abort();
			await assert.rejects(running, (err: unknown) => StepError.is(err, 'cancelled'));
			await waitUntilDead(all, 1000);
		} finally {
			killQuietly(all);
		}
	});

	it('caps output at max_output_bytes and marks it truncated', async () => {
		const out = await run({ command: node, args: ['-e', 'process.stdout.write("y".repeat(5000))'], max_output_bytes: 100 }, ctx);
		assert.equal(out.stdout, `${'y'.repeat(100)}\n[output truncated: 4900 bytes dropped]`);
		assert.deepEqual(out.truncated, { stdout: true, stderr: false });
	});

	it('summarizes the exact command line and cwd, and lists it in touches', async () => {
		const shell = await describeOp(execHandler, 'run', { command: 'npm test -- --grep "a b"', cwd: 'sub' }, ws);
		assert.equal(shell.summary, 'run `npm test -- --grep "a b"` in sub');
		assert.deepEqual(shell.touches, { reads: [], writes: [], commands: ['npm test -- --grep "a b"'] });
		assert.equal(shell.effect, 'external');
		const args = await describeOp(execHandler, 'run', { command: 'git', args: ['commit', '-m', "it's done"] }, ws);
		assert.equal(args.summary, `run \`git commit -m 'it'\\''s done'\` in .`);
	});

	it('refuses shell: true together with args, and unknown parameters', () => {
		assert.match(paramsError(execHandler, 'run', { command: 'ls', args: ['-l'], shell: true }) ?? '', /shell/);
		assert.ok(paramsError(execHandler, 'run', { command: 'ls', timeout: 5 }));
		assert.ok(paramsError(execHandler, 'run', { command: '' }));
	});

	it('with shell: false and no args, runs the command as an executable', async () => {
		const out = await run({ command: 'pwd', shell: false }, ctx);
		assert.equal(out.stdout, `${ws}\n`);
		await assert.rejects(run({ command: 'echo hi', shell: false }, ctx), /command not found: echo hi/);
	});
});
