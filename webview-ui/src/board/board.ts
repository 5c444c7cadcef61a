// The whole board: trust banner, notices, the decision queue, then the runs newest first. Redraws only what changed.
import type { WebviewToHost } from '../../../src/protocol/messages';
import type { MetricsView, RunView } from '../../../src/protocol/viewModels';
import { createDivider, createSpinner } from '../components/indicators';
import type { Host } from '../host';
import type { BoardChanges, BoardStore } from '../store';
import type { BoardContext, NoticeAnchor } from './context';
import { DecisionQueue } from './decisionQueue';
import { h, setHidden } from './dom';
import { STATE_ORDER, stateLabel } from './format';
import { MetricsSection } from './metrics';
import { Notices } from './notices';
import { OrchestrationList } from './orchestrations';
import { RunCard } from './runCard';

/** What the view remembers across reloads (VS Code keeps it while the view is hidden). */
interface UiState {
	expanded?: [string, boolean][];
}

const REMEMBERED_RUNS = 50;
/** A focusDecision for a decision not yet drawn waits this long for it. */
const FOCUS_WAIT_MS = 5_000;

export class Board {
	private readonly banner = h(
		'div',
		{ className: 'banner untrusted-banner', attrs: { role: 'status' } },
		h('strong', { text: 'Restricted mode. ' }),
		'This workspace is not trusted, so workflows cannot run here. Trust the workspace to run, resume or roll back.',
	);
	private readonly loading = h('div', { className: 'loading' }, createSpinner('Loading'), h('span', { text: 'Loading the board…' }));
	private readonly empty = h('div', { className: 'empty', text: 'No runs yet. Run a workflow (a .qo.json file) and its steps appear here.' });
	private readonly topNotices = h('div', { className: 'notices', attrs: { 'aria-live': 'polite' } });
	private readonly runList = h('div', { className: 'run-list' });
	private readonly divider = createDivider();
	private readonly runsSection = h('section', { className: 'runs', attrs: { 'aria-label': 'Runs' } }, h('h2', { className: 'section-title', text: 'Runs' }), legend(), this.runList);
	private readonly notices = new Notices(this.topNotices);
	private readonly metricsSection = new MetricsSection();
	private readonly decisions: DecisionQueue;
	private readonly goals: OrchestrationList;
	private readonly cards = new Map<string, RunCard>();
	private readonly expanded: Map<string, boolean>;
	private readonly ctx: BoardContext;
	private pendingFocus: { id: string; until: number } | undefined;
	private ticker: ReturnType<typeof setInterval> | undefined;

	constructor(
		readonly root: HTMLElement,
		private readonly store: BoardStore,
		private readonly host: Host,
		requestFrame: () => void,
	) {
		this.expanded = new Map(host.getState<UiState>()?.expanded ?? []);
		this.ctx = {
			store,
			post: (message, anchor) => this.post(message, anchor),
			focusDecision: (id) => this.decisions.focus(id),
			trusted: () => store.snapshot?.trusted ?? true,
			requestFrame,
			setExpanded: (runId, on) => this.rememberExpanded(runId, on),
			revealRun: (runId) => this.revealRun(runId),
		};
		this.decisions = new DecisionQueue(this.ctx);
		this.goals = new OrchestrationList(this.ctx);
		this.banner.hidden = true;
		this.empty.hidden = true;
		this.runsSection.hidden = true;
		this.divider.hidden = true;
		root.classList.add('qo-board');
		root.replaceChildren(this.banner, this.topNotices, this.loading, this.goals.el, this.decisions.el, this.divider, this.runsSection, this.empty, this.metricsSection.el);
	}

	/** Applies one frame's worth of changes. Cheap when little changed: nothing is redrawn wholesale. */
	render(changes: BoardChanges): void {
		const snapshot = this.store.snapshot;
		if (!snapshot) return;
		setHidden(this.loading, true);
		if (changes.all || changes.runs) this.reconcileRuns(snapshot.runs, changes.all ? undefined : changes.replacedRuns);
		if (changes.all || changes.trust) {
			setHidden(this.banner, snapshot.trusted);
			this.decisions.setTrusted(snapshot.trusted);
			// Run actions are disabled in an untrusted workspace.
			if (!changes.all) for (const card of this.cards.values()) card.updateHeader();
		}
		if (changes.all || changes.decisions) this.decisions.render(snapshot.decisions);
		if (changes.all || changes.orchestrations) this.goals.render(snapshot.orchestrations ?? []);
		if (!changes.all) {
			for (const runId of changes.headers) this.cards.get(runId)?.updateHeader();
			for (const [runId, ids] of changes.steps) this.cards.get(runId)?.updateSteps(ids);
			this.goals.refreshRuns(changes.headers);
		}
		setHidden(this.empty, snapshot.runs.length > 0 || snapshot.decisions.length > 0 || (snapshot.orchestrations?.length ?? 0) > 0);
		setHidden(this.divider, snapshot.runs.length === 0 || snapshot.decisions.length === 0);
		this.syncTicker();
		if (this.pendingFocus) {
			const { id, until } = this.pendingFocus;
			if (this.decisions.focus(id) || Date.now() > until) this.pendingFocus = undefined;
		}
	}

