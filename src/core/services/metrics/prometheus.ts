// The figures as Prometheus text exposition format 0.0.4 (`GET /metrics`): per scope (run, step, handler, agent) a
// finished counter by outcome, a duration summary with quantiles, throughput, tokens and cost; steps queued now and
// conflicts. Names and labels are fixed here; label values are escaped.
import type { FigureSummary } from './figures';
import type { MetricsSummary } from './store';

type Labels = Record<string, string>;
type Row = { labels: Labels; f: FigureSummary };

const QUANTILES = [0.5, 0.95, 0.99] as const;

/** `\`, `"` and newlines escaped, as the format asks of label values. */
export function escapeLabelValue(v: string): string {
	return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
	return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
	if (Number.isNaN(v)) return 'NaN';
	if (v === Infinity) return '+Inf';
	if (v === -Infinity) return '-Inf';
	return String(v);
}

function sample(name: string, labels: Labels, value: number): string {
	const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
	return `${name}${parts.length ? `{${parts.join(',')}}` : ''} ${formatValue(value)}`;
}

class Writer {
	readonly lines: string[] = [];
	family(name: string, type: 'counter' | 'gauge' | 'summary', help: string, samples: string[]): void {
		this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`, ...samples);
	}
}

function scope(w: Writer, prefix: string, what: string, rows: Row[]): void {
	w.family(
		`${prefix}_finished_total`,
		'counter',
		`${what} finished, by outcome.`,
		rows.flatMap(({ labels, f }) => Object.entries(f.outcomes).sort(([a], [b]) => a.localeCompare(b)).map(([outcome, n]) => sample(`${prefix}_finished_total`, { ...labels, outcome }, n))),
	);
	const timed = rows.filter((r) => r.f.timed > 0);
	w.family(
		`${prefix}_duration_seconds`,
		'summary',
		`How long ${what.toLowerCase()} that ran to the end took (quantiles within 2% relative error).`,
		timed.flatMap(({ labels, f }) => [
			...QUANTILES.map((q) => sample(`${prefix}_duration_seconds`, { ...labels, quantile: String(q) }, (quantileOf(f, q) ?? NaN) / 1000)),
			sample(`${prefix}_duration_seconds_sum`, labels, f.totalMs / 1000),
			sample(`${prefix}_duration_seconds_count`, labels, f.timed),
		]),
	);
	w.family(
		`${prefix}_throughput_per_minute`,
		'gauge',
		`${what} finished per minute over the last 15 minutes.`,
		rows.map(({ labels, f }) => sample(`${prefix}_throughput_per_minute`, labels, f.perMinute)),
	);
	const llm = rows.filter((r) => r.f.llmCalls > 0);
	w.family(
		`${prefix}_tokens_total`,
		'counter',
		`LLM tokens used by ${what.toLowerCase()}, by kind (prompt, completion).`,
		llm.flatMap(({ labels, f }) => [sample(`${prefix}_tokens_total`, { ...labels, kind: 'prompt' }, f.promptTokens), sample(`${prefix}_tokens_total`, { ...labels, kind: 'completion' }, f.completionTokens)]),
	);
	w.family(
		`${prefix}_cost_usd_total`,
		'counter',
		`LLM cost of ${what.toLowerCase()} in US dollars, at the known model prices.`,
		llm.map(({ labels, f }) => sample(`${prefix}_cost_usd_total`, labels, f.costUsd)),
	);
}

function quantileOf(f: FigureSummary, q: (typeof QUANTILES)[number]): number | undefined {
	return q === 0.5 ? f.p50Ms : q === 0.95 ? f.p95Ms : f.p99Ms;
}

export function prometheusText(s: MetricsSummary): string {
	const w = new Writer();
	scope(w, 'qo_run', 'Runs', s.runs.map(({ workflow, ...f }) => ({ labels: { workflow }, f })));
	scope(w, 'qo_step', 'Steps', s.steps.map(({ workflow, step, ...f }) => ({ labels: { workflow, step }, f })));
	scope(w, 'qo_handler', 'Steps by handler (type.operation)', s.handlers.map(({ handler, ...f }) => ({ labels: { handler }, f })));
	scope(w, 'qo_agent', 'Agent tasks', s.agents.map(({ agent, ...f }) => ({ labels: { agent }, f })));
	w.family('qo_steps_now', 'gauge', 'Steps right now: queued (ready, waiting for a free slot), waiting (for a decision), running.', [
		sample('qo_steps_now', { state: 'queued' }, s.queue.queued),
		sample('qo_steps_now', { state: 'waiting' }, s.queue.waiting),
		sample('qo_steps_now', { state: 'running' }, s.queue.running),
	]);
	w.family(
		'qo_conflicts_total',
		'counter',
		'Conflicts between concurrent steps (and other contention), by kind.',
		Object.entries(s.conflicts).map(([kind, n]) => sample('qo_conflicts_total', { kind }, n)),
	);
	return `${w.lines.join('\n')}\n`;
}
