// The figures kept per run (by workflow), step, handler and agent, as plain JSON (`.quantum/metrics.json`). Every
// figure is a sum, so the figures of two processes merge exactly (a CLI run and a running extension both add up).
import { addToSketch, emptySketch, mergeSketch, sanitizeSketch, sketchCount, sketchQuantile, type SketchData } from './sketch';

/** Throughput is what finished in the last WINDOW_MINUTES minutes, per minute. */
export const WINDOW_MINUTES = 15;
/** Bounded memory: at most this many steps (over all workflows) and names per other scope; the least recent go. */
export const MAX_STEPS = 2_000;
export const MAX_NAMES = 500;

export interface Figures {
	/** Finished, by outcome: succeeded, failed, cancelled, skipped (steps); a run's status (runs). */
	outcomes: Record<string, number>;
	/** Durations of what ran to the end (succeeded or failed, every run status): their sum and their distribution. */
	durationSumMs: number;
	durations: SketchData;
	/** The shortest and longest duration recorded (quantiles are clamped to them, so a p95 never exceeds the max). */
	durationMinMs?: number;
	durationMaxMs?: number;
	/** Finished per minute for the WINDOW_MINUTES minutes up to `minute` (minutes since the epoch). */
	recent: { minute: number; counts: number[] };
	promptTokens: number;
	completionTokens: number;
	costUsd: number;
	llmCalls: number;
	/** When it last changed (ms since the epoch). */
	lastAt: number;
}

export interface MetricsData {
	version: 1;
	/** When these figures began (ms since the epoch). */
	since: number;
	updatedAt: number;
	/** By workflow name. */
	runs: Record<string, Figures>;
	/** By workflow name, then step id. */
	steps: Record<string, Record<string, Figures>>;
	/** By `type.operation`. */
	handlers: Record<string, Figures>;
	agents: Record<string, Figures>;
	/** Counted by other code (file conflicts between concurrent steps, ...), by kind. */
	conflicts: Record<string, number>;
}

export function emptyData(now: number): MetricsData {
	return { version: 1, since: now, updatedAt: now, runs: {}, steps: {}, handlers: {}, agents: {}, conflicts: {} };
}

export function emptyFigures(): Figures {
	return { outcomes: {}, durationSumMs: 0, durations: emptySketch(), recent: { minute: 0, counts: new Array<number>(WINDOW_MINUTES).fill(0) }, promptTokens: 0, completionTokens: 0, costUsd: 0, llmCalls: 0, lastAt: 0 };
}

/** The figures under `key` of `table`, created when missing. */
export function figuresIn(table: Record<string, Figures>, key: string): Figures {
	return (table[key] ??= emptyFigures());
}

/** Something finished with `outcome`; `durationMs` when it ran to the end. */
export function recordOutcome(f: Figures, outcome: string, durationMs: number | undefined, at: number): void {
	f.outcomes[outcome] = (f.outcomes[outcome] ?? 0) + 1;
	if (durationMs !== undefined && Number.isFinite(durationMs) && durationMs >= 0) {
		f.durationSumMs += durationMs;
		addToSketch(f.durations, durationMs);
		f.durationMinMs = Math.min(f.durationMinMs ?? durationMs, durationMs);
		f.durationMaxMs = Math.max(f.durationMaxMs ?? durationMs, durationMs);
	}
	if (outcome !== 'skipped') {
		roll(f.recent, Math.floor(at / 60_000));
		f.recent.counts[WINDOW_MINUTES - 1]++;
	}
	f.lastAt = Math.max(f.lastAt, at);
}

export function recordUsage(f: Figures, promptTokens: number, completionTokens: number, costUsd: number | undefined, at: number): void {
	f.promptTokens += promptTokens;
	f.completionTokens += completionTokens;
	f.costUsd += costUsd ?? 0;
	f.llmCalls++;
	f.lastAt = Math.max(f.lastAt, at);
}

/** Moves the window forward to `minute` (a clock gone back counts into the newest minute). */
function roll(recent: Figures['recent'], minute: number): void {
	if (minute <= recent.minute) return;
	const shift = Math.min(minute - recent.minute, WINDOW_MINUTES);
	recent.counts = [...recent.counts.slice(shift), ...new Array<number>(shift).fill(0)];
	recent.minute = minute;
}