	/** Draws pending chips until `deadline`; true when more remain for the next frame. */
	pump(deadline: number): boolean {
		for (const card of this.cards.values()) {
			if (!card.pending) continue;
			if (card.pump(deadline) || performance.now() >= deadline) return this.anyPending();
		}
		return false;
	}

	/** New figures from the telemetry store (a run finished). */
	metrics(m: MetricsView): void {
		this.metricsSection.update(m);
	}

	notice(level: 'info' | 'error', text: string): void {
		this.notices.show(level, text);
	}

	focusDecision(decisionId: string): void {
		if (this.decisions.focus(decisionId)) return;
		// The decision may be in a patch that has not been drawn yet.
		this.pendingFocus = { id: decisionId, until: Date.now() + FOCUS_WAIT_MS };
	}

	private revealRun(runId: string): boolean {
		const card = this.cards.get(runId);
		if (!card) return false;
		if (!card.expanded) {
			card.setExpanded(true);
			this.rememberExpanded(runId, true);
		}
		card.el.scrollIntoView({ block: 'start', behavior: 'smooth' });
		card.flash();
		return true;
	}

	private post(message: WebviewToHost, anchor?: NoticeAnchor): void {
		this.notices.setAnchor(anchor);
		this.host.post(message);
	}

	private anyPending(): boolean {
		for (const card of this.cards.values()) if (card.pending) return true;
		return false;
	}

	/** Keyed by run id: unchanged runs keep their elements; `replaced` (undefined = all) redraw. */
	private reconcileRuns(runs: readonly RunView[], replaced: Set<string> | undefined): void {
		setHidden(this.runsSection, runs.length === 0);
		const seen = new Set<string>();
		let previous: Element | null = null;
		runs.forEach((run, i) => {
			seen.add(run.runId);
			let card = this.cards.get(run.runId);
			if (!card) {
				card = new RunCard(run, this.expanded.get(run.runId) ?? (i === 0 || (run.status === 'running' && run.live)), this.ctx);
				this.cards.set(run.runId, card);
			} else if (!replaced || replaced.has(run.runId)) card.replace(run);
			const wanted: ChildNode | null = previous ? previous.nextSibling : this.runList.firstChild;
			if (card.el !== wanted) this.runList.insertBefore(card.el, wanted);
			previous = card.el;
		});
		for (const [runId, card] of this.cards) {
			if (seen.has(runId)) continue;
			card.el.remove();
			this.cards.delete(runId);
		}
	}

	private syncTicker(): void {
		const live = [...this.cards.values()].some((c) => c.tick(Date.now()));
		if (live && !this.ticker) {
			this.ticker = setInterval(() => {
				let any = false;
				const now = Date.now();
				for (const card of this.cards.values()) any = card.tick(now) || any;
				if (!any) {
					clearInterval(this.ticker);
					this.ticker = undefined;
				}
			}, 1000);
		}
	}

	private rememberExpanded(runId: string, on: boolean): void {
		this.expanded.delete(runId);
		this.expanded.set(runId, on);
		while (this.expanded.size > REMEMBERED_RUNS) this.expanded.delete(this.expanded.keys().next().value!);
		this.host.setState({ expanded: [...this.expanded] } satisfies UiState);
	}
}

/** The colour key, folded by default: it matters the first time, and then only takes room. */
function legend(): HTMLElement {
	return h(
		'details',
		{ className: 'legend' },
		h('summary', { className: 'legend-summary', text: 'Colour key' }),
		h(
			'div',
			{ className: 'legend-items' },
			...STATE_ORDER.map((s) => h('span', { className: `legend-item` }, h('span', { className: `chip-swatch st-${s}` }), stateLabel(s))),
			h('span', { className: 'legend-item' }, h('span', { className: 'chip-swatch crit' }), 'critical path'),
		),
	);
}
