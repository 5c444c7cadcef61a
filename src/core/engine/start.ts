// Starting a run and resuming one: take the run's lock, write or check its journal, then hand it to execute().
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import { StateError } from '../errors';
import { readJournal, Journal } from '../state/journal';
import { acquireRunLock, type ReleaseLock } from '../state/runLock';
import { fsyncDir } from '../state/atomicFs';
import { ContextStore, makeRunDir, newRunId, resolveRunId, runPaths, updateRunSummary } from '../state/runStore';
import type { Workflow } from '../workflow/schema';
import { planWithDurations } from './durations';
import type { EngineContext } from './engineContext';
import { execute, type RunResult } from './execute';
import type { Plan, RunSettings } from './plan';
import { journalState, reconstruct } from './resume';
import { snapshotBytes, SNAPSHOT_FILE, workflowForResume, writeSnapshot } from './snapshot';

export interface RunOptions {
	settings?: Partial<RunSettings>;
	signal?: AbortSignal;
	/** Called once the run has an id and a journal (its header on its way to the disk), before any step starts. */
	onStart?(runId: string): void;
	/** Use this run id (from newRunId, given out before the run starts, e.g. to a queued API submission). */
	runId?: string;
}

export interface ResumeOptions {
	/** Resume even though the workflow file changed since the run started (the new file is used). */
	force?: boolean;
	signal?: AbortSignal;
	settings?: Partial<RunSettings>;
}

/**
 * Runs a workflow as a new run: its folder, lock and journal header (with the workflow's source), then execute().
 * What makes the header valid is done before it is written — the run's lock, the snapshot it names, the folders'
 * fsyncs — and that, with the header's own durable write, overlaps the first steps: only pure steps (effect "none":
 * nothing outside the run to undo or redo) start before the header is durable, every other step waits for it (see
 * RunExecution). So no effect precedes its run's durable record, and no other process can resume or roll back a run
 * before this one holds its lock (both need the header). A run whose lock or header fails stops and throws.
 */
export async function startRun(ctx: EngineContext, workflow: Workflow, runOpts: RunOptions = {}): Promise<RunResult> {
	const { stateDir, sandbox } = ctx;
	const { clock } = ctx.services;
	const context = ContextStore.load(stateDir);
	context.catch(() => undefined); // execute() reports it
	const { runId, paths, syncFolders } = await newRunDir(stateDir, clock.now(), runOpts.runId);
	const file = workflow.file ? relativeIfInside(sandbox.root, workflow.file) : undefined;
	const source = await snapshotBytes(workflow);
	let lock: Promise<ReleaseLock> | undefined;
	const release = async () => {
		const unlock = await lock?.catch(() => undefined);
		await unlock?.();
	};
	// Before the header: the lock and the snapshot in place, then everything durable at once: the snapshot's content
	// and the new folder entries (the run folder's fsync: lock, journal, snapshot; the folders above it: the run
	// folder's own entry). Their small writes are synchronous, so this needs few turns of the event loop, and it
	// starts before planning, so the disk works while the plan is made.
	let gate: Promise<void> | undefined;
	const journal = await Journal.create(paths.journal, () => (gate = prepareHeader(paths.dir, source, syncFolders, (l) => (lock = l))));
	let thePlan: Plan;
	try {
		thePlan = await planWithDurations(ctx, workflow, runOpts.settings);
		// Agent files may have changed since the last run (an edit, a new agent): read them again, cheaply.
		if (thePlan.hasAgentSteps) await ctx.reloadAgents?.();
	} catch (err) {
		// Not started: nothing was journaled; the run folder made for it goes.
		await gate?.catch(() => undefined);
		await journal.close().catch(() => undefined);
		await release();
		await rm(paths.dir, { recursive: true, force: true }).catch(() => undefined);
		throw err;
	}
	journal.append({
		t: 'run',
		runId,
		startedAt: clock.now(),
		workspace: sandbox.root,
		file,
		sourceHash: workflow.sourceHash,
		name: workflow.name,
		steps: workflow.instructions.length,
		variables: workflow.variables,
		snapshot: source === undefined ? undefined : SNAPSHOT_FILE,
		workflow: source === undefined ? workflow : undefined,
		undo: thePlan.undo,
		options: { concurrency: thePlan.settings.concurrency, mode: thePlan.settings.mode, onFailure: thePlan.settings.onFailure },
	});
	// No summary yet: until the run ends, `qo runs` reads its state from the journal and the lock.
	const started = journal.flush();
	started.catch(() => undefined); // execute() and the steps waiting for it report a failure
	const meta = { file, startedAt: clock.now() };
	runOpts.onStart?.(runId);
	return execute(ctx, { runId, plan: thePlan, journal, release, signal: runOpts.signal, meta, started, context });
}

