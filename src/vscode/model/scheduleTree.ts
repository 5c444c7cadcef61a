// How a folder's schedules look in the Operations tree: a "Schedules" node, one item per schedule with its next run
// as relative time, missed runs as a warning and problems (with file:line) in the tooltip. No vscode import.
import type { ScheduleInfo } from '../../core/services/schedules/scheduler';
import type { TreeItemView } from '../api';

/** "in 5 min", "in 3 h", "in 2 days" (or "5 min ago" for a time past). */
export function relativeTime(iso: string, now: number): string {
	const ms = Date.parse(iso) - now;
	const abs = Math.abs(ms);
	const text =
		abs < 60_000 ? `${Math.max(1, Math.round(abs / 1000))} s` : abs < 3_600_000 ? `${Math.round(abs / 60_000)} min` : abs < 86_400_000 ? `${Math.round(abs / 3_600_000)} h` : `${Math.round(abs / 86_400_000)} day${Math.round(abs / 86_400_000) === 1 ? '' : 's'}`;
	return ms >= 0 ? `in ${text}` : `${text} ago`;
}

export function scheduleItem(folderKey: string, s: ScheduleInfo, now: number): TreeItemView {
	const id = `schedule:${folderKey}:${s.name}`;
	if (s.error) {
		return { id, label: s.name, description: 'problem', contextValue: 'schedule:problem', icon: 'warning', tooltip: [`**${s.name}** — cannot run`, s.source ? `Defined in \`${s.source}\`` : '', `Problem: ${s.error}`].filter(Boolean).join('\n\n') };
	}
	const missed = s.missed?.count ? `${s.missed.capped ? 'at least ' : ''}${s.missed.count} missed` : '';
	const description = [s.cron, s.next ? `next ${relativeTime(s.next, now)}` : 'no next run', missed].filter(Boolean).join(' · ');
	const tooltip = [
		`**${s.name}** — \`${s.cron ?? ''}\`${s.timezone ? ` (${s.timezone})` : ''}`,
		s.workflow ? `Workflow: \`${s.workflow}\`` : '',
		s.source ? `Defined in \`${s.source}\`` : '',
		s.next ? `Next run: ${s.next} (${relativeTime(s.next, now)})` : 'No next run',
		s.policy ? `When a run of it is still going: ${s.policy}` : '',
		s.lastFired ? `Last fired: ${s.lastFired.slot} — ${s.lastFired.outcome}${s.lastFired.runId ? ` (run \`${s.lastFired.runId}\`)` : ''}${s.lastFired.message ? `: ${s.lastFired.message}` : ''}` : '',
		s.missed?.count
			? `⚠ ${s.missed.capped ? 'At least ' : ''}${s.missed.count} run${s.missed.count === 1 ? '' : 's'} missed between ${s.missed.first} and ${s.missed.last} (${s.missed.reason}) — reported, not replayed`
			: '',
	]
		.filter(Boolean)
		.join('\n\n');
	return { id, label: s.name, description, contextValue: missed ? 'schedule:missed' : 'schedule:ok', icon: missed ? 'warning' : 'watch', tooltip };
}

/** The folder's "Schedules" node with its schedules (label names the folder when several are open). */
export function schedulesItem(folderKey: string, folderName: string | undefined, schedules: readonly ScheduleInfo[], now: number): TreeItemView {
	const problems = schedules.filter((s) => s.error).length;
	const missed = schedules.filter((s) => s.missed?.count).length;
	const next = schedules
		.map((s) => s.next)
		.filter((n): n is string => typeof n === 'string')
		.sort()[0];
	const description = [`${schedules.length - problems} active`, next ? `next ${relativeTime(next, now)}` : '', missed ? `${missed} with missed runs` : '', problems ? `${problems} with problems` : ''].filter(Boolean).join(' · ');
	return {
		id: `schedules:${folderKey}`,
		label: folderName ? `Schedules — ${folderName}` : 'Schedules',
		description,
		contextValue: problems ? 'schedules:problem' : 'schedules',
		icon: 'calendar',
		tooltip: `Cron schedules of ${folderName ?? 'this folder'}: \`quantum.schedules.list\` and workflow files' \`settings.schedule\`. Missed runs are reported, never replayed.`,
		children: schedules.map((s) => scheduleItem(folderKey, s, now)),
	};
}
