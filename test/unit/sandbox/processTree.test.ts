import assert from 'node:assert/strict';
import { join } from 'node:path';
import { StepError } from '../../../src/core/errors';
import { runProcess } from '../../../src/core/sandbox/processTree';
import type { RunProcessOptions } from '../../../src/core/sandbox/processTree';
import { isAlive, killQuietly, waitUntilDead } from '../../helpers/processes';
import { tempDir } from '../../helpers/tmp';

const node = process.execPath;

function opts(over: Partial<RunProcessOptions> & { command: string }): RunProcessOptions {
	return { cwd: tempDir('qo-proc-'), env: { PATH: process.env.PATH }, maxOutputBytes: 1 << 20, graceMs: 500, ...over };
}

/** Collects `name:pid` lines from streamed output and resolves once all names were seen. */
function pidCollector(names: string[]) {
	const pids = new Map<string, number>();
	let buffer = '';
	let notify: () => void = () => {};
	const ready = new Promise<void>((resolve) => (notify = resolve));
	return {
		pids,
		ready,
		onOutput(_stream: 'stdout' | 'stderr', text: string) {
			buffer += text;
			for (const m of buffer.matchAll(/(\w+):(\d+)/g)) pids.set(m[1], Number(m[2]));
			if (names.every((n) => pids.has(n))) notify();
		},
	};
}

