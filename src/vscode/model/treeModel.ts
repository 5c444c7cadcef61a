// How runs and steps look in the Operations tree: labels, codicons, context values, tooltips. No vscode import.
import { formatDuration } from '../../core/format';
import { usageDetail, usageLine } from '../../protocol/usage';
import type { AllocationView, ChildStepView, DecisionView, OrchestrationView, RunView, StepView } from '../../protocol/viewModels';
import type { TreeItemView } from '../api';

/** Codicon and theme colour per state (colour ids are VS Code's `charts.*` / `testing.*`). */
export const STATE_ICON: Record<string, { icon: string; color?: string }> = {
	pending: { icon: 'circle-large-outline' },
	queued: { icon: 'clock' },
	waiting: { icon: 'bell-dot', color: 'charts.yellow' },
	running: { icon: 'loading~spin' },
	retrying: { icon: 'sync~spin', color: 'charts.orange' },
	succeeded: { icon: 'pass', color: 'testing.iconPassed' },
	failed: { icon: 'error', color: 'testing.iconFailed' },
	skipped: { icon: 'debug-step-over', color: 'disabledForeground' },
	cancelled: { icon: 'circle-slash', color: 'charts.orange' },
	rolled_back: { icon: 'discard', color: 'charts.purple' },
	rejected: { icon: 'thumbsdown', color: 'testing.iconFailed' },
	interrupted: { icon: 'debug-disconnect', color: 'charts.orange' },
};

export function runItem(run: RunView, now = Date.now(), goal?: OrchestrationView): TreeItemView {
	// While running, whole seconds (the tree refreshes every second, as the board does).
	const elapsed = run.durationMs ?? (run.status === 'running' ? Math.floor((now - run.startedAt) / 1000) * 1000 : undefined);
	// Once a run is over, done/total would read as "all fine": count the successes instead.
	const over = run.status !== 'running' && run.status !== 'succeeded';
	const progress = run.total > 0 ? (over ? `${run.counts.succeeded ?? 0}/${run.total} succeeded` : `${run.done}/${run.total}`) : '';
	const parts = [run.status.replace('_', ' '), progress, elapsed !== undefined ? formatDuration(elapsed) : ''].filter(Boolean);
	const waiting = run.steps.reduce((n, s) => n + (s.state === 'waiting' ? 1 : 0) + (s.children?.filter((c) => c.state === 'waiting').length ?? 0), 0);
	if (waiting) parts.push(`${waiting} waiting for you`);
	if (run.usage && run.usage.calls > 0) parts.push(usageLine(run.usage));
	const worst = budgetLevel(run);
	if (worst) parts.push(`budget ${worst}`);
	const tooltip = [
		`**${run.workflow}** — ${run.status.replace('_', ' ')}`,
		run.file ? `File: \`${run.file}\`` : '',
		`Run: \`${run.runId}\``,
		run.total ? `Steps: ${run.done} of ${run.total} done${countsText(run.counts)}` : '',
		run.levels ? `Levels: ${run.levels} · mode ${run.mode} · up to ${run.concurrency} at once` : '',
		run.criticalPath.length ? `Critical path: ${run.criticalPath.slice(0, 12).join(' → ')}${run.criticalPath.length > 12 ? ' → …' : ''}` : '',
		goal ? `Goal: ${goal.goal}` : '',
		run.usage && run.usage.calls > 0 ? `LLM: ${usageDetail(run.usage)}` : '',
		...Object.entries(run.usage?.agents ?? {}).map(([name, a]) => `- ${name}: ${usageLine({ ...a, unpricedCalls: 0 })} in ${a.calls} call${a.calls === 1 ? '' : 's'}`),
		...(run.budget ?? []).map((b) => `Budget ${b.level}: ${b.message}`),
		run.message ? `\n${run.message}` : '',
	]
		.filter(Boolean)
		.join('\n\n');
	return {
		id: `run:${run.runId}`,
		label: run.workflow,
		description: parts.join(' · '),
		contextValue: `run:${run.status}${run.live ? ':live' : ''}`,
		icon: STATE_ICON[run.status]?.icon ?? 'circle-large-outline',
		tooltip,
	};
}

