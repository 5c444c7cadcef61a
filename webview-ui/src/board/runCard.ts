// One run: a header (status, progress, counts, actions) and, when expanded, its steps by level and its timings.
import type { RunAction } from '../../../src/protocol/messages';
import { formatTokens, formatUsd, usageLine } from '../../../src/protocol/usage';
import type { BudgetNoticeView, RunHeader, RunView } from '../../../src/protocol/viewModels';
import { createButton, setButtonDisabled } from '../components/button';
import { createBadge, createSpinner, setBadge } from '../components/indicators';
import type { BoardContext } from './context';
import { DagView } from './dag';
import { h, setClass, setHidden, setText } from './dom';
import { formatDuration, formatTime, plural, STATE_ORDER, stateLabel } from './format';
import { TimingsView } from './timings';

const ACTIONS: readonly { action: RunAction; label: string; title: string; primary?: boolean }[] = [
	{ action: 'cancel', label: 'Cancel', title: 'Stop the run: running steps are cancelled, nothing new starts' },
	{ action: 'retry', label: 'Retry', title: 'Run the failed steps again', primary: true },
	{ action: 'resume', label: 'Resume', title: 'Continue the interrupted run from its journal', primary: true },
	{ action: 'rollback', label: 'Roll back', title: "Undo the run's changes" },
	{ action: 'commit', label: 'Commit', title: "Accept the run's changes for good (no rollback after this)" },
	{ action: 'openLog', label: 'Open log', title: "Open the run's log" },
];

/** Which actions a run offers in its current status. */
export function availableActions(run: RunHeader): Set<RunAction> {
	const out = new Set<RunAction>(['openLog']);
	const running = run.status === 'running';
	if (running && run.live) out.add('cancel');
	if (run.status === 'failed' || run.status === 'cancelled' || run.status === 'rejected') out.add('retry');
	if (run.status === 'interrupted') out.add('resume');
	if (!running && run.status !== 'rolled_back' && !run.committed) out.add('rollback');
	// The core commits only runs that ended (an interrupted one must be resumed or rolled back first).
	if (!running && run.status !== 'rolled_back' && run.status !== 'interrupted' && !run.committed) out.add('commit');
	return out;
}

export class RunCard {
	readonly el: HTMLElement;
	private run: RunView;
	private isExpanded: boolean;
	private readonly toggle: HTMLButtonElement;
	private readonly name = h('span', { className: 'run-name' });
	private readonly status = createBadge('', 'run-status');
	private readonly spinner = createSpinner('Running', 'run-spinner');
	private readonly started = h('span', { className: 'run-started' });
	private readonly bar = h('div', { className: 'run-progress', attrs: { role: 'progressbar', 'aria-valuemin': '0' } });
	private readonly segments = { ok: h('span', { className: 'seg seg-ok' }), failed: h('span', { className: 'seg seg-failed' }), other: h('span', { className: 'seg seg-other' }) };
	private readonly done = h('span', { className: 'run-done' });
	private readonly duration = h('span', { className: 'run-duration' });
	private readonly mode = h('span', { className: 'run-mode' });
	private readonly usage = h('span', { className: 'run-usage' });
	private readonly budgetBadge = createBadge('', 'run-budget');
	private readonly budget = h('ul', { className: 'run-budget-notices' });
	private readonly goal = h('div', { className: 'run-goal' });
	private budgetSignature = '\u0000';
	private readonly counts = h('div', { className: 'run-counts' });
	private readonly message = h('div', { className: 'run-message' });
	private readonly buttons = new Map<RunAction, HTMLElement>();
	private readonly slot = h('div', { className: 'notice-slot' });
	private readonly body = h('div', { className: 'run-body' });
	private dag: DagView | undefined;
	private timings: TimingsView | undefined;
	private countsSignature = '';