/** What must be durable before a new run's header: its lock, the snapshot the header names, the new folder entries. */
async function prepareHeader(
	dir: string,
	source: Buffer | string | undefined,
	syncFolders: () => Promise<void>,
	locked: (lock: Promise<ReleaseLock>) => void,
): Promise<void> {
	const lock = acquireRunLock(dir, 'run', { syncFolder: false });
	locked(lock);
	const snapshot = source === undefined ? undefined : writeSnapshot(dir, source);
	try {
		await lock;
	} catch (err) {
		await snapshot?.then((s) => s.close(), () => undefined);
		throw err;
	}
	const published = await snapshot;
	await Promise.all([published?.sync(), syncFolders(), fsyncDir(dir)]);
}

/** Continues an interrupted or failed run (the latest when `given` is undefined) from what its journal recorded. */
export async function resumeRun(ctx: EngineContext, given?: string, resumeOpts: ResumeOptions = {}): Promise<RunResult> {
	const { stateDir } = ctx;
	const { clock } = ctx.services;
	const runId = await resolveRunId(stateDir, given);
	const paths = runPaths(stateDir, runId);
	const release = await acquireRunLock(paths.dir);
	let journal: Journal | undefined;
	try {
		const contents = await readJournal(paths.journal);
		if (contents.error) throw contents.error;
		if (contents.records.length === 0) {
			throw new StateError('not-found', `run ${runId} was interrupted before it started (its journal is empty); start it again with qo run`);
		}
		const state = journalState(contents.records, paths.journal);
		if (state.committed) throw new StateError('changed', `run ${runId} was committed; there is nothing to resume`);
		if (state.rollbackStarted) {
			throw new StateError('changed', `run ${runId} was rolled back${state.rolledBack ? '' : ' (not finished: run `qo rollback` again)'}; it cannot be resumed`);
		}
		if (state.ended?.status === 'succeeded') throw new StateError('changed', `run ${runId} already succeeded; there is nothing to resume`);
		const workflow = await workflowForResume(ctx, state.run, runId, resumeOpts.force ?? false);
		const recorded = state.run.options;
		const settings: Partial<RunSettings> = {
			concurrency: recorded.concurrency,
			mode: recorded.mode as RunSettings['mode'],
			onFailure: recorded.onFailure as RunSettings['onFailure'],
			...resumeOpts.settings,
		};
		const thePlan = await planWithDurations(ctx, workflow, settings);
		const resumeState = reconstruct(contents.records, thePlan);
		journal = await Journal.open(paths.journal);
		journal.append({ t: 'resume', at: clock.now(), pid: process.pid });
		await journal.flush();
		await updateRunSummary(stateDir, runId, { status: 'running' });
		const meta = { file: state.run.file, startedAt: state.run.startedAt };
		return await execute(ctx, {
			runId,
			plan: thePlan,
			journal,
			release,
			previous: contents.records,
			resume: resumeState,
			signal: resumeOpts.signal,
			meta,
		});
	} catch (err) {
		if (journal) await journal.close().catch(() => undefined);
		await release().catch(() => undefined);
		throw err;
	}
}

/** The run's folder under a fresh id (a new one on the rare clash of two runs started in the same second), or the given one. */
async function newRunDir(stateDir: string, now: number, given: string | undefined): Promise<{ runId: string } & Awaited<ReturnType<typeof makeRunDir>>> {
	if (given !== undefined) {
		if (!RUN_ID.test(given)) throw new StateError('not-found', `"${given}" is not a run id (expected yyyyMMdd-HHmmss-xxxx)`);
		return { runId: given, ...(await makeRunDir(stateDir, given)) };
	}
	for (let attempt = 1; ; attempt++) {
		const runId = newRunId(new Date(now));
		try {
			return { runId, ...(await makeRunDir(stateDir, runId)) };
		} catch (err) {
			if (attempt >= 8 || !StateError.is(err) || !/already exists/.test(err.message)) throw err;
		}
	}
}

/** What newRunId makes. */
const RUN_ID = /^\d{8}-\d{6}-[0-9a-f]{4,}$/;

function relativeIfInside(root: string, file: string): string {
	const rel = path.relative(root, file);
	return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel.split(path.sep).join('/');
}
