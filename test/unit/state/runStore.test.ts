import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StateError } from '../../../src/core/errors';
import { Journal } from '../../../src/core/state/journal';
import type { JournalRecord } from '../../../src/core/state/records';
import {
	ContextStore,
	DurationStats,
	createRunDir,
	listRuns,
	newRunId,
	readRunSummary,
	resolveRunId,
	runPaths,
	writeRunSummary,
} from '../../../src/core/state/runStore';
import { tempDir } from '../../helpers/tmp';

async function journalOf(stateDir: string, runId: string, records: JournalRecord[]): Promise<void> {
	const paths = await createRunDir(stateDir, runId);
	const j = await Journal.open(paths.journal);
	for (const r of records) j.append(r);
	await j.close();
}

const runRecord = (runId: string, startedAt: number): JournalRecord => ({
	t: 'run',
	runId,
	startedAt,
	workspace: '/w',
	file: 'flow.workflow.json',
	name: 'demo',
	steps: 3,
	variables: {},
	undo: {},
	options: { concurrency: 4, mode: 'parallel', onFailure: 'stop' },
});

describe('run store', () => {
	it('run ids sort by start time and look like 20261125-020812-a1b2', () => {
		const a = newRunId(new Date(Date.UTC(2026, 10, 25, 2, 8, 12)));
		assert.match(a, /^20261125-020812-[0-9a-f]{4}$/);
		const b = newRunId(new Date(Date.UTC(2026, 10, 25, 2, 8, 13)));
		assert.ok(a < b);
	});

	it('refuses run ids that are not plain folder names', () => {
		assert.throws(() => runPaths('/s', '../escape'));
		assert.throws(() => runPaths('/s', '.hidden'));
	});

	it('lists runs from summary.json, newest first, and from the journal when the summary is missing', async () => {
		const stateDir = join(tempDir(), '.quantum');
		await journalOf(stateDir, 'r1', [
			runRecord('r1', 1000),
			{ t: 'step-end', id: 'a', status: 'succeeded', attempt: 1, at: 1, durationMs: 1 },
			{ t: 'step-end', id: 'b', status: 'failed', attempt: 1, at: 1, durationMs: 1 },
			{ t: 'run-end', status: 'failed', at: 1500, durationMs: 500 },
		]);
		await journalOf(stateDir, 'r2', [runRecord('r2', 2000), { t: 'step-start', id: 'a', attempt: 1, at: 2001 }]);
		await createRunDir(stateDir, 'r3');
		await writeRunSummary(stateDir, {
			runId: 'r3',
			workflow: 'from summary',
			status: 'succeeded',
			startedAt: 3000,
			durationMs: 10,
			steps: { total: 1, succeeded: 1, failed: 0, skipped: 0, cancelled: 0 },
			committed: true,
		});
		const runs = await listRuns(stateDir);
		assert.deepEqual(runs.map((r) => r.runId), ['r3', 'r2', 'r1']);
		assert.equal(runs[0].workflow, 'from summary');
		assert.equal(runs[1].status, 'interrupted', 'no run-end and nobody holds the lock');
		assert.deepEqual(runs[2], {
			runId: 'r1',
			workflow: 'demo',
			file: 'flow.workflow.json',
			status: 'failed',
			startedAt: 1000,
			durationMs: 500,
			steps: { total: 3, succeeded: 1, failed: 1, skipped: 0, cancelled: 0 },
			committed: false,
		});
		assert.equal(await resolveRunId(stateDir), 'r3');
		assert.equal(await resolveRunId(stateDir, 'r2'), 'r2');
		await assert.rejects(resolveRunId(stateDir, 'r'), (err: unknown) => StateError.is(err, 'not-found') && /ambiguous/.test(err.message));
		await assert.rejects(resolveRunId(stateDir, 'zz'), (err: unknown) => StateError.is(err, 'not-found'));
	});

	it('a summary that says running is shown as interrupted once its process is gone', async () => {
		const stateDir = join(tempDir(), '.quantum');
		await createRunDir(stateDir, 'r');
		await writeRunSummary(stateDir, {
			runId: 'r',
			workflow: 'w',
			status: 'running',
			startedAt: 1,
			steps: { total: 0, succeeded: 0, failed: 0, skipped: 0, cancelled: 0 },
			committed: false,
		});
		assert.equal((await listRuns(stateDir))[0].status, 'interrupted');
		assert.equal((await readRunSummary(stateDir, 'r'))?.status, 'running');
	});

	it('no runs folder means no runs', async () => {
		assert.deepEqual(await listRuns(join(tempDir(), '.quantum')), []);
	});

	it('global context persists between loads and a corrupt file is a clear error', async () => {
		const stateDir = join(tempDir(), '.quantum');
		const ctx = await ContextStore.load(stateDir);
		assert.equal(ctx.get('k'), undefined);
		ctx.set('k', { deep: [1, 2] });
		await ctx.save();
		assert.deepEqual((await ContextStore.load(stateDir)).get('k'), { deep: [1, 2] });
		writeFileSync(join(stateDir, 'context.json'), '{oops');
		await assert.rejects(ContextStore.load(stateDir), (err: unknown) => StateError.is(err, 'corrupt') && /global context .*context\.json/.test(err.message));
	});

	it('durations keep a mean per step key over the last runs', async () => {
		const stateDir = join(tempDir(), '.quantum');
		mkdirSync(stateDir);
		const stats = await DurationStats.load(stateDir);
		stats.record('flow#build', 100);
		stats.record('flow#build', 200);
		await stats.save();
		const again = await DurationStats.load(stateDir);
		assert.equal(again.mean('flow#build'), 150);
		assert.equal(again.mean('flow#other'), undefined);
		for (let i = 0; i < 100; i++) again.record('flow#build', 1000);
		assert.ok((again.mean('flow#build') as number) > 990, 'old samples fade out');
	});
});
