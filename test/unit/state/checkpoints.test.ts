import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StateError } from '../../../src/core/errors';
import { createSandbox } from '../../../src/core/sandbox/paths';
import type { Sandbox } from '../../../src/core/sandbox/types';
import { createCheckpoint, deleteCheckpoint, listCheckpoints, restoreCheckpoint } from '../../../src/core/state/checkpoints';
import { Journal } from '../../../src/core/state/journal';
import { createRunDir, listRuns, newRunId } from '../../../src/core/state/runStore';
import { createTransaction, rollback } from '../../../src/core/state/transaction';
import type { WorkspaceFs } from '../../../src/core/handlers/types';
import { tempDir } from '../../helpers/tmp';

/** Run `body` as one journaled run (what the engine does for a workflow). */
async function asRun(ws: string, sandbox: Sandbox, body: (fs: WorkspaceFs) => Promise<void>): Promise<string> {
	const runId = newRunId();
	const paths = await createRunDir(join(ws, '.quantum'), runId);
	const journal = await Journal.open(paths.journal);
	journal.append({ t: 'run', runId, startedAt: Date.now(), workspace: ws, name: 'w', steps: 1, variables: {}, undo: {}, workflow: { name: 'w' }, options: { concurrency: 1, mode: 'parallel', onFailure: 'stop' } });
	const tx = createTransaction({ runId, workspace: ws, sandbox, journal });
	await body(tx.fsFor('s'));
	journal.append({ t: 'run-end', status: 'succeeded', at: Date.now(), durationMs: 0 });
	await tx.commit();
	tx.dispose();
	await journal.close();
	return runId;
}

