// `qo runs`: the history as a table.
import type { RunSummary } from '../core/state/runStore';
import { formatDuration } from './display';

export function printRuns(runs: RunSummary[], print: (line: string) => void): void {
	if (runs.length === 0) {
		print('No runs yet. Start one with: qo run FILE');
		return;
	}
	const rows = runs.map((r) => [
		r.runId,
		r.committed ? `${r.status} (committed)` : r.status,
		new Date(r.startedAt).toISOString().replace('T', ' ').slice(0, 19),
		r.durationMs !== undefined ? formatDuration(r.durationMs) : '—',
		`${r.steps.succeeded}/${r.steps.total}${r.steps.failed ? `, ${r.steps.failed} failed` : ''}`,
		r.workflow,
	]);
	const head = ['RUN', 'STATUS', 'STARTED (UTC)', 'DURATION', 'STEPS OK', 'WORKFLOW'];
	const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
	const fmt = (cells: string[]) => cells.map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ');
	print(fmt(head));
	for (const r of rows) print(fmt(r));
}