	constructor(
		run: RunView,
		expanded: boolean,
		private readonly ctx: BoardContext,
	) {
		this.run = run;
		this.isExpanded = expanded;
		this.toggle = h('button', { className: 'run-toggle', attrs: { type: 'button' } });
		this.toggle.addEventListener('click', () => {
			this.setExpanded(!this.isExpanded);
			ctx.setExpanded(this.run.runId, this.isExpanded);
		});
		const actions = h('div', { className: 'run-actions' });
		for (const a of ACTIONS) {
			const button = createButton({
				label: a.label,
				title: a.title,
				appearance: a.primary ? 'primary' : 'secondary',
				className: `run-act act-${a.action}`,
				onClick: () => ctx.post({ type: 'runAction', action: a.action, runId: this.run.runId }, { slot: this.slot }),
			});
			this.buttons.set(a.action, button);
			actions.append(button);
		}
		this.bar.append(this.segments.ok, this.segments.failed, this.segments.other);
		this.el = h(
			'section',
			{ className: 'run', attrs: { 'data-run-id': run.runId } },
			h('header', { className: 'run-head' }, this.toggle, this.name, this.status, this.budgetBadge, this.spinner, this.started),
			this.goal,
			this.bar,
			h('div', { className: 'run-meta' }, this.done, this.duration, this.usage, this.mode),
			this.counts,
			this.budget,
			this.message,
			actions,
			this.slot,
			this.body,
		);
		this.replace(run);
	}

	get runId(): string {
		return this.run.runId;
	}

	get expanded(): boolean {
		return this.isExpanded;
	}

	/** Briefly highlights the card (a goal's run link was followed). */
	flash(): void {
		this.el.classList.remove('flash');
		void this.el.offsetWidth;
		this.el.classList.add('flash');
	}

	/** True while the run's chips are still being drawn. */
	get pending(): boolean {
		return this.dag?.pending ?? false;
	}

	/** A new RunView (a snapshot, or the run replaced wholesale). Same steps: repainted in place; else redrawn. */
	replace(run: RunView): void {
		this.run = run;
		this.el.dataset.runId = run.runId;
		this.updateHeader();
		if (this.isExpanded && this.dag?.sameShape(run)) {
			this.dag.refresh(run);
			this.timings?.update(run);
			return;
		}
		this.setExpanded(this.isExpanded, true);
	}

	updateHeader(): void {
		const run = this.run;
		setClass(this.el, `run rs-${run.status}${run.live ? ' live' : ''}${this.isExpanded ? ' expanded' : ''}`);
		setText(this.name, run.workflow);
		this.name.title = run.file ?? run.workflow;
		setBadge(this.status, stateLabel(run.status), `run-status rs-${run.status}`);
		setHidden(this.spinner, !(run.status === 'running' && run.live));
		setText(this.started, `started ${formatTime(run.startedAt)}`);
		const total = run.total;
		const pct = total ? Math.floor((run.done / total) * 100) : run.status === 'succeeded' ? 100 : 0;
		// Once a run is over, "done" would read as "all fine": say how many succeeded instead.
		const succeeded = run.counts.succeeded ?? 0;
		setText(this.done, run.status === 'running' || run.status === 'succeeded' ? `${run.done}/${total} done · ${pct}%` : `${succeeded}/${total} succeeded`);
		this.bar.setAttribute('aria-valuemax', String(total));
		this.bar.setAttribute('aria-valuenow', String(run.done));
		this.bar.setAttribute('aria-label', `${run.done} of ${total} steps done`);
		const c = run.counts;
		const failed = c.failed ?? 0;
		const counted = (c.succeeded ?? 0) + failed + (c.skipped ?? 0) + (c.cancelled ?? 0) + (c.rolled_back ?? 0);
		// Counts split the bar by outcome; without them the bar is one "done" segment.
		const ok = counted ? (c.succeeded ?? 0) : run.done;
		const other = counted ? Math.max(0, run.done - ok - failed) : 0;
		width(this.segments.ok, total ? ok / total : 0);
		width(this.segments.failed, total && counted ? failed / total : 0);
		width(this.segments.other, total ? other / total : 0);
		this.tick(Date.now());
		setText(this.mode, `${run.mode} · concurrency ${run.concurrency || '∞'} · ${plural(run.levels, 'level')}`);
		this.paintCounts(c);
		setText(this.message, run.message ?? '');
		setHidden(this.message, !run.message);
		this.paintUsage(run);
		this.paintBudget(run.budget ?? []);
		const goal = run.orchestration ? this.ctx.store.snapshot?.orchestrations?.find((o) => o.id === run.orchestration) : undefined;
		setText(this.goal, goal ? `goal: ${goal.goal}` : '');
		this.goal.title = goal ? `Started by the orchestration of "${goal.goal}"` : '';
		setHidden(this.goal, !goal);
		const available = availableActions(run);
		const trusted = this.ctx.trusted();
		for (const [action, button] of this.buttons) {
			setHidden(button, !available.has(action));
			setButtonDisabled(button, !trusted && action !== 'openLog');
		}
		this.timings?.update(run);
	}

