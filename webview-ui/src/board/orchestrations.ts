// Goals being orchestrated: one card each with the session's state (live), the goal, the plan file and the runs it
// started. Keyed by id: a state change repaints its card only.
import type { OrchestrationView } from '../../../src/protocol/viewModels';
import { createBadge, setBadge } from '../components/indicators';
import type { BoardContext } from './context';
import { h, setClass, setHidden, setText } from './dom';
import { formatTime, stateLabel } from './format';

/** The main path a session walks, shown as a trail with the current state marked. */
const TRAIL = ['analysing', 'planning', 'review', 'executing', 'monitoring', 'completing'] as const;

const OUTCOME_LABEL: Record<NonNullable<OrchestrationView['outcome']>, string> = {
	succeeded: 'succeeded',
	failed: 'failed',
	planned: 'planned, not run',
	cancelled: 'cancelled',
	rejected: 'rejected',
};

class GoalCard {
	readonly el: HTMLElement;
	private readonly state = createBadge('', 'goal-state');
	private readonly goal = h('span', { className: 'goal-text' });
	private readonly meta = h('div', { className: 'goal-meta' });
	private readonly trail = h('ol', { className: 'goal-trail', attrs: { 'aria-label': 'Orchestration states' } });
	private readonly detail = h('div', { className: 'goal-detail' });
	private readonly links = h('div', { className: 'goal-links' });
	private signature = '';

	constructor(
		private view: OrchestrationView,
		private readonly ctx: BoardContext,
	) {
		this.el = h('article', { className: 'goal', attrs: { 'data-orchestration-id': view.id } }, h('header', { className: 'goal-head' }, this.state, this.goal), this.trail, this.detail, this.meta, this.links);
		this.update(view);
	}

	update(view: OrchestrationView): void {
		this.view = view;
		const signature = JSON.stringify(view);
		if (signature === this.signature) return;
		this.signature = signature;
		const ended = view.state === 'completing' && view.outcome;
		setClass(this.el, `goal os-${view.state}${view.live ? ' live' : ''}${view.outcome ? ` outcome-${view.outcome}` : ''}`);
		setBadge(this.state, ended ? OUTCOME_LABEL[view.outcome!] : stateLabel(view.state), `goal-state os-${ended ? `outcome-${view.outcome}` : view.state}`);
		this.state.title = `State: ${view.state}${view.outcome ? ` (${view.outcome})` : ''}`;
		setText(this.goal, view.goal);
		this.goal.title = view.goal;
		this.paintTrail(view);
		// At the end the detail is often just the outcome, which the badge already says.
		const detail = view.detail === view.outcome ? undefined : view.detail;
		setText(this.detail, detail ?? '');
		setHidden(this.detail, !detail);
		setText(this.meta, [view.planner ? `planned by ${view.planner}` : '', view.autonomous ? 'autonomous' : 'reviewed before it runs', `started ${formatTime(view.startedAt)}`].filter(Boolean).join(' · '));
		this.paintLinks(view);
	}

	/** The run links show each run's status: repainted when a run's header changes. */
	refreshRuns(runIds: ReadonlySet<string>): void {
		if (this.view.runIds.some((id) => runIds.has(id))) this.paintLinks(this.view);
	}

	private paintTrail(view: OrchestrationView): void {
		// Off the main path (error, recover, escalating) the nearest main state stays marked, the badge says the rest.
		const at = TRAIL.indexOf(view.state as (typeof TRAIL)[number]);
		const reached = at >= 0 ? at : view.state === 'escalating' ? TRAIL.indexOf('monitoring') : view.state === 'idle' ? -1 : TRAIL.indexOf('executing');
		this.trail.replaceChildren(
			...TRAIL.filter((s) => s !== 'review' || !view.autonomous).map((s) => {
				const i = TRAIL.indexOf(s);
				const cls = i < reached ? 'done' : i === reached ? 'current' : 'todo';
				return h('li', { className: `trail-step ${cls}`, text: s, ...(i === reached ? { attrs: { 'aria-current': 'step' } } : {}) });
			}),
		);
	}

	private paintLinks(view: OrchestrationView): void {
		const nodes: Node[] = [];
		if (view.planFile) {
			const plan = h('button', { className: 'link goal-plan', text: view.planFile, title: 'Open the plan (an ordinary workflow file)', attrs: { type: 'button' } });
			plan.addEventListener('click', () => this.ctx.post({ type: 'openPlan', orchestrationId: this.view.id }));
			nodes.push(h('span', { className: 'goal-link' }, 'plan ', plan));
		}
		for (const runId of view.runIds) {
			const run = this.ctx.store.run(runId);
			const link = h('button', { className: 'link goal-run', text: runId, title: 'Show this run', attrs: { type: 'button', 'data-run-id': runId } });
			link.addEventListener('click', () => this.ctx.revealRun(runId));
			nodes.push(h('span', { className: 'goal-link' }, 'run ', link, run ? ` (${stateLabel(run.status)})` : ''));
		}
		this.links.replaceChildren(...nodes);
		setHidden(this.links, nodes.length === 0);
	}
}

export class OrchestrationList {
	readonly el: HTMLElement;
	private readonly list = h('div', { className: 'goal-list' });
	private readonly cards = new Map<string, GoalCard>();

	constructor(private readonly ctx: BoardContext) {
		this.el = h('section', { className: 'goals', attrs: { 'aria-label': 'Goals' } }, h('h2', { className: 'section-title', text: 'Goals' }), this.list);
		this.el.hidden = true;
	}

	render(views: readonly OrchestrationView[]): void {
		setHidden(this.el, views.length === 0);
		const seen = new Set<string>();
		let previous: Element | null = null;
		for (const view of views) {
			seen.add(view.id);
			let card = this.cards.get(view.id);
			if (!card) this.cards.set(view.id, (card = new GoalCard(view, this.ctx)));
			else card.update(view);
			const wanted: ChildNode | null = previous ? previous.nextSibling : this.list.firstChild;
			if (card.el !== wanted) this.list.insertBefore(card.el, wanted);
			previous = card.el;
		}
		for (const [id, card] of this.cards) {
			if (seen.has(id)) continue;
			card.el.remove();
			this.cards.delete(id);
		}
	}

	/** Run statuses shown next to run links change with run headers. */
	refreshRuns(runIds: ReadonlySet<string>): void {
		if (runIds.size) for (const card of this.cards.values()) card.refreshRuns(runIds);
	}
}
