// Telemetry fed by the engine's event stream: per run (by workflow), step, handler and agent — counts, outcomes,
// durations (mean, quantiles), throughput, tokens and cost — plus steps waiting now and conflicts other code counts.
// Kept in `.quantum/metrics.json`: saved a moment after changes, atomically, by adding what this process recorded to
// what the file holds then (so several processes add up); a damaged file is set aside with a warning.
import { mkdir, rename } from 'node:fs/promises';
import * as path from 'node:path';
import type { Disposable, EngineEvent, EventStream, StepState } from '../../engine/events';
import { describeError } from '../../errors';
import { nullLogger, systemClock, type Clock, type Logger } from '../../ports';
import { readJsonFileIfExists, writeJsonAtomic } from '../../state/atomicFs';
import { cloneData, emptyData, figuresIn, mergeData, recordOutcome, recordUsage, sanitizeData, summarize, type Figures, type FigureSummary, type MetricsData } from './figures';
import { prometheusText } from './prometheus';
import { RELATIVE_ERROR } from './sketch';

export const METRICS_FILE = 'metrics.json';
const SAVE_DELAY_MS = 1_000;
/** Runs followed at once; a run whose end never came (a crashed process) is forgotten past this. */
const MAX_LIVE_RUNS = 1_000;
const COUNTED: ReadonlySet<StepState> = new Set(['succeeded', 'failed', 'cancelled', 'skipped']);
const UNKNOWN = '(unknown)';

/** A step's place as the run started it. */
interface LiveStep {
	handler: string;
	state?: StepState;
	agent?: string;
}

interface LiveRun {
	workflow: string;
	steps: Map<string, LiveStep>;
}

/** Steps waiting or running right now, over every run this store follows. */
export interface QueueFigures {
	/** Ready, waiting for a free slot. */
	queued: number;
	/** Waiting for a decision. */
	waiting: number;
	running: number;
}

export type Labelled<L> = L & FigureSummary;

export interface MetricsSummary {
	since: string;
	updatedAt: string;
	runs: Labelled<{ workflow: string }>[];
	steps: Labelled<{ workflow: string; step: string }>[];
	handlers: Labelled<{ handler: string }>[];
	agents: Labelled<{ agent: string }>[];
	conflicts: Record<string, number>;
	queue: QueueFigures;
	/** Quantiles are within this relative error of the exact ones. */
	quantileRelativeError: number;
}

export interface MetricsStoreOptions {
	clock?: Clock;
	logger?: Logger;
	/** Delay between a change and its write (default 1 s); flush() writes at once. */
	saveDelayMs?: number;
	/** Only reading (`qo stats`): a damaged file is left where it is. */
	readOnly?: boolean;
}

export class MetricsStore {
	/** What the file held when last read or written. */
	private base: MetricsData;
	/** Recorded since, not yet written. */
	private delta: MetricsData;
	/** base + delta: what every reader sees. */
	private current: MetricsData;
	private readonly live = new Map<string, LiveRun>();
	private timer: NodeJS.Timeout | undefined;
	private saving: Promise<void> = Promise.resolve();
	private readonly clock: Clock;
	private readonly logger: Logger;
	private readonly saveDelayMs: number;
	private readonly readOnly: boolean;
	private readonly subscriptions: Disposable[] = [];

	private constructor(
		readonly file: string,
		data: MetricsData,
		opts: MetricsStoreOptions,
		/** Problems met reading the file (each one line). */
		readonly warnings: string[],
	) {
		this.clock = opts.clock ?? systemClock;
		this.logger = opts.logger ?? nullLogger;
		this.saveDelayMs = opts.saveDelayMs ?? SAVE_DELAY_MS;
		this.readOnly = opts.readOnly ?? false;
		this.base = data;
		this.delta = emptyData(this.clock.now());
		this.current = cloneData(data);
	}