describe('process tree', () => {
	it('writes input to stdin and closes it; a process that never reads it is not an error', async () => {
		const echo = await runProcess(opts({ command: node, args: ['-e', 'process.stdin.pipe(process.stdout)'], input: 'héllo\nworld' }));
		assert.equal(echo.exitCode, 0);
		assert.equal(echo.stdout, 'héllo\nworld');
		const big = 'x'.repeat(4 << 20);
		const ignored = await runProcess(opts({ command: node, args: ['-e', 'process.exit(0)'], input: big }));
		assert.equal(ignored.exitCode, 0);
	});

	it('runs an executable with args, without a shell, and captures both streams', async () => {
		const r = await runProcess(
			opts({ command: node, args: ['-e', 'console.log(process.argv[1]); console.error("e"); process.exit(4)', '$HOME; echo no'] }),
		);
		assert.equal(r.exitCode, 4);
		assert.equal(r.stdout, '$HOME; echo no\n');
		assert.equal(r.stderr, 'e\n');
		assert.equal(r.timedOut, false);
		assert.equal(r.cancelled, false);
		assert.deepEqual(r.truncated, { stdout: false, stderr: false });
	});

	it('runs a shell line with /bin/sh -c in the given cwd and env', async () => {
		const cwd = tempDir();
		const r = await runProcess(opts({ command: 'echo "$GREETING from $(pwd)"; exit 3', shell: true, cwd, env: { PATH: process.env.PATH, GREETING: 'hi' } }));
		assert.equal(r.exitCode, 3);
		assert.equal(r.stdout, `hi from ${cwd}\n`);
	});

	it('passes only the environment it is given', async () => {
		const r = await runProcess(opts({ command: node, args: ['-e', 'console.log(JSON.stringify(Object.keys(process.env).sort()))'], env: { ONLY: '1' } }));
		assert.deepEqual(JSON.parse(r.stdout), ['ONLY']);
	});

	it('reports a missing executable as "command not found"', async () => {
		await assert.rejects(runProcess(opts({ command: 'qo-no-such-command-xyz', args: [] })), (err: unknown) => {
			assert.ok(StepError.is(err, 'not-found'));
			assert.equal(err.message, 'command not found: qo-no-such-command-xyz');
			assert.equal(err.permanent, true);
			return true;
		});
	});

	it('reports a missing working directory', async () => {
		const cwd = join(tempDir(), 'gone');
		await assert.rejects(runProcess(opts({ command: node, args: ['-e', ''], cwd })), /working directory not found/);
	});

	it('stops a process at its timeout with TERM', async () => {
		const r = await runProcess(opts({ command: 'sleep', args: ['10'], timeoutMs: 100 }));
		assert.equal(r.timedOut, true);
		assert.equal(r.cancelled, false);
		assert.equal(r.signal, 'SIGTERM');
		assert.ok(r.durationMs < 2000, `took ${r.durationMs} ms`);
	});

	it('kills a process that ignores TERM after the grace period', async () => {
		const r = await runProcess(opts({ command: "trap '' TERM; sleep 1000", shell: true, timeoutMs: 100, graceMs: 200 }));
		assert.equal(r.timedOut, true);
		assert.equal(r.signal, 'SIGKILL');
		assert.ok(r.durationMs >= 300 && r.durationMs < 3000, `took ${r.durationMs} ms`);
	});

	it('cancellation kills the whole tree: background jobs and nested children', async () => {
		const collect = pidCollector(['bg', 'nested', 'sub']);
		const ac = new AbortController();
		const script = [
			'sleep 1000 & echo bg:$!',
			`sh -c 'sleep 1000 & echo nested:$!; wait' & echo sub:$!`,
			'wait',
		].join('\n');
		const running = runProcess(opts({ command: script, shell: true, signal: ac.signal, onOutput: collect.onOutput }));
		await collect.ready;
		const pids = [...collect.pids.values()];
		try {
			assert.ok(pids.every(isAlive), 'all started');
			ac.abort();
			const r = await running;
			assert.equal(r.cancelled, true);
			assert.equal(r.timedOut, false);
			await waitUntilDead(pids, 1000);
		} finally {
			killQuietly(pids);
		}
	});

	it('kills a tree that ignores TERM with KILL after the grace period', async () => {
		const collect = pidCollector(['bg']);
		const ac = new AbortController();
		const running = runProcess(
			opts({ command: "trap '' TERM; sleep 1000 & echo bg:$!; wait", shell: true, signal: ac.signal, graceMs: 200, onOutput: collect.onOutput }),
		);
		await collect.ready;
		const pids = [...collect.pids.values()];
		try {
			ac.abort();
			const r = await running;
			assert.equal(r.cancelled, true);
			await waitUntilDead(pids, 1000);
		} finally {
			killQuietly(pids);
		}
	});

	it('does not leave background processes behind when the command exits normally', async () => {
		const r = await runProcess(opts({ command: 'sleep 1000 & echo bg:$!', shell: true }));
		const pid = Number(/bg:(\d+)/.exec(r.stdout)?.[1]);
		try {
			assert.equal(r.exitCode, 0);
			assert.ok(r.durationMs < 2000, `took ${r.durationMs} ms`);
			await waitUntilDead([pid], 1000);
		} finally {
			killQuietly([pid]);
		}
	});

	it('does not start when the signal is already aborted', async () => {
		const ac = new AbortController();
		ac.abort();
		const r = await runProcess(opts({ command: 'qo-no-such-command-xyz', signal: ac.signal }));
		assert.equal(r.cancelled, true);
		assert.equal(r.pid, undefined);
	});

	it('caps each stream and marks the truncation with the number of dropped bytes', async () => {
		const streamed: string[] = [];
		const r = await runProcess(
			opts({
				command: node,
				args: ['-e', 'process.stdout.write("x".repeat(100000)); process.stderr.write("small")'],
				maxOutputBytes: 1000,
				onOutput: (s, t) => s === 'stdout' && streamed.push(t),
			}),
		);
		assert.equal(r.stdout, `${'x'.repeat(1000)}\n[output truncated: 99000 bytes dropped]`);
		assert.equal(r.stderr, 'small');
		assert.deepEqual(r.truncated, { stdout: true, stderr: false });
		assert.equal(streamed.join(''), r.stdout);
	});

	it('never splits a UTF-8 character at the cap', async () => {
		const r = await runProcess(opts({ command: node, args: ['-e', 'process.stdout.write("ééé")'], maxOutputBytes: 5 }));
		assert.equal(r.stdout, 'éé\n[output truncated: 2 bytes dropped]');
	});

	it('decodes UTF-8 split across chunks when streaming', async () => {
		const streamed: string[] = [];
		const script = 'const b = Buffer.from("€✓"); let i = 0; const t = setInterval(() => { process.stdout.write(b.subarray(i, i + 1)); if (++i === b.length) clearInterval(t); }, 15);';
		const r = await runProcess(opts({ command: node, args: ['-e', script], onOutput: (_s, t) => streamed.push(t) }));
		assert.equal(r.stdout, '€✓');
		assert.equal(streamed.join(''), '€✓');
		assert.ok(!streamed.join('').includes('\uFFFD'));
	});
});

describe('process tree start failures', () => {
	it('rejects arguments the OS cannot take with a clear error instead of throwing', async () => {
		await assert.rejects(
			runProcess({ command: node, args: ['a\0b'], cwd: tempDir(), env: {}, maxOutputBytes: 100, graceMs: 100 }),
			(err: unknown) => StepError.is(err, 'failed') && /cannot start/.test(err.message),
		);
	});
});
