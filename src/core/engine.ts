// The core's front door: createEngine(ports) → load, plan, run, resume, rollback, commit, runs, checkpoints.
import { readdir, readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { loadavg, cpus } from 'node:os';
import * as path from 'node:path';
import { StateError, describeError } from './errors';
import { EventStream } from './engine/events';
import { planWorkflow, type Plan, type RunSettings } from './engine/plan';
import { journalState, reconstruct, type ResumeState } from './engine/resume';
import { RunExecution, type RunOutcome, type RunServices } from './engine/run';
import { runCompensation, undoCommands, undoOf } from './engine/compensate';
import { createDefaultRegistry, type HandlerRegistry } from './handlers';
import type { SecretPolicy } from './handlers/types';
import { nullLogger, rejectAll, systemClock, type Clock, type DecisionPrompter, type Logger } from './ports';
import { DEFAULT_SECRET_PATTERNS, scrubEnv } from './sandbox/env';
import { createSandbox } from './sandbox/paths';
import type { Sandbox, SandboxPolicy } from './sandbox/types';
import { readJournal, Journal } from './state/journal';
import { writeFileAtomic } from './state/atomicFs';
import { acquireRunLock } from './state/runLock';
import { createTransaction, rollback as rollbackFiles, type RollbackResult } from './state/transaction';
import {
	ContextStore,
	createRunDir,
	DurationStats,
	listRuns,
	newRunId,
	resolveRunId,
	runPaths,
	runsDir,
	stateDirFor,
	updateRunSummary,
	writeRunSummary,
	type RunSummary,
} from './state/runStore';
import type { JournalRecord } from './state/records';
import {
	createCheckpoint,
	deleteCheckpoint,
	listCheckpoints,
	restoreCheckpoint,
	type CheckpointInfo,
	type CheckpointRestoreResult,
} from './state/checkpoints';
import { collectGarbage, DEFAULT_GC_POLICY, type GcPolicy } from './state/gc';
import { loadWorkflowFile, parseWorkflowText } from './workflow/parse';
import type { Workflow } from './workflow/schema';

export interface EngineOptions {
	/** The workspace folder: the sandbox's root. */
	workspace: string;
	/** Default `<workspace>/.quantum`. */
	stateDir?: string;
	registry?: HandlerRegistry;
	logger?: Logger;
	/** Who answers approvals; default: reject everything (headless without --yes). */
	prompter?: DecisionPrompter;
	clock?: Clock;
	/** Default process.env. */
	env?: NodeJS.ProcessEnv;
	sandboxPolicy?: Partial<SandboxPolicy>;
	/** Regexes for env var names removed from child processes; default DEFAULT_SECRET_PATTERNS. */
	secretPatterns?: string[];
	/** Limits for old run state and checkpoints, applied after each run; default DEFAULT_GC_POLICY. */
	gc?: Partial<GcPolicy>;
}

export interface Checkpoints {
	/** Save the current content of every path runs touched (or `paths`). */
	create(name: string, opts?: { paths?: string[]; replace?: boolean }): Promise<CheckpointInfo>;
	list(): Promise<CheckpointInfo[]>;
	/** Put a checkpoint back, as a journaled run that can itself be rolled back. */
	restore(name: string, opts?: { force?: boolean }): Promise<CheckpointRestoreResult>;
	delete(name: string): Promise<void>;
}

export interface LoadOptions {
	/** Override or add workflow variables (`qo run --var NAME=VALUE`); validation sees them. */
	variables?: Record<string, unknown>;
}

export interface RunOptions {
	settings?: Partial<RunSettings>;
	signal?: AbortSignal;
	/** Called once the run has an id and a journal, before any step starts. */
	onStart?(runId: string): void;
}

export interface RunResult extends RunOutcome {
	runId: string;
	/** Set when on_failure "rollback" rolled the run back. */
	rollback?: RollbackResult;
}

export interface ResumeOptions {
	/** Resume even though the workflow file changed since the run started (the new file is used). */
	force?: boolean;
	signal?: AbortSignal;
	settings?: Partial<RunSettings>;
}

export interface Engine {
	readonly events: EventStream;
	readonly registry: HandlerRegistry;
	readonly workspace: string;
	readonly stateDir: string;
	/** Read and validate a workflow file; throws WorkflowError listing every problem. */
	load(file: string, opts?: LoadOptions): Promise<Workflow>;
	parse(text: string, file?: string, opts?: LoadOptions): Workflow;
	plan(workflow: Workflow, settings?: Partial<RunSettings>): Promise<Plan>;
	run(workflow: Workflow, opts?: RunOptions): Promise<RunResult>;
	resume(runId?: string, opts?: ResumeOptions): Promise<RunResult>;
	rollback(runId?: string, opts?: { force?: boolean }): Promise<RollbackResult & { runId: string }>;
	/** Accept a run's changes: its before-images are released and it can no longer be rolled back. */
	commit(runId?: string): Promise<string>;
	runs(): Promise<RunSummary[]>;
	readonly checkpoints: Checkpoints;
	dispose(): void;
}

/** The size limit of the GC policy is checked after one run in this many, on average (see gcDue). */
const GC_SIZE_CHECK_EVERY = 10;

/** Steps faster than this do not shape critical paths; not recording them keeps stats.json small. */
const MIN_RECORDED_MS = 5;

/** Journal flush interval for records nobody waits on (pure steps' ends), so a crash loses little progress. */
const BACKGROUND_FLUSH_MS = 200;

export async function createEngine(opts: EngineOptions): Promise<Engine> {
	const workspace = path.resolve(opts.workspace);
	const stateDir = opts.stateDir ?? stateDirFor(workspace);
	const registry = opts.registry ?? createDefaultRegistry();
	const logger = opts.logger ?? nullLogger;
	const clock = opts.clock ?? systemClock;
	const env = opts.env ?? process.env;
	const events = new EventStream();
	const sandbox: Sandbox = await createSandbox(workspace, opts.sandboxPolicy);
	const secretPolicy: SecretPolicy = { patterns: opts.secretPatterns ?? [...DEFAULT_SECRET_PATTERNS] };
	const childEnv = scrubEnv(env, { patterns: secretPolicy.patterns }).env;
	const cores = Math.max(1, cpus().length);
	const services: RunServices = {
		workspace: sandbox.root,
		sandbox,
		logger: {
			log(level, scope, message) {
				logger.log(level, scope, message);
				if (events.active) events.emit({ type: 'log', level, scope, message });
			},
		},
		prompter: opts.prompter ?? rejectAll,
		clock,
		events,
		env,
		childEnv,
		secretPolicy,
		loadProbe: () => loadavg()[0] / cores,
	};
	const parseOptions = { registry, env, workspace: sandbox.root };
	const checkpointContext = { workspace: sandbox.root, stateDir, sandbox };

	const durationKey = (workflow: Workflow, id: string) => `${workflow.name}#${id}`;

	async function plan(workflow: Workflow, settings?: Partial<RunSettings>): Promise<Plan> {
		const stats = await DurationStats.load(stateDir).catch(() => undefined);
		return planWorkflow(workflow, {
			registry,
			sandbox,
			workspace: sandbox.root,
			env,
			settings,
			durations: stats ? (id) => stats.mean(durationKey(workflow, id)) : undefined,
		});
	}

	/** Runs (or continues) an execution with its journal open and its lock held, then closes everything. */
	async function execute(
		runId: string,
		thePlan: Plan,
		journal: Journal,
		release: () => Promise<void>,
		previous: readonly JournalRecord[] | undefined,
		resume: ResumeState | undefined,
		signal: AbortSignal | undefined,
		meta: { file?: string; startedAt: number },
	): Promise<RunResult> {
		const tx = createTransaction({ runId, workspace: sandbox.root, stateDir, sandbox, journal, previous });
		let execution: RunExecution | undefined;
		const flusher = setInterval(() => {
			execution?.flushPureEnds();
			journal.flush().catch(() => undefined);
		}, BACKGROUND_FLUSH_MS);
		flusher.unref();
		let outcome: RunOutcome;
		let rolledBack: RollbackResult | undefined;
		try {
			const store = await ContextStore.load(stateDir);
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
			});
			outcome = await execution.execute();
			journal.append({ t: 'run-end', status: outcome.status, at: clock.now(), durationMs: outcome.durationMs });
			const finished = outcome;
			const saveContext = async () => {
				if (!execution?.contextChanged) return;
				for (const [k, v] of context) store.set(k, v);
				await store.save();
			};
			await Promise.all([journal.flush(), saveContext(), recordDurations(thePlan, finished)]);
			if (outcome.status === 'failed' && thePlan.settings.onFailure === 'rollback') {
				services.logger.log('info', 'run', `on_failure is "rollback": rolling back ${runId}`);
				rolledBack = await doRollback(runId, false, journal);
				outcome = { ...outcome, status: 'rolled_back' };
			}
		} finally {
			clearInterval(flusher);
			tx.dispose();
			await journal.close().catch(() => undefined);
			await release();
		}
		const summary: RunSummary = {
			runId,
			workflow: thePlan.workflow.name,
			file: meta.file,
			startedAt: meta.startedAt,
			committed: false,
			status: outcome.status,
			durationMs: outcome.durationMs,
			steps: {
				total: thePlan.steps.length,
				succeeded: outcome.counts.succeeded ?? 0,
				failed: outcome.counts.failed ?? 0,
				skipped: outcome.counts.skipped ?? 0,
				cancelled: outcome.counts.cancelled ?? 0,
			},
		};
		await writeRunSummary(stateDir, summary).catch((err) => services.logger.log('warn', 'state', describeError(err)));
		if (await gcDue()) await collectGarbage(stateDir, opts.gc, { keep: [runId] }).then(
			(gc) => {
				if (gc.removedRuns.length) services.logger.log('info', 'gc', `removed ${gc.removedRuns.length} old runs (${gc.freedBytes} bytes)`);
				if (gc.overLimit) services.logger.log('warn', 'gc', gc.overLimit);
			},
			(err) => services.logger.log('warn', 'gc', describeError(err)),
		);
		if (events.active) {
			events.emit({ type: 'run-finished', runId, status: outcome.status, durationMs: outcome.durationMs, counts: outcome.counts, message: outcome.message });
		}
		return { ...outcome, runId, rollback: rolledBack };
	}

	/**
	 * Whether to apply the GC policy now: always once there are more run folders than the count limit (one readdir),
	 * and after one run in GC_SIZE_CHECK_EVERY on average for the size limit, which needs every run folder measured.
	 */
	async function gcDue(): Promise<boolean> {
		const maxRuns = opts.gc?.maxRuns ?? DEFAULT_GC_POLICY.maxRuns;
		const count = await readdir(runsDir(stateDir)).then((d) => d.length, () => 0);
		return count > maxRuns || Math.random() < 1 / GC_SIZE_CHECK_EVERY;
	}

	async function recordDurations(thePlan: Plan, outcome: RunOutcome): Promise<void> {
		// Only worth it for steps that take time: a 100,000-step run of no-ops would only bloat stats.json.
		let stats: DurationStats | undefined;
		for (let i = 0; i < thePlan.steps.length; i++) {
			const d = outcome.durations[i];
			if (!(d >= MIN_RECORDED_MS)) continue;
			stats ??= await DurationStats.load(stateDir);
			stats.record(durationKey(thePlan.workflow, thePlan.steps[i].instruction.id), d);
		}
		await stats?.save().catch((err) => services.logger.log('warn', 'state', describeError(err)));
	}

	async function run(workflow: Workflow, runOpts: RunOptions = {}): Promise<RunResult> {
		const thePlan = await plan(workflow, runOpts.settings);
		const runId = newRunId(new Date(clock.now()));
		const paths = await createRunDir(stateDir, runId);
		const release = await acquireRunLock(paths.dir);
		let journal: Journal;
		let meta: { file?: string; startedAt: number };
		try {
			const file = workflow.file ? relativeIfInside(sandbox.root, workflow.file) : undefined;
			let snapshot: string | undefined;
			[journal, snapshot] = await Promise.all([Journal.open(paths.journal), snapshotSource(workflow, paths.dir)]);
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
				snapshot,
				workflow: snapshot ? undefined : workflow,
				undo: undoOf(workflow),
				options: { concurrency: thePlan.settings.concurrency, mode: thePlan.settings.mode, onFailure: thePlan.settings.onFailure },
			});
			// No summary yet: until the run ends, `qo runs` reads its state from the journal and the lock.
			await journal.flush();
			meta = { file, startedAt: clock.now() };
		} catch (err) {
			await release();
			throw err;
		}
		runOpts.onStart?.(runId);
		return execute(runId, thePlan, journal, release, undefined, undefined, runOpts.signal, meta);
	}

	async function resume(given?: string, resumeOpts: ResumeOptions = {}): Promise<RunResult> {
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
			const workflow = await workflowForResume(state.run, runId, resumeOpts.force ?? false);
			const recorded = state.run.options;
			const settings: Partial<RunSettings> = {
				concurrency: recorded.concurrency,
				mode: recorded.mode as RunSettings['mode'],
				onFailure: recorded.onFailure as RunSettings['onFailure'],
				...resumeOpts.settings,
			};
			const thePlan = await plan(workflow, settings);
			const resumeState = reconstruct(contents.records, thePlan);
			journal = await Journal.open(paths.journal);
			journal.append({ t: 'resume', at: clock.now(), pid: process.pid });
			await journal.flush();
			await updateRunSummary(stateDir, runId, { status: 'running' });
			const meta = { file: state.run.file, startedAt: state.run.startedAt };
			return await execute(runId, thePlan, journal, release, contents.records, resumeState, resumeOpts.signal, meta);
		} catch (err) {
			if (journal) await journal.close().catch(() => undefined);
			await release().catch(() => undefined);
			throw err;
		}
	}

	/** The workflow exactly as the run started it: the verified copy in the run folder, or the inline one. */
	async function recordedWorkflow(record: JournalRecord & { t: 'run' }, runDir: string): Promise<Workflow> {
		if (!record.snapshot) return record.workflow as Workflow;
		const abs = record.file ? path.resolve(sandbox.root, record.file) : path.join(runDir, record.snapshot);
		const text = await readFile(path.join(runDir, record.snapshot), 'utf8');
		const parsed = parseWorkflowText(text, { ...parseOptions, file: abs });
		return { ...parsed, file: abs, sourceHash: record.sourceHash, variables: record.variables };
	}

	async function workflowForResume(record: JournalRecord & { t: 'run' }, runId: string, force: boolean): Promise<Workflow> {
		const snapshot = () => recordedWorkflow(record, runPaths(stateDir, runId).dir);
		if (!record.file) return snapshot();
		const abs = path.resolve(sandbox.root, record.file);
		let bytes: Buffer;
		try {
			bytes = await readFile(abs);
		} catch {
			services.logger.log('warn', 'resume', `workflow file ${record.file} is gone; resuming from the copy saved with the run`);
			return snapshot();
		}
		const hash = createHash('sha256').update(bytes).digest('hex');
		if (hash === record.sourceHash) return snapshot();
		if (!force) {
			throw new StateError(
				'changed',
				`workflow file ${record.file} changed since run ${runId} started; resume with --force to run the new version`,
			);
		}
		return loadWorkflowFile(abs, parseOptions);
	}

	/** Rolls a run back; `journal` is passed when the caller already holds the run's lock and journal. */
	async function doRollback(runId: string, force: boolean, journal?: Journal): Promise<RollbackResult> {
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
							if (command) out.push(await runCompensation({ step, undo: command }, { sandbox, env: childEnv, logger: services.logger }));
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

	async function rollback(given?: string, rbOpts: { force?: boolean } = {}) {
		const runId = await resolveRunId(stateDir, given);
		return { ...(await doRollback(runId, rbOpts.force ?? false)), runId };
	}

	async function commit(given?: string): Promise<string> {
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
				journal.append({ t: 'commit', at: clock.now() });
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

	return {
		events,
		registry,
		workspace: sandbox.root,
		stateDir,
		load: (file, o) => loadWorkflowFile(path.resolve(file), { ...parseOptions, variables: o?.variables }),
		parse: (text, file, o) => {
			const workflow = parseWorkflowText(text, { ...parseOptions, file, variables: o?.variables });
			parsedText.set(workflow, text);
			return workflow;
		},
		plan,
		run,
		resume,
		rollback,
		commit,
		runs: () => listRuns(stateDir),
		checkpoints: {
			create: (name, o) => createCheckpoint(checkpointContext, name, o),
			list: () => listCheckpoints(checkpointContext),
			restore: (name, o) => restoreCheckpoint(checkpointContext, name, o),
			delete: (name) => deleteCheckpoint(checkpointContext, name),
		},
		dispose() {},
	};
}

/** The exact text engine.parse read, so a run can save it instead of serializing the parsed workflow again. */
const parsedText = new WeakMap<Workflow, string>();

/**
 * Saves the workflow's source with the run: the text engine.parse read, or the file's bytes when they still match
 * what was loaded. Otherwise (undefined) the run record holds the parsed workflow itself.
 */
async function snapshotSource(workflow: Workflow, runDir: string): Promise<string | undefined> {
	let bytes: Buffer | string | undefined = parsedText.get(workflow);
	if (bytes === undefined) {
		if (!workflow.file || !workflow.sourceHash) return undefined;
		bytes = await readFile(workflow.file).catch(() => undefined);
		if (!bytes || createHash('sha256').update(bytes).digest('hex') !== workflow.sourceHash) return undefined;
	}
	await writeFileAtomic(path.join(runDir, SNAPSHOT_FILE), bytes, { what: 'workflow snapshot' });
	return SNAPSHOT_FILE;
}

const SNAPSHOT_FILE = 'workflow.json';

function relativeIfInside(root: string, file: string): string {
	const rel = path.relative(root, file);
	return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel.split(path.sep).join('/');
}

function countTouched(records: readonly JournalRecord[]): number {
	const paths = new Set<string>();
	for (const r of records) if (r.t === 'before') paths.add(r.path);
	return paths.size;
}
