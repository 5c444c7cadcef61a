import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { StateError } from '../../../src/core/errors';
import { acquireRunLock, processStartTime, runLockHolder } from '../../../src/core/state/runLock';
import { tempDir } from '../../helpers/tmp';

const runLockModule = resolve(__dirname, '../../../src/core/state/runLock.ts');

/** A real child process that takes the lock, says so, then waits to be killed. */
function childHoldingLock(dir: string): Promise<{ pid: number; kill: () => Promise<void> }> {
	const script = `
		const { acquireRunLock } = require(${JSON.stringify(runLockModule)});
		acquireRunLock(${JSON.stringify(dir)}).then(() => { process.stdout.write('locked\\n'); setInterval(() => {}, 1000); },
			(err) => { process.stdout.write('error ' + err.message + '\\n'); process.exit(1); });`;
	const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
	return new Promise((resolvePromise, reject) => {
		child.stdout.on('data', (d: Buffer) => {
			if (d.toString().startsWith('locked')) {
				resolvePromise({
					pid: child.pid as number,
					kill: () =>
						new Promise<void>((done) => {
							child.on('exit', () => done());
							child.kill('SIGKILL');
						}),
				});
			} else reject(new Error(d.toString()));
		});
		child.on('error', reject);
	});
}

describe('run lock', () => {
	it('one holder at a time: a second acquire is StateError locked naming the pid', async () => {
		const dir = tempDir();
		const release = await acquireRunLock(dir);
		await assert.rejects(acquireRunLock(dir), (err: unknown) => {
			assert.ok(StateError.is(err, 'locked'));
			assert.match(err.message, new RegExp(`in use by process ${process.pid}`));
			return true;
		});
		await release();
		const again = await acquireRunLock(dir);
		await again();
		assert.deepEqual(readdirSync(dir), [], 'release removes the lock and no temp file is left');
	});

	it('the lock holds pid, process start time and hostname', async () => {
		const dir = tempDir();
		const release = await acquireRunLock(dir);
		const owner = JSON.parse(readFileSync(join(dir, 'lock'), 'utf8'));
		assert.equal(owner.pid, process.pid);
		assert.equal(owner.hostname, hostname());
		if (process.platform === 'linux') assert.equal(owner.startTime, await processStartTime(process.pid));
		assert.equal((await runLockHolder(dir))?.pid, process.pid);
		await release();
		assert.equal(await runLockHolder(dir), undefined);
	});

	it('a live process in another process holds it; once that process is killed the stale lock is reclaimed', async function () {
		this.timeout(20_000);
		const dir = tempDir();
		const child = await childHoldingLock(dir);
		await assert.rejects(acquireRunLock(dir), (err: unknown) => StateError.is(err, 'locked') && err.message.includes(`process ${child.pid}`));
		await child.kill();
		const release = await acquireRunLock(dir);
		assert.equal(JSON.parse(readFileSync(join(dir, 'lock'), 'utf8')).pid, process.pid);
		await release();
	});

	it('a lock whose pid was reused by another process (different start time) is stale', async function () {
		if (process.platform !== 'linux') this.skip();
		const dir = tempDir();
		// Our own pid, but a start time that is not ours: the process that wrote it is gone.
		const start = (await processStartTime(process.pid)) as number;
		writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: process.pid, startTime: start - 1, hostname: hostname(), at: 0, nonce: 'old' }));
		const release = await acquireRunLock(dir);
		await release();
	});

	it('a lock of a dead pid is reclaimed, and concurrent reclaimers end up with exactly one holder', async () => {
		const dir = tempDir();
		writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: 2 ** 22 + 12345, hostname: hostname(), at: 0, nonce: 'dead' }));
		const results = await Promise.allSettled(Array.from({ length: 8 }, () => acquireRunLock(dir)));
		const won = results.filter((r) => r.status === 'fulfilled');
		assert.equal(won.length, 1, 'exactly one acquirer wins');
		for (const r of results) if (r.status === 'rejected') assert.ok(StateError.is(r.reason, 'locked'));
		if (won[0].status === 'fulfilled') await won[0].value();
		assert.equal(existsSync(join(dir, 'lock')), false);
		assert.deepEqual(readdirSync(dir), [], 'no aside or temp files are left');
	});

	it('a lock held on another host is never reclaimed', async () => {
		const dir = tempDir();
		writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: 1, hostname: 'some-other-host', at: Date.now(), nonce: 'x' }));
		await assert.rejects(acquireRunLock(dir), (err: unknown) => StateError.is(err, 'locked') && /on some-other-host/.test(err.message));
	});
});
