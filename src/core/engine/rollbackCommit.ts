// The two ways a finished run is settled: roll its changes back (with compensations), or commit them for good.
import { StateError } from '../errors';
import { readJournal, Journal } from '../state/journal';
import type { JournalRecord } from '../state/records';
import { acquireRunLock } from '../state/runLock';
import { resolveRunId, runPaths, updateRunSummary } from '../state/runStore';
import { rollback as rollbackFiles, type RollbackResult } from '../state/transaction';
import { runCompensation, undoCommands } from './compensate';
import type { EngineContext } from './engineContext';
import { journalState } from './resume';

/** Rolls a run back; `journal` is passed when the caller already holds the run's lock and journal. */
export async function rollbackRun(ctx: EngineContext, runId: string, force: boolean, journal?: Journal): Promise<RollbackResult> {
	const { stateDir, sandbox, services } = ctx;
	const { events } = services;
	const paths = runPaths(stateDir, runId);
	const contents = await readJournal(paths.journal);
	const records = contents.records;
	if (records.length === 0) {
		// Killed before its first record: it never touched a file.
		await updateRunSummary(stateDir, runId, { status: 'rolled_back' }).catch(() => undefined);
		return { restored: 0, removed: 0, unchanged: 0, conflicts: [], compensations: [] };
	}
	const state = journalState(records, paths.journal);
	if (state.committed && !force) throw new StateError('changed', `run ${runId} was committed; its changes are final (use --force to roll back anyway)`);
	const undo = undoCommands(records);
	if (events.active) events.emit({ type: 'rollback-started', runId, files: countTouched(records) });
	const result = await rollbackFiles({
		runId,
		workspace: sandbox.root,
		stateDir,
		sandbox,
		force,
		journal,
		compensate: undo.size
			? async (stepIds) => {
					const out = [];
					for (const step of stepIds) {
						const command = undo.get(step);
						if (command) out.push(await runCompensation({ step, undo: command }, { sandbox, env: services.childEnv, logger: services.logger }));
					}
					return out;
				}
			: undefined,
	});
	await updateRunSummary(stateDir, runId, { status: result.conflicts.length ? 'failed' : 'rolled_back' }).catch(() => undefined);
	if (events.active) {
		events.emit({
			type: 'rollback-finished',
			runId,
			restored: result.restored,
			removed: result.removed,
			conflicts: result.conflicts,
			compensations: result.compensations.length,
		});
	}
	return result;
}

/** Accepts a run's changes (the latest run when `given` is undefined); returns its id. */
export async function commitRun(ctx: EngineContext, given?: string): Promise<string> {
	const { stateDir } = ctx;
	const runId = await resolveRunId(stateDir, given);
	const paths = runPaths(stateDir, runId);
	const release = await acquireRunLock(paths.dir);
	try {
		const contents = await readJournal(paths.journal);
		const state = journalState(contents.records, paths.journal);
		if (state.rollbackStarted) throw new StateError('changed', `run ${runId} was rolled back; there is nothing to commit`);
		if (!state.ended) throw new StateError('changed', `run ${runId} has not finished; resume or roll it back first`);
		if (state.committed) return runId;
		const journal = await Journal.open(paths.journal);
		try {
			journal.append({ t: 'commit', at: ctx.services.clock.now() });
			await journal.flush();
		} finally {
			await journal.close();
		}
		await updateRunSummary(stateDir, runId, { committed: true });
		return runId;
	} finally {
		await release();
	}
}

function countTouched(records: readonly JournalRecord[]): number {
	const paths = new Set<string>();
	for (const r of records) if (r.t === 'before') paths.add(r.path);
	return paths.size;
}