	/** Reads `<stateDir>/metrics.json`; a damaged one is renamed aside (`metrics.corrupt-<time>.json`) and figures start afresh. */
	static async open(stateDir: string, opts: MetricsStoreOptions = {}): Promise<MetricsStore> {
		const file = path.join(stateDir, METRICS_FILE);
		const now = (opts.clock ?? systemClock).now();
		const warnings: string[] = [];
		const { data, problem } = await readData(file);
		if (problem && opts.readOnly) warnings.push(`${problem}; showing no figures`);
		else if (problem) {
			const aside = path.join(stateDir, `metrics.corrupt-${now}.json`);
			const moved = await rename(file, aside).then(
				() => true,
				() => false,
			);
			warnings.push(`${problem}; starting fresh figures${moved ? ` (the damaged file is kept as ${aside})` : ''}`);
		}
		const store = new MetricsStore(file, data ?? emptyData(now), opts, warnings);
		for (const w of warnings) store.logger.log('warn', 'metrics', w);
		return store;
	}

	/** Follows an engine's events until disposed. */
	subscribe(events: EventStream): Disposable {
		const sub = events.on((e) => this.record(e));
		this.subscriptions.push(sub);
		return sub;
	}

	/** Takes one engine event into the figures (subscribe() calls it; tests and other feeds may too). */
	record(e: EngineEvent): void {
		const now = this.clock.now();
		switch (e.type) {
			case 'run-started': {
				const run = this.run(e.runId, e.workflow);
				run.workflow = e.workflow;
				for (const s of e.steps) run.steps.set(s.id, { ...run.steps.get(s.id), handler: `${s.type}.${s.operation}` });
				return;
			}
			case 'step-added':
				this.run(e.runId).steps.set(e.step.id, { handler: `${e.step.type}.${e.step.operation}` });
				return;
			case 'allocation': {
				const step = this.step(e.runId, e.id);
				step.agent = e.assignment.agent;
				return;
			}
			case 'step': {
				const run = this.run(e.runId);
				const step = this.step(e.runId, e.id);
				step.state = e.state;
				if (!COUNTED.has(e.state)) return;
				const ran = e.state === 'succeeded' || e.state === 'failed' ? e.durationMs : undefined;
				this.change((d) => {
					recordOutcome(figuresIn((d.steps[run.workflow] ??= {}), e.id), e.state, ran, now);
					recordOutcome(figuresIn(d.handlers, step.handler), e.state, ran, now);
					if (step.agent) recordOutcome(figuresIn(d.agents, step.agent), e.state, ran, now);
				});
				return;
			}
			case 'usage': {
				const run = this.run(e.runId);
				const step = this.step(e.runId, e.id);
				this.change((d) => {
					recordUsage(figuresIn((d.steps[run.workflow] ??= {}), e.id), e.promptTokens, e.completionTokens, e.costUsd, now);
					recordUsage(figuresIn(d.handlers, step.handler), e.promptTokens, e.completionTokens, e.costUsd, now);
					recordUsage(figuresIn(d.runs, run.workflow), e.promptTokens, e.completionTokens, e.costUsd, now);
					if (step.agent) recordUsage(figuresIn(d.agents, step.agent), e.promptTokens, e.completionTokens, e.costUsd, now);
				});
				return;
			}
			case 'run-finished': {
				const workflow = this.live.get(e.runId)?.workflow ?? UNKNOWN;
				this.live.delete(e.runId);
				this.change((d) => recordOutcome(figuresIn(d.runs, workflow), e.status, e.durationMs, now));
				return;
			}
			case 'conflict':
				// Named resources and paths are counted apart; a wait across runs is what concurrency costs.
				this.countConflict(e.paths.every((p) => p.startsWith('\u0000resource/')) ? 'resource' : e.holders.some((h) => h.runId !== e.runId) ? 'path-across-runs' : 'path');
				return;
			default:
				return;
		}
	}

	/** Counts a conflict (two steps contending for a file, a wait cycle, ...) of `kind`. */
	countConflict(kind: string, count = 1): void {
		this.change((d) => (d.conflicts[kind] = (d.conflicts[kind] ?? 0) + count));
	}

	queue(): QueueFigures {
		const q: QueueFigures = { queued: 0, waiting: 0, running: 0 };
		for (const run of this.live.values()) {
			for (const s of run.steps.values()) {
				if (s.state === 'queued') q.queued++;
				else if (s.state === 'waiting') q.waiting++;
				else if (s.state === 'running' || s.state === 'retrying') q.running++;
			}
		}
		return q;
	}