describe('checkpoints', () => {
	let ws: string;
	let sandbox: Sandbox;

	beforeEach(async () => {
		ws = tempDir('qo-cp-');
		sandbox = await createSandbox(ws);
		writeFileSync(join(ws, 'keep.txt'), 'v0');
		writeFileSync(join(ws, 'gone.txt'), 'will be deleted');
		await asRun(ws, sandbox, async (fs) => {
			await fs.writeFile('keep.txt', 'v1');
			await fs.writeFile('dir/new.sh', '#!/bin/sh', { mode: 0o755 });
			await fs.remove('gone.txt');
		});
	});

	it('holds the paths runs touched: files, folders, and paths that do not exist', async () => {
		const info = await createCheckpoint({ workspace: ws, sandbox }, 'cp1');
		assert.deepEqual({ files: info.files, dirs: info.dirs, absent: info.absent }, { files: 2, dirs: 1, absent: 1 });
		assert.deepEqual(info.skipped, []);
		const manifest = JSON.parse(readFileSync(join(ws, '.quantum/checkpoints/cp1/manifest.json'), 'utf8'));
		assert.deepEqual(
			manifest.entries.map((e: { path: string; kind: string }) => `${e.kind} ${e.path}`),
			['dir dir', 'file dir/new.sh', 'absent gone.txt', 'file keep.txt'],
		);
		assert.deepEqual((await listCheckpoints({ workspace: ws })).map((c) => c.name), ['cp1']);
	});

	it('restore brings the content and modes back, as a journaled run that can itself be rolled back', async () => {
		await createCheckpoint({ workspace: ws, sandbox }, 'cp1');
		await asRun(ws, sandbox, async (fs) => {
			await fs.writeFile('keep.txt', 'v2');
			await fs.remove('dir');
			await fs.writeFile('gone.txt', 'back by a run');
		});
		const result = await restoreCheckpoint({ workspace: ws, sandbox }, 'cp1');
		assert.deepEqual(result.conflicts, []);
		assert.equal(readFileSync(join(ws, 'keep.txt'), 'utf8'), 'v1');
		assert.equal(readFileSync(join(ws, 'dir/new.sh'), 'utf8'), '#!/bin/sh');
		assert.equal(statSync(join(ws, 'dir/new.sh')).mode & 0o777, 0o755);
		assert.equal(existsSync(join(ws, 'gone.txt')), false);
		assert.equal(result.removed, 1);
		assert.ok((await listRuns(join(ws, '.quantum'))).some((r) => r.runId === result.runId && r.status === 'succeeded'));

		const undo = await rollback({ runId: result.runId, workspace: ws, sandbox });
		assert.deepEqual(undo.conflicts, []);
		assert.equal(readFileSync(join(ws, 'keep.txt'), 'utf8'), 'v2');
		assert.equal(existsSync(join(ws, 'dir')), false);
		assert.equal(readFileSync(join(ws, 'gone.txt'), 'utf8'), 'back by a run');
	});

	it('a file edited outside any run is a conflict and left alone unless forced', async () => {
		await createCheckpoint({ workspace: ws, sandbox }, 'cp1');
		writeFileSync(join(ws, 'keep.txt'), 'hand edit');
		const result = await restoreCheckpoint({ workspace: ws, sandbox }, 'cp1');
		assert.deepEqual(result.conflicts.map((c) => c.path), ['keep.txt']);
		assert.match(result.conflicts[0].reason, /changed outside any run/);
		assert.equal(readFileSync(join(ws, 'keep.txt'), 'utf8'), 'hand edit');
		const forced = await restoreCheckpoint({ workspace: ws, sandbox }, 'cp1', { force: true });
		assert.deepEqual(forced.conflicts, []);
		assert.equal(readFileSync(join(ws, 'keep.txt'), 'utf8'), 'v1');
		// Even a forced restore is journaled: the hand edit comes back with a rollback.
		await rollback({ runId: forced.runId, workspace: ws, sandbox });
		assert.equal(readFileSync(join(ws, 'keep.txt'), 'utf8'), 'hand edit');
	});

	it('given paths: folders are expanded, .git is never entered, special files are reported, not dropped', async function () {
		mkdirSync(join(ws, '.git/objects'), { recursive: true });
		writeFileSync(join(ws, '.git/HEAD'), 'ref: refs/heads/main');
		mkdirSync(join(ws, 'src/sub'), { recursive: true });
		writeFileSync(join(ws, 'src/a.ts'), 'a');
		writeFileSync(join(ws, 'src/sub/b.ts'), 'b');
		const fifo = spawnSync('mkfifo', [join(ws, 'src/pipe')]).status === 0;
		const info = await createCheckpoint({ workspace: ws, sandbox }, 'given', { paths: ['src', '.git', '.'] });
		assert.ok(info.skipped.some((s) => s.path === '.git' && /never touch git internals/.test(s.reason)));
		if (fifo) assert.ok(info.skipped.some((s) => s.path === 'src/pipe' && /FIFO/.test(s.reason)));
		const manifest = JSON.parse(readFileSync(join(ws, '.quantum/checkpoints/given/manifest.json'), 'utf8'));
		const paths = manifest.entries.map((e: { path: string }) => e.path);
		assert.ok(paths.includes('src/sub/b.ts'));
		assert.ok(!paths.some((p: string) => p.startsWith('.git') || p.startsWith('.quantum')));
	});

	it('an unreadable file is reported, never silently skipped', async function () {
		if (process.getuid?.() === 0) this.skip(); // root reads anything
		chmodSync(join(ws, 'keep.txt'), 0o000);
		const info = await createCheckpoint({ workspace: ws, sandbox }, 'cp');
		assert.ok(info.skipped.some((s) => s.path === 'keep.txt' && /unreadable/.test(s.reason)));
		chmodSync(join(ws, 'keep.txt'), 0o644);
	});

	it('names are unique unless replaced; a missing or corrupt checkpoint is a clear error', async () => {
		await createCheckpoint({ workspace: ws, sandbox }, 'cp1');
		await assert.rejects(createCheckpoint({ workspace: ws, sandbox }, 'cp1'), (err: unknown) => StateError.is(err, 'conflict'));
		await createCheckpoint({ workspace: ws, sandbox }, 'cp1', { replace: true });
		await assert.rejects(createCheckpoint({ workspace: ws, sandbox }, '../x'), (err: unknown) => err instanceof StateError);
		await assert.rejects(restoreCheckpoint({ workspace: ws, sandbox }, 'nope'), (err: unknown) => StateError.is(err, 'not-found') && /no checkpoint named "nope"/.test(err.message));
		await createCheckpoint({ workspace: ws, sandbox }, 'cp2');
		writeFileSync(join(ws, '.quantum/checkpoints/cp1/manifest.json'), '{');
		const listed = await listCheckpoints({ workspace: ws });
		assert.deepEqual(listed.map((c) => c.name).sort(), ['cp1', 'cp2'], 'one damaged manifest does not hide the others');
		assert.match(listed.find((c) => c.name === 'cp1')?.error ?? '', /checkpoint manifest .*manifest\.json is corrupt/);
		await assert.rejects(restoreCheckpoint({ workspace: ws, sandbox }, 'cp1'), (err: unknown) => StateError.is(err, 'corrupt'));
		await deleteCheckpoint({ workspace: ws }, 'cp1');
		assert.deepEqual((await listCheckpoints({ workspace: ws })).map((c) => c.name), ['cp2']);
	});

	it('a checkpoint can be deleted', async () => {
		await createCheckpoint({ workspace: ws, sandbox }, 'cp1');
		await deleteCheckpoint({ workspace: ws }, 'cp1');
		assert.deepEqual(await listCheckpoints({ workspace: ws }), []);
	});
});
