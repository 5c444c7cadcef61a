import assert from 'node:assert/strict';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_GC_POLICY, GC_MAX_CHECKPOINTS, GC_MAX_RUNS, GC_MAX_RUN_BYTES, collectGarbage } from '../../../src/core/state/gc';
import { Journal } from '../../../src/core/state/journal';
import type { JournalRecord } from '../../../src/core/state/records';
import { acquireRunLock } from '../../../src/core/state/runLock';
import { createRunDir, runPaths } from '../../../src/core/state/runStore';
import { tempDir } from '../../helpers/tmp';

type Kind = 'succeeded' | 'rolled_back' | 'failed' | 'interrupted';

async function makeRun(stateDir: string, runId: string, startedAt: number, kind: Kind, blobBytes = 0): Promise<void> {
	const paths = await createRunDir(stateDir, runId);
	const j = await Journal.open(paths.journal);
	const recs: JournalRecord[] = [
		{ t: 'run', runId, startedAt, workspace: '/w', name: runId, steps: 0, variables: {}, undo: {}, options: { concurrency: 1, mode: 'parallel', onFailure: 'stop' } },
	];
	if (kind !== 'interrupted') recs.push({ t: 'run-end', status: kind === 'rolled_back' ? 'failed' : kind, at: startedAt + 1, durationMs: 1 });
	if (kind === 'succeeded') recs.push({ t: 'commit', at: startedAt + 1 });
	if (kind === 'rolled_back') recs.push({ t: 'rollback-start', at: 0, force: false }, { t: 'rollback-end', at: 0, conflicts: [] });
	for (const r of recs) j.append(r);
	await j.close();
	if (blobBytes > 0) {
		mkdirSync(paths.blobs);
		writeFileSync(join(paths.blobs, 'x'), Buffer.alloc(blobBytes));
	}
}

describe('garbage collection', () => {
	it('exports the documented defaults', () => {
		assert.equal(GC_MAX_RUNS, 50);
		assert.equal(GC_MAX_RUN_BYTES, 512 * 1024 * 1024);
		assert.equal(GC_MAX_CHECKPOINTS, 20);
		assert.deepEqual({ ...DEFAULT_GC_POLICY }, { maxRuns: 50, maxRunBytes: GC_MAX_RUN_BYTES, maxCheckpoints: 20 });
	});

	it('keeps at most N finished runs, deleting final outcomes (committed, rolled back) oldest first, before failed ones', async () => {
		const stateDir = join(tempDir(), '.quantum');
		await makeRun(stateDir, 'r1-failed', 1, 'failed');
		await makeRun(stateDir, 'r2-ok', 2, 'succeeded');
		await makeRun(stateDir, 'r3-rolled', 3, 'rolled_back');
		await makeRun(stateDir, 'r4-ok', 4, 'succeeded');
		await makeRun(stateDir, 'r5-interrupted', 5, 'interrupted');
		const result = await collectGarbage(stateDir, { maxRuns: 2 });
		assert.deepEqual(result.removedRuns, ['r2-ok', 'r3-rolled']);
		assert.ok(existsSync(runPaths(stateDir, 'r1-failed').dir), 'a failed run that could still be rolled back is kept while final ones can go');
		assert.ok(existsSync(runPaths(stateDir, 'r5-interrupted').dir));
		const more = await collectGarbage(stateDir, { maxRuns: 0 });
		assert.deepEqual(more.removedRuns, ['r4-ok', 'r1-failed']);
		assert.ok(existsSync(runPaths(stateDir, 'r5-interrupted').dir), 'an interrupted run is never deleted');
		const bytes = await collectGarbage(stateDir, { maxRunBytes: 10 });
		assert.deepEqual(bytes.removedRuns, []);
		assert.match(bytes.overLimit ?? '', /what is left is running, interrupted or locked/);
	});

	it('keeps run state under the byte limit', async () => {
		const stateDir = join(tempDir(), '.quantum');
		await makeRun(stateDir, 'a', 1, 'succeeded', 40_000);
		await makeRun(stateDir, 'b', 2, 'succeeded', 40_000);
		await makeRun(stateDir, 'c', 3, 'succeeded', 40_000);
		const result = await collectGarbage(stateDir, { maxRunBytes: 100_000 });
		assert.deepEqual(result.removedRuns, ['a']);
		assert.ok(result.runBytes <= 100_000);
		assert.ok(result.freedBytes >= 40_000);
	});

	it('never deletes a run whose lock is held, nor the current run', async () => {
		const stateDir = join(tempDir(), '.quantum');
		await makeRun(stateDir, 'held', 1, 'succeeded');
		await makeRun(stateDir, 'current', 2, 'succeeded');
		await makeRun(stateDir, 'free', 3, 'succeeded');
		const release = await acquireRunLock(runPaths(stateDir, 'held').dir);
		const result = await collectGarbage(stateDir, { maxRuns: 0 }, { keep: ['current'] });
		assert.deepEqual(result.removedRuns, ['free']);
		await release();
	});

	it('keeps the newest checkpoints and removes leftovers of interrupted writes once old', async () => {
		const stateDir = join(tempDir(), '.quantum');
		const cps = join(stateDir, 'checkpoints');
		for (let i = 0; i < 4; i++) {
			mkdirSync(join(cps, `cp${i}`), { recursive: true });
			writeFileSync(join(cps, `cp${i}`, 'manifest.json'), JSON.stringify({ version: 1, name: `cp${i}`, createdAt: i, entries: [], skipped: [] }));
		}
		mkdirSync(join(cps, '.tmp-old-1234'));
		mkdirSync(join(cps, '.tmp-new-5678'));
		const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
		utimesSync(join(cps, '.tmp-old-1234'), old, old);
		mkdirSync(join(stateDir, 'runs', 'empty-old'), { recursive: true });
		utimesSync(join(stateDir, 'runs', 'empty-old'), old, old);
		const result = await collectGarbage(stateDir, { maxCheckpoints: 2 });
		assert.deepEqual(result.removedCheckpoints, ['cp0', 'cp1']);
		assert.deepEqual(result.removedLeftovers.sort(), ['checkpoints/.tmp-old-1234', 'runs/empty-old']);
		assert.ok(existsSync(join(cps, '.tmp-new-5678')), 'a checkpoint being written right now is left alone');
		assert.ok(existsSync(join(cps, 'cp3')));
	});
});