export function mergeFigures(into: Figures, from: Figures): void {
	for (const [k, n] of Object.entries(from.outcomes)) into.outcomes[k] = (into.outcomes[k] ?? 0) + n;
	into.durationSumMs += from.durationSumMs;
	mergeSketch(into.durations, from.durations);
	if (from.durationMinMs !== undefined) into.durationMinMs = Math.min(into.durationMinMs ?? from.durationMinMs, from.durationMinMs);
	if (from.durationMaxMs !== undefined) into.durationMaxMs = Math.max(into.durationMaxMs ?? from.durationMaxMs, from.durationMaxMs);
	const other = { minute: from.recent.minute, counts: [...from.recent.counts] };
	roll(into.recent, other.minute);
	roll(other, into.recent.minute);
	into.recent.counts = into.recent.counts.map((n, i) => n + (other.counts[i] ?? 0));
	into.promptTokens += from.promptTokens;
	into.completionTokens += from.completionTokens;
	into.costUsd += from.costUsd;
	into.llmCalls += from.llmCalls;
	into.lastAt = Math.max(into.lastAt, from.lastAt);
}

/** Adds `from` into `into`, then trims `into` to the bounds. */
export function mergeData(into: MetricsData, from: MetricsData): MetricsData {
	into.since = Math.min(into.since, from.since);
	into.updatedAt = Math.max(into.updatedAt, from.updatedAt);
	const table = (a: Record<string, Figures>, b: Record<string, Figures>) => {
		for (const [k, f] of Object.entries(b)) mergeFigures(figuresIn(a, k), f);
	};
	table(into.runs, from.runs);
	table(into.handlers, from.handlers);
	table(into.agents, from.agents);
	for (const [wf, steps] of Object.entries(from.steps)) table((into.steps[wf] ??= {}), steps);
	for (const [k, n] of Object.entries(from.conflicts)) into.conflicts[k] = (into.conflicts[k] ?? 0) + n;
	return trimData(into);
}

export function cloneData(d: MetricsData): MetricsData {
	return structuredClone(d);
}

