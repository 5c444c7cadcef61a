// The board's metrics section from the telemetry stores' summaries (one per folder): the top handlers and steps by
// time, with counts, success rate, mean and p95. No vscode import.
import type { FigureSummary } from '../../core/services/metrics/figures';
import type { MetricsSummary } from '../../core/services/metrics/store';
import type { MetricsRow, MetricsView } from '../../protocol/viewModels';

export const METRICS_TOP = 8;

function row(label: string, f: FigureSummary): MetricsRow {
	return {
		label,
		count: f.count,
		...(f.successRate !== undefined ? { successRate: f.successRate } : {}),
		totalMs: f.totalMs,
		...(f.meanMs !== undefined ? { meanMs: f.meanMs } : {}),
		...(f.p95Ms !== undefined ? { p95Ms: f.p95Ms } : {}),
	};
}

const byTime = (a: MetricsRow, b: MetricsRow) => b.totalMs - a.totalMs || b.count - a.count || a.label.localeCompare(b.label);

/** Summaries labelled by folder when there are several (`app: exec.run`). */
export function metricsView(summaries: readonly { folder?: string; summary: MetricsSummary }[], top = METRICS_TOP): MetricsView {
	const prefix = (folder: string | undefined) => (folder && summaries.length > 1 ? `${folder}: ` : '');
	const handlers = summaries.flatMap(({ folder, summary }) => summary.handlers.map((h) => row(`${prefix(folder)}${h.handler}`, h)));
	const steps = summaries.flatMap(({ folder, summary }) => summary.steps.map((s) => row(`${prefix(folder)}${s.workflow} › ${s.step}`, s)));
	let runs = 0;
	let succeeded = 0;
	let counted = 0;
	for (const { summary } of summaries) {
		for (const r of summary.runs) {
			runs += r.count;
			succeeded += r.succeeded;
			counted += r.count - (r.outcomes.cancelled ?? 0);
		}
	}
	const updatedAt = summaries.map((s) => s.summary.updatedAt).sort().at(-1) ?? new Date(0).toISOString();
	return {
		updatedAt,
		runs: { count: runs, ...(counted > 0 ? { successRate: succeeded / counted } : {}) },
		handlers: handlers.sort(byTime).slice(0, top),
		steps: steps.sort(byTime).slice(0, top),
	};
}
