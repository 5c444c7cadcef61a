// Runs an opened execution to its end, then closes it: journal, context, durations, summary, GC, events.
import { readdir } from 'node:fs/promises';
import { describeError } from '../errors';
import { collectGarbage, DEFAULT_GC_POLICY } from '../state/gc';
import type { Journal } from '../state/journal';
import type { JournalRecord } from '../state/records';
import { ContextStore, runsDir, writeRunSummary, type RunSummary } from '../state/runStore';
import { createTransaction, type RollbackResult } from '../state/transaction';
import { recordDurations } from './durations';
import type { EngineContext } from './engineContext';
import type { Plan } from './plan';
import type { ResumeState } from './resume';
import { rollbackRun } from './rollbackCommit';
import { RunExecution } from './run';
import type { RunOutcome } from './runTypes';

export interface RunResult extends RunOutcome {
	runId: string;
	/** Set when on_failure "rollback" rolled the run back. */
	rollback?: RollbackResult;
}

/** A run ready to execute: its lock held and its journal open, both handed over to execute(). */
export interface OpenedRun {
	runId: string;
	plan: Plan;
	journal: Journal;
	release: () => Promise<void>;
	/** When resuming: the journal's records so far, and the state rebuilt from them. */
	previous?: readonly JournalRecord[];
	resume?: ResumeState;
	signal?: AbortSignal;
	meta: { file?: string; startedAt: number };
	/** A new run: resolves once its header is durable (pure steps may run before; see startRun). */
	started?: Promise<void>;
	/** The global context, when its loading started earlier (a new run loads it while planning). */
	context?: Promise<ContextStore>;
}

/** The size limit of the GC policy is checked after one run in this many, on average (see gcDue). */
const GC_SIZE_CHECK_EVERY = 10;

/** Journal flush interval for records nobody waits on (pure steps' ends), so a crash loses little progress. */
const BACKGROUND_FLUSH_MS = 200;

/** Runs (or continues) an execution with its journal open and its lock held, then closes everything. */
export async function execute(ctx: EngineContext, opened: OpenedRun): Promise<RunResult> {
	const { stateDir, sandbox, services } = ctx;
	const { clock, events } = services;
	const { runId, plan: thePlan, journal, release, previous, resume, signal, meta, started } = opened;
	const tx = createTransaction({ runId, workspace: sandbox.root, stateDir, sandbox, journal, previous });
	let execution: RunExecution | undefined;
	const flusher = setInterval(() => {
		execution?.flushPureEnds();
		journal.flush().catch(() => undefined);
	}, BACKGROUND_FLUSH_MS);
	flusher.unref();
	let outcome: RunOutcome;
	let rolledBack: RollbackResult | undefined;
	/** Resolves to the error of an early summary write, if it failed. */
	let summaryWritten: Promise<unknown> | undefined;
	try {
		const store = await (opened.context ?? ContextStore.load(stateDir));
		const context = new Map(Object.entries(store.toJSON()));
		if (resume) for (const [k, v] of resume.context) context.set(k, v);
		// A step a crash interrupted is put back to its state before that step, so re-running it applies it once.
		for (const id of tx.interruptedSteps()) await tx.undoInterrupted(id);
		execution = new RunExecution({
			runId,
			plan: thePlan,
			journal,
			tx,
			services,
			signal,
			context,
			initial: resume?.initial,
			outputs: resume?.outputs,
			inDoubt: resume?.inDoubt,
			editedParams: resume?.editedParams,
			resumed: resume !== undefined,
			started,
		});
		outcome = await execution.execute();
		// A run whose header never became durable did not start: it keeps nothing (context, durations, summary) and
		// throws, as when it cannot start at all.
		await started;
		journal.append({ t: 'run-end', status: outcome.status, at: clock.now(), durationMs: outcome.durationMs });
		const finished = outcome;
		const saveContext = async () => {
			if (!execution?.contextChanged) return;
			for (const [k, v] of context) store.set(k, v);
			await store.save();
		};
		const flushed = journal.flush();
		const rollingBack = outcome.status === 'failed' && thePlan.settings.onFailure === 'rollback';
		// The summary goes to the disk alongside the journal's last commit, and replaces the old one once that is durable.
		if (!rollingBack) summaryWritten = writeRunSummary(stateDir, summaryOf(runId, thePlan, meta, finished), { after: flushed }).then(() => undefined, (err: unknown) => err);
		await Promise.all([flushed, saveContext(), recordDurations(ctx, thePlan, finished)]);
		if (rollingBack) {
			services.logger.log('info', 'run', `on_failure is "rollback": rolling back ${runId}`);
			rolledBack = await rollbackRun(ctx, runId, false, journal);
			outcome = { ...outcome, status: 'rolled_back' };
		}
	} finally {
		clearInterval(flusher);
		tx.dispose();
		await journal.close().catch(() => undefined);
		await release();
	}
	const [summaryError, gcNow] = await Promise.all([
		summaryWritten ?? writeRunSummary(stateDir, summaryOf(runId, thePlan, meta, outcome)).then(() => undefined, (err: unknown) => err),
		gcDue(ctx),
	]);
	if (summaryError) services.logger.log('warn', 'state', describeError(summaryError));
	if (gcNow) await collectGarbage(stateDir, ctx.gc, { keep: [runId] }).then(
		(gc) => {
			if (gc.removedRuns.length) services.logger.log('info', 'gc', `removed ${gc.removedRuns.length} old runs (${gc.freedBytes} bytes)`);
			if (gc.overLimit) services.logger.log('warn', 'gc', gc.overLimit);
		},
		(err) => services.logger.log('warn', 'gc', describeError(err)),
	);
	if (events.active) {
		events.emit({
			type: 'run-finished',
			runId,
			status: outcome.status,
			durationMs: outcome.durationMs,
			counts: outcome.counts,
			message: outcome.message,
			...(outcome.usage ? { usage: outcome.usage } : {}),
		});
	}
	return { ...outcome, runId, rollback: rolledBack };
}

function summaryOf(runId: string, thePlan: Plan, meta: OpenedRun['meta'], outcome: RunOutcome): RunSummary {
	return {
		runId,
		workflow: thePlan.workflow.name,
		file: meta.file,
		startedAt: meta.startedAt,
		committed: false,
		status: outcome.status,
		durationMs: outcome.durationMs,
		steps: {
			total: thePlan.ops.length,
			succeeded: outcome.counts.succeeded ?? 0,
			failed: outcome.counts.failed ?? 0,
			skipped: outcome.counts.skipped ?? 0,
			cancelled: outcome.counts.cancelled ?? 0,
		},
		...(outcome.usage ? { usage: outcome.usage } : {}),
	};
}

/**
 * Whether to apply the GC policy now: always once there are more run folders than the count limit (one readdir),
 * and after one run in GC_SIZE_CHECK_EVERY on average for the size limit, which needs every run folder measured.
 */
async function gcDue(ctx: EngineContext): Promise<boolean> {
	const maxRuns = ctx.gc?.maxRuns ?? DEFAULT_GC_POLICY.maxRuns;
	const count = await readdir(runsDir(ctx.stateDir)).then((d) => d.length, () => 0);
	return count > maxRuns || Math.random() < 1 / GC_SIZE_CHECK_EVERY;
}