export function stepItem(run: RunView, step: StepView, parameters?: unknown, decision?: DecisionView): TreeItemView {
	const desc = [`${step.type}.${step.operation}`];
	if (step.state === 'waiting') desc.push(decision ? 'waiting for your decision' : 'waiting');
	else if (step.state !== 'succeeded') desc.push(step.state.replace('_', ' '));
	if (step.attempt > 1) desc.push(`attempt ${step.attempt}`);
	if (step.durationMs !== undefined) desc.push(formatDuration(step.durationMs));
	const f = step.findings;
	if (f && (f.error || f.warning)) desc.push([f.error ? `${f.error} error${f.error === 1 ? '' : 's'}` : '', f.warning ? `${f.warning} warning${f.warning === 1 ? '' : 's'}` : ''].filter(Boolean).join(', '));
	if (step.allocation) desc.push(`→ ${step.allocation.agent}`);
	if (step.usage) desc.push(usageLine(step.usage));
	const lines = [`**${step.id}** — \`${step.type}.${step.operation}\` — ${step.state.replace('_', ' ')}`];
	if (step.dependencies.length) lines.push(`After: ${step.dependencies.join(', ')}`);
	if (step.critical) lines.push('On the critical path: it sets how long the run takes.');
	if (step.message) lines.push(`${step.state === 'failed' ? 'Error' : 'Note'}: ${step.message}`);
	if (decision) lines.push(`Waiting for a decision: ${decision.reason}`);
	if (f && f.error + f.warning + f.info > 0) lines.push(`Findings: ${f.error} errors, ${f.warning} warnings, ${f.info} notes (in the Problems panel)`);
	if (step.allocation) lines.push(allocationText(step.allocation));
	if (step.usage) lines.push(`LLM: ${usageDetail(step.usage)}`);
	if (step.children?.length) lines.push(`Tool calls: ${childCounts(step.children)}`);
	if (parameters !== undefined) lines.push('Parameters:\n\n```json\n' + clip(JSON.stringify(parameters, null, 2), 2000) + '\n```');
	return {
		id: `step:${run.runId}:${step.id}`,
		label: step.id,
		description: desc.join(' · '),
		contextValue: `step:${step.state}`,
		icon: STATE_ICON[step.state]?.icon ?? 'circle-large-outline',
		tooltip: lines.join('\n\n'),
	};
}

/** A tool call an agent made, under its step. */
export function childItem(run: RunView, parent: StepView, child: ChildStepView, decision?: DecisionView): TreeItemView {
	const desc = [child.summary];
	if (child.state === 'waiting') desc.push(decision ? 'waiting for your decision' : 'waiting');
	else if (child.state !== 'succeeded') desc.push(child.state.replace('_', ' '));
	if (child.durationMs !== undefined) desc.push(formatDuration(child.durationMs));
	const lines = [`**${child.id}** — \`${child.type}.${child.operation}\` — ${child.state.replace('_', ' ')}`, `A tool call of ${parent.id}${child.agent ? ` (agent ${child.agent})` : ''}: ${child.summary}`];
	if (child.message) lines.push(`${child.state === 'failed' ? 'Error' : 'Note'}: ${child.message}`);
	if (decision) lines.push(`Waiting for a decision: ${decision.reason}`);
	return {
		id: `step:${run.runId}:${child.id}`,
		label: child.id,
		description: desc.join(' · '),
		contextValue: `tool:${child.state}`,
		icon: STATE_ICON[child.state]?.icon ?? 'circle-large-outline',
		tooltip: lines.join('\n\n'),
	};
}

/** Why an agent got the step: the score and its parts, as percentages. */
export function allocationText(a: AllocationView): string {
	const parts = a.parts ? Object.entries(a.parts).map(([k, v]) => `${k} ${Math.round(v * 100)}%`) : [];
	const score = a.score !== undefined ? ` (score ${a.score.toFixed(2)}${parts.length ? `: ${parts.join(', ')}` : ''})` : '';
	return `Agent: **${a.agent}**${score} — ${a.reason}`;
}

/** "3 succeeded, 1 running" over a step's tool calls. */
export function childCounts(children: readonly ChildStepView[]): string {
	const counts = new Map<string, number>();
	for (const c of children) counts.set(c.state, (counts.get(c.state) ?? 0) + 1);
	return [...counts].map(([state, n]) => `${n} ${state.replace('_', ' ')}`).join(', ');
}

/** The most severe budget threshold a run crossed. */
export function budgetLevel(run: Pick<RunView, 'budget'>): 'warn' | 'pause' | 'stop' | undefined {
	const levels = new Set((run.budget ?? []).map((b) => b.level));
	return levels.has('stop') ? 'stop' : levels.has('pause') ? 'pause' : levels.has('warn') ? 'warn' : undefined;
}

function countsText(counts: Record<string, number>): string {
	const parts = Object.entries(counts)
		.filter(([k, v]) => v > 0 && k !== 'pending')
		.map(([k, v]) => `${v} ${k.replace('_', ' ')}`);
	return parts.length ? ` (${parts.join(', ')})` : '';
}

function clip(text: string, max: number): string {
	return text.length <= max ? text : `${text.slice(0, max)}\n…`;
}
