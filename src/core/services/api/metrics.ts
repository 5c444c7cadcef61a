// GET /metrics until the telemetry store is merged: what the dispatcher, the broker and the server know, as
// Prometheus text format 0.0.4 (# HELP and # TYPE before each family, escaped label values).
import type { DecisionBroker } from '../triggers/decisionBroker';
import type { Dispatcher } from '../triggers/dispatcher';

export interface MetricFamily {
	name: string;
	help: string;
	type: 'counter' | 'gauge';
	samples: { labels?: Record<string, string>; value: number }[];
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function formatValue(n: number): string {
	if (Number.isNaN(n)) return 'NaN';
	if (n === Infinity) return '+Inf';
	if (n === -Infinity) return '-Inf';
	return String(n);
}

/** The families as exposition text; a family without samples still says what it is. */
export function prometheusText(families: readonly MetricFamily[]): string {
	const lines: string[] = [];
	for (const f of families) {
		lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
		for (const s of f.samples) {
			const labels = Object.entries(s.labels ?? {});
			const set = labels.length ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
			lines.push(`${f.name}${set} ${formatValue(s.value)}`);
		}
	}
	return `${lines.join('\n')}\n`;
}

/** Counts from the moment it is made (make it with the dispatcher); gauges are read when asked. */
export class TriggerMetrics {
	private readonly submitted = new Map<string, number>();
	private readonly finished = new Map<string, { source: string; status: string; n: number }>();
	private readonly requests = new Map<string, number>();
	private readonly seen = new Set<string>();
	private readonly subscription: { dispose(): void };

	constructor(
		private readonly dispatcher: Dispatcher,
		private readonly broker: DecisionBroker,
		private readonly startedAt: number,
		private readonly now: () => number = Date.now,
	) {
		this.subscription = dispatcher.onDidChange((run) => {
			if (!this.seen.has(run.runId) && run.state !== 'finished') {
				this.seen.add(run.runId);
				this.submitted.set(run.source, (this.submitted.get(run.source) ?? 0) + 1);
			}
			if (run.state === 'finished') {
				this.seen.delete(run.runId);
				const status = run.status ?? 'unknown';
				const key = `${run.source}\0${status}`;
				const f = this.finished.get(key) ?? { source: run.source, status, n: 0 };
				f.n++;
				this.finished.set(key, f);
			}
		});
	}

	/** An API response, by status code. */
	countRequest(status: number): void {
		this.requests.set(String(status), (this.requests.get(String(status)) ?? 0) + 1);
	}

	families(extra: { goalsActive?: number } = {}): MetricFamily[] {
		const runs = this.dispatcher.list();
		const sorted = <T>(m: Map<string, T>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
		const families: MetricFamily[] = [
			{ name: 'qo_runs_submitted_total', help: 'Runs accepted by the dispatcher (started or queued), by source.', type: 'counter', samples: sorted(this.submitted).map(([source, value]) => ({ labels: { source }, value })) },
			{ name: 'qo_runs_finished_total', help: 'Runs of the dispatcher that ended, by source and status.', type: 'counter', samples: sorted(this.finished).map(([, f]) => ({ labels: { source: f.source, status: f.status }, value: f.n })) },
			{ name: 'qo_runs_running', help: 'Runs of the dispatcher executing now.', type: 'gauge', samples: [{ value: runs.filter((r) => r.state === 'running').length }] },
			{ name: 'qo_queue_length', help: 'Runs of the dispatcher waiting to start (their group busy, or no free slot).', type: 'gauge', samples: [{ value: runs.filter((r) => r.state === 'queued').length }] },
			{ name: 'qo_decisions_pending', help: 'Decisions waiting for an answer.', type: 'gauge', samples: [{ value: this.broker.list().length }] },
			{ name: 'qo_uptime_seconds', help: 'Seconds since the server started.', type: 'gauge', samples: [{ value: Math.max(0, (this.now() - this.startedAt) / 1000) }] },
			{ name: 'qo_api_requests_total', help: 'API responses, by HTTP status code.', type: 'counter', samples: sorted(this.requests).map(([code, value]) => ({ labels: { code }, value })) },
		];
		if (extra.goalsActive !== undefined) families.push({ name: 'qo_goals_active', help: 'Goals being analysed, planned or carried out.', type: 'gauge', samples: [{ value: extra.goalsActive }] });
		return families;
	}

	text(extra: { goalsActive?: number } = {}): string {
		return prometheusText(this.families(extra));
	}

	dispose(): void {
		this.subscription.dispose();
	}
}