	/** The live duration of a running run; returns whether it keeps ticking. */
	tick(now: number): boolean {
		const run = this.run;
		const ticking = run.durationMs === undefined && run.status === 'running';
		const ms = run.durationMs ?? (ticking ? now - run.startedAt : undefined);
		setText(this.duration, ms === undefined ? '' : formatDuration(ticking ? Math.floor(ms / 1000) * 1000 : ms));
		return ticking;
	}

	updateSteps(stepIds: Set<string>): void {
		if (!this.dag || !this.timings) return;
		if (!this.dag.update(stepIds)) this.dag.build(this.run);
		this.timings.update(this.run);
	}

	pump(deadline: number): boolean {
		return this.dag?.pump(deadline) ?? false;
	}

	setExpanded(expanded: boolean, rebuild = false): void {
		const changed = expanded !== this.isExpanded;
		this.isExpanded = expanded;
		this.toggle.setAttribute('aria-expanded', String(expanded));
		this.toggle.title = expanded ? 'Hide steps' : 'Show steps';
		this.toggle.textContent = expanded ? '▾' : '▸';
		this.el.classList.toggle('expanded', expanded);
		if (!expanded) {
			// A collapsed run keeps no chips: thousands of hidden elements would still cost memory and patches.
			this.dag = undefined;
			this.timings = undefined;
			this.body.replaceChildren();
			return;
		}
		if (this.dag && !changed && !rebuild) return;
		if (this.dag && rebuild) this.dag.build(this.run);
		else this.dag = new DagView(this.run, this.ctx);
		this.timings ??= new TimingsView(this.ctx);
		this.timings.update(this.run);
		this.body.replaceChildren(this.dag.el, this.timings.el);
		this.ctx.requestFrame();
	}

	/** "12.3k tokens · $0.0042"; per agent in its tooltip once the run reported them. */
	private paintUsage(run: RunHeader): void {
		const u = run.usage;
		setHidden(this.usage, !u || u.calls === 0);
		if (!u || u.calls === 0) return;
		setText(this.usage, usageLine(u));
		const agents = Object.entries(u.agents ?? {}).map(([name, a]) => `${name}: ${formatTokens(a.promptTokens + a.completionTokens)} tokens · ${formatUsd(a.costUsd)} in ${plural(a.calls, 'call')}`);
		this.usage.title = [`${formatTokens(u.promptTokens)} prompt + ${formatTokens(u.completionTokens)} completion tokens in ${plural(u.calls, 'call')}`, ...agents].join('\n');
	}

	/** The worst level crossed as a badge, and the notices themselves (newest last). */
	private paintBudget(notices: readonly BudgetNoticeView[]): void {
		const signature = notices.map((n) => `${n.level}:${n.message}`).join('\n');
		if (signature === this.budgetSignature) return;
		this.budgetSignature = signature;
		const levels = new Set(notices.map((n) => n.level));
		const worst = levels.has('stop') ? 'stop' : levels.has('pause') ? 'pause' : levels.has('warn') ? 'warn' : undefined;
		setHidden(this.budgetBadge, !worst);
		if (worst) {
			setBadge(this.budgetBadge, `budget ${worst}`, `run-budget budget-${worst}`);
			this.budgetBadge.title = notices[notices.length - 1].message;
		}
		this.budget.replaceChildren(...notices.slice(-3).map((n) => h('li', { className: `budget-notice budget-${n.level}`, text: `${n.level}: ${n.message}` })));
		setHidden(this.budget, notices.length === 0);
	}

	private paintCounts(counts: Record<string, number>): void {
		const keys = [...STATE_ORDER.filter((s) => counts[s]), ...Object.keys(counts).filter((k) => counts[k] && !STATE_ORDER.includes(k as never))];
		const signature = keys.map((k) => `${k}=${counts[k]}`).join(',');
		if (signature === this.countsSignature) return;
		this.countsSignature = signature;
		this.counts.replaceChildren(
			...keys.map((k) => h('span', { className: `count st-${k}`, attrs: { 'data-state': k } }, h('span', { className: 'dot' }), h('span', { className: 'count-n', text: String(counts[k]) }), ` ${stateLabel(k)}`)),
		);
	}
}

function width(el: HTMLElement, fraction: number): void {
	const value = `${(Math.max(0, Math.min(1, fraction)) * 100).toFixed(2)}%`;
	if (el.style.width !== value) el.style.width = value;
}