/** Keeps the most recently changed entries within MAX_STEPS / MAX_NAMES. */
export function trimData(d: MetricsData): MetricsData {
	const trim = (t: Record<string, Figures>) => {
		const keys = Object.keys(t);
		if (keys.length <= MAX_NAMES) return;
		for (const k of keys.sort((a, b) => t[a].lastAt - t[b].lastAt).slice(0, keys.length - MAX_NAMES)) delete t[k];
	};
	trim(d.runs);
	trim(d.handlers);
	trim(d.agents);
	const steps = Object.entries(d.steps).flatMap(([wf, t]) => Object.entries(t).map(([id, f]) => ({ wf, id, at: f.lastAt })));
	if (steps.length > MAX_STEPS) {
		for (const s of steps.sort((a, b) => a.at - b.at).slice(0, steps.length - MAX_STEPS)) delete d.steps[s.wf][s.id];
		for (const wf of Object.keys(d.steps)) if (Object.keys(d.steps[wf]).length === 0) delete d.steps[wf];
	}
	return d;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

function sanitizeFigures(raw: unknown): Figures | undefined {
	if (!raw || typeof raw !== 'object') return undefined;
	const r = raw as Record<string, unknown>;
	const f = emptyFigures();
	if (r.outcomes && typeof r.outcomes === 'object') for (const [k, v] of Object.entries(r.outcomes)) if (num(v)) f.outcomes[k] = Math.floor(num(v));
	f.durationSumMs = num(r.durationSumMs);
	f.durations = sanitizeSketch(r.durations);
	if (typeof r.durationMinMs === 'number' && typeof r.durationMaxMs === 'number' && num(r.durationMinMs) <= num(r.durationMaxMs)) {
		f.durationMinMs = num(r.durationMinMs);
		f.durationMaxMs = num(r.durationMaxMs);
	}
	const recent = r.recent as { minute?: unknown; counts?: unknown } | undefined;
	if (recent && Array.isArray(recent.counts) && recent.counts.length === WINDOW_MINUTES) f.recent = { minute: num(recent.minute), counts: recent.counts.map(num) };
	f.promptTokens = num(r.promptTokens);
	f.completionTokens = num(r.completionTokens);
	f.costUsd = num(r.costUsd);
	f.llmCalls = num(r.llmCalls);
	f.lastAt = num(r.lastAt);
	return f;
}

function sanitizeTable(raw: unknown): Record<string, Figures> {
	const out: Record<string, Figures> = {};
	if (raw && typeof raw === 'object') for (const [k, v] of Object.entries(raw)) {
		const f = sanitizeFigures(v);
		if (f) out[k] = f;
	}
	return out;
}

/** MetricsData from parsed JSON; throws when it is not a metrics file at all, drops entries that are damaged. */
export function sanitizeData(raw: unknown): MetricsData {
	if (!raw || typeof raw !== 'object' || (raw as { version?: unknown }).version !== 1) throw new Error('not a version 1 metrics file');
	const r = raw as Record<string, unknown>;
	const d = emptyData(num(r.since));
	d.updatedAt = num(r.updatedAt);
	d.runs = sanitizeTable(r.runs);
	d.handlers = sanitizeTable(r.handlers);
	d.agents = sanitizeTable(r.agents);
	if (r.steps && typeof r.steps === 'object') for (const [wf, t] of Object.entries(r.steps)) d.steps[wf] = sanitizeTable(t);
	if (r.conflicts && typeof r.conflicts === 'object') for (const [k, v] of Object.entries(r.conflicts)) if (num(v)) d.conflicts[k] = Math.floor(num(v));
	return trimData(d);
}

/** The figures as people and exporters read them. */
export interface FigureSummary {
	/** Finished, skipped ones not included. */
	count: number;
	succeeded: number;
	failed: number;
	outcomes: Record<string, number>;
	/** succeeded ÷ (finished − cancelled); undefined when nothing counts. */
	successRate?: number;
	/** Durations recorded, their total, mean and quantiles (each within RELATIVE_ERROR). */
	timed: number;
	totalMs: number;
	meanMs?: number;
	minMs?: number;
	maxMs?: number;
	p50Ms?: number;
	p95Ms?: number;
	p99Ms?: number;
	/** Finished per minute over the last WINDOW_MINUTES minutes. */
	perMinute: number;
	promptTokens: number;
	completionTokens: number;
	costUsd: number;
	llmCalls: number;
	lastAt?: string;
}

export function summarize(f: Figures, now: number): FigureSummary {
	const outcomes = { ...f.outcomes };
	const all = Object.values(outcomes).reduce((a, b) => a + b, 0);
	const count = all - (outcomes.skipped ?? 0);
	const judged = count - (outcomes.cancelled ?? 0);
	const timed = sketchCount(f.durations);
	const recent = { minute: f.recent.minute, counts: [...f.recent.counts] };
	roll(recent, Math.floor(now / 60_000));
	const q = (p: number) => clamp(sketchQuantile(f.durations, p), f.durationMinMs, f.durationMaxMs);
	return {
		count,
		succeeded: outcomes.succeeded ?? 0,
		failed: outcomes.failed ?? 0,
		outcomes,
		...(judged > 0 ? { successRate: (outcomes.succeeded ?? 0) / judged } : {}),
		timed,
		totalMs: f.durationSumMs,
		...(timed > 0 ? { meanMs: f.durationSumMs / timed, minMs: f.durationMinMs, maxMs: f.durationMaxMs, p50Ms: q(0.5), p95Ms: q(0.95), p99Ms: q(0.99) } : {}),
		perMinute: recent.counts.reduce((a, b) => a + b, 0) / WINDOW_MINUTES,
		promptTokens: f.promptTokens,
		completionTokens: f.completionTokens,
		costUsd: f.costUsd,
		llmCalls: f.llmCalls,
		...(f.lastAt ? { lastAt: new Date(f.lastAt).toISOString() } : {}),
	};
}

function clamp(v: number | undefined, min: number | undefined, max: number | undefined): number | undefined {
	if (v === undefined) return undefined;
	return Math.min(Math.max(v, min ?? v), max ?? v);
}
