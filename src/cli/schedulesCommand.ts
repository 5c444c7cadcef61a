// `qo schedules`: the cron schedules of workflow files (`settings.schedule`), each with its next run, what its last
// slot did and the runs it missed; invalid ones with their file and line (exit 2). `qo serve` is what runs them.
import * as path from 'node:path';
import type { Command } from 'commander';
import { createScheduler, type ScheduleInfo } from '../core/services/schedules/scheduler';
import type { MissedRuns } from '../core/services/schedules/store';
import { stateDirFor } from '../core/state/runStore';
import { EXIT, type Cli, type GlobalOptions } from './cli';

const when = (iso: string | undefined): string => (iso ? `${iso.replace('T', ' ').slice(0, 19)} UTC` : '—');

function describeMissed(m: MissedRuns): string {
	const count = `${m.count}${m.capped ? '+' : ''} run${m.count === 1 && !m.capped ? '' : 's'}`;
	const span = m.count === 1 ? `at ${when(m.first)}` : `from ${when(m.first)} to ${when(m.last)}`;
	const status = m.reportedAt ? `reported ${when(m.reportedAt)}` : 'not reported yet: nothing is running the schedules';
	return `missed ${count} ${span} (${status}); missed runs are not replayed`;
}

export function printSchedules(list: ScheduleInfo[], print: (line: string) => void): void {
	const valid = list.filter((s) => !s.error);
	if (list.length === 0) {
		print('No schedules. Give a workflow file one: "settings": { "schedule": "0 3 * * *" } (or { "cron", "timezone", "policy" }).');
		return;
	}
	if (valid.length) {
		const rows = valid.map((s) => [s.name, `${s.cron}${s.timezone ? ` (${s.timezone})` : ''}`, when(s.next), s.policy ?? '', s.lastFired ? `${s.lastFired.outcome} ${when(s.lastFired.slot)}` : '—', s.workflow ?? '']);
		const head = ['NAME', 'CRON', 'NEXT RUN', 'POLICY', 'LAST SLOT', 'WORKFLOW'];
		const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
		const fmt = (cells: string[]) => cells.map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ');
		print(fmt(head));
		for (const r of rows) print(fmt(r));
		for (const s of valid) {
			if (s.missed) print(`  ${s.name}: ${describeMissed(s.missed)}`);
			if (s.lastFired?.message) print(`  ${s.name}: last slot: ${s.lastFired.message}`);
		}
	}
	for (const s of list.filter((x) => x.error)) print(`✖ ${s.error}`);
	print('Schedules run while the orchestrator runs (VS Code, or qo serve).');
}

export function addSchedulesCommand(program: Command, cli: Cli, globals: () => GlobalOptions): void {
	program
		.command('schedules')
		.description('cron schedules of workflow files (settings.schedule): next run, last slot, missed runs; invalid ones with file and line')
		.option('--files <glob...>', 'workflow files or globs to look in (default: **/*.workflow.json outside node_modules, .git, .quantum)')
		.option('--json', 'machine-readable list')
		.action(async (o) => {
			const workspace = path.resolve(globals().workspace ?? process.cwd());
			const scheduler = createScheduler({
				engine: { workspace, stateDir: stateDirFor(workspace) },
				// Listing only: nothing is armed, so nothing is ever submitted.
				dispatcher: { submit: async () => ({ status: 'skipped', reason: 'qo schedules only lists' }) },
				...(o.files ? { files: o.files } : {}),
				logger: { log: (level, scope, message) => level === 'warn' && cli.err(`warning: [${scope}] ${message}`) },
			});
			await scheduler.load();
			const list = scheduler.list();
			if (o.json) cli.out(JSON.stringify(list));
			else printSchedules(list, (l) => cli.out(l));
			if (list.some((s) => s.error)) cli.exitCode = EXIT.invalid;
		});
}