	/** The raw figures (a copy). */
	data(): MetricsData {
		return cloneData(this.current);
	}

	summary(): MetricsSummary {
		const now = this.clock.now();
		const d = this.current;
		const rows = <L>(table: Record<string, Figures>, label: (k: string) => L): Labelled<L>[] => Object.entries(table).map(([k, f]) => ({ ...label(k), ...summarize(f, now) }));
		return {
			since: new Date(d.since).toISOString(),
			updatedAt: new Date(d.updatedAt).toISOString(),
			runs: rows(d.runs, (workflow) => ({ workflow })),
			steps: Object.entries(d.steps).flatMap(([workflow, t]) => rows(t, (step) => ({ workflow, step }))),
			handlers: rows(d.handlers, (handler) => ({ handler })),
			agents: rows(d.agents, (agent) => ({ agent })),
			conflicts: { ...d.conflicts },
			queue: this.queue(),
			quantileRelativeError: RELATIVE_ERROR,
		};
	}

	/** The figures in Prometheus text format 0.0.4 (for `GET /metrics`). */
	prometheusText(): string {
		return prometheusText(this.summary());
	}

	/** Writes what was recorded now (and waits for writes under way). */
	flush(): Promise<void> {
		clearTimeout(this.timer);
		this.timer = undefined;
		this.saving = this.saving.then(() => this.save());
		return this.saving;
	}

	/** Stops following events and writes what is left. */
	async close(): Promise<void> {
		for (const s of this.subscriptions.splice(0)) s.dispose();
		await this.flush();
	}

	dispose(): void {
		void this.close();
	}

	private change(apply: (d: MetricsData) => void): void {
		const now = this.clock.now();
		for (const d of [this.current, this.delta]) {
			apply(d);
			d.updatedAt = now;
		}
		if (!this.timer) {
			this.timer = setTimeout(() => void this.flush(), this.saveDelayMs);
			this.timer.unref();
		}
	}

	private run(runId: string, workflow = UNKNOWN): LiveRun {
		let run = this.live.get(runId);
		if (!run) {
			run = { workflow, steps: new Map() };
			this.live.set(runId, run);
			if (this.live.size > MAX_LIVE_RUNS) this.live.delete(this.live.keys().next().value as string);
		}
		return run;
	}

	private step(runId: string, id: string): LiveStep {
		const run = this.run(runId);
		let step = run.steps.get(id);
		if (!step) run.steps.set(id, (step = { handler: UNKNOWN }));
		return step;
	}

	private async save(): Promise<void> {
		if (this.readOnly || isEmpty(this.delta)) return;
		const pending = this.delta;
		this.delta = emptyData(this.clock.now());
		try {
			// Another process may have written since: add to what the file holds now (when it is readable).
			const { data } = await readData(this.file);
			const merged = mergeData(data ?? cloneData(this.base), pending);
			await mkdir(path.dirname(this.file), { recursive: true });
			await writeJsonAtomic(this.file, merged, 'metrics');
			this.base = merged;
			this.current = isEmpty(this.delta) ? cloneData(merged) : mergeData(cloneData(merged), this.delta);
		} catch (err) {
			// Keep what was not written for the next try.
			this.delta = mergeData(pending, this.delta);
			this.logger.log('warn', 'metrics', `cannot save ${this.file}: ${describeError(err)}`);
		}
	}
}

function isEmpty(d: MetricsData): boolean {
	return [d.runs, d.handlers, d.agents, d.steps, d.conflicts].every((t) => Object.keys(t).length === 0);
}

async function readData(file: string): Promise<{ data?: MetricsData; problem?: string }> {
	try {
		const raw = await readJsonFileIfExists(file, 'metrics file');
		return raw === undefined ? {} : { data: sanitizeData(raw) };
	} catch (err) {
		const reason = describeError(err);
		return { problem: reason.includes(file) ? reason : `metrics file ${file} is damaged (${reason})` };
	}
}
