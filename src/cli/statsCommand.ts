// `qo stats`: the figures runs left in `.quantum/metrics.json` — per workflow, step, handler and agent: how many,
// how often they succeed, mean and p95 durations, throughput, tokens and cost — as tables, or JSON.
import * as path from 'node:path';
import type { Command } from 'commander';
import { formatDuration } from '../core/format';
import type { FigureSummary } from '../core/services/metrics/figures';
import { MetricsStore, type MetricsSummary } from '../core/services/metrics/store';
import { stateDirFor } from '../core/state/runStore';
import { parseIntOption, type Cli, type GlobalOptions } from './cli';

const ms = (v: number | undefined): string => (v === undefined ? '—' : formatDuration(v));
const rate = (f: FigureSummary): string => (f.successRate === undefined ? '—' : `${Math.round(f.successRate * 1000) / 10}%`);
const tokens = (f: FigureSummary): string => (f.llmCalls ? (f.promptTokens + f.completionTokens).toLocaleString('en-US') : '—');
const cost = (f: FigureSummary): string => (f.costUsd > 0 ? `$${f.costUsd < 1 ? f.costUsd.toFixed(4) : f.costUsd.toFixed(2)}` : '—');
const perMinute = (f: FigureSummary): string => (f.perMinute ? String(Math.round(f.perMinute * 100) / 100) : '0');

/** Columns padded to their widest cell; numbers (every column but the first) aligned right. */
function printTable(head: string[], rows: string[][], print: (line: string) => void): void {
	const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
	const fmt = (cells: string[]) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd();
	print(`  ${fmt(head)}`);
	for (const r of rows) print(`  ${fmt(r)}`);
}

const byTime = <T extends FigureSummary>(rows: T[]): T[] => [...rows].sort((a, b) => b.totalMs - a.totalMs || b.count - a.count);

export function printStats(s: MetricsSummary, top: number, print: (line: string) => void): void {
	if (!s.runs.length && !s.steps.length && !Object.keys(s.conflicts).length) {
		print('No figures yet: they add up as workflows run (qo run, or in VS Code). Run one, then qo stats again.');
		return;
	}
	const when = (iso: string) => iso.replace('T', ' ').slice(0, 16);
	print(`Figures since ${when(s.since)} UTC, updated ${when(s.updatedAt)} UTC. Quantiles within ${s.quantileRelativeError * 100}%; per min = finished per minute over the last 15 minutes.`);
	const common = (f: FigureSummary) => [String(f.count), rate(f), ms(f.meanMs), ms(f.p95Ms), ms(f.totalMs), perMinute(f)];
	const sections: [string, string, { name: string; f: FigureSummary }[]][] = [
		['Runs by workflow', 'WORKFLOW', s.runs.map((r) => ({ name: r.workflow, f: r }))],
		[`Top steps by total time`, 'STEP (WORKFLOW › ID)', s.steps.map((r) => ({ name: `${r.workflow} › ${r.step}`, f: r }))],
		['Handlers by total time', 'HANDLER', s.handlers.map((r) => ({ name: r.handler, f: r }))],
		['Agents by total time', 'AGENT', s.agents.map((r) => ({ name: r.agent, f: r }))],
	];
	for (const [title, first, rows] of sections) {
		if (!rows.length) continue;
		const sorted = byTime(rows.map((r) => Object.assign({}, r.f, { name: r.name })));
		print('');
		print(`${title}${sorted.length > top ? ` (top ${top} of ${sorted.length})` : ''}`);
		printTable(
			[first, 'COUNT', 'OK', 'MEAN', 'P95', 'TOTAL', 'PER MIN', 'TOKENS', 'COST'],
			sorted.slice(0, top).map((f) => [f.name, ...common(f), tokens(f), cost(f)]),
			print,
		);
	}
	const conflicts = Object.entries(s.conflicts);
	print('');
	print(`Conflicts: ${conflicts.length ? conflicts.map(([k, n]) => `${k} ${n}`).join(', ') : 'none'}`);
}

export function addStatsCommand(program: Command, cli: Cli, globals: () => GlobalOptions): void {
	program
		.command('stats')
		.description('figures of past runs (.quantum/metrics.json): per workflow, step, handler and agent — success rate, mean and p95 durations, throughput, tokens')
		.option('-n, --top <n>', 'rows per table (default 10)', parseIntOption('--top'), 10)
		.option('--json', 'every figure, machine-readable')
		.action(async (o) => {
			const workspace = path.resolve(globals().workspace ?? process.cwd());
			const store = await MetricsStore.open(stateDirFor(workspace), { readOnly: true });
			for (const w of store.warnings) cli.err(`warning: ${w}`);
			const summary = store.summary();
			if (o.json) cli.out(JSON.stringify(summary));
			else printStats(summary, o.top, (l) => cli.out(l));
		});
}
