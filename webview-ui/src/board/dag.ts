// A run's steps by level: one row of chips per level. Built in time-sliced chunks, then updated chip by chip.
import { usageLine } from '../../../src/protocol/usage';
import type { ChildStepView, RunView, StepStateView, StepView } from '../../../src/protocol/viewModels';
import { createButton } from '../components/button';
import { FINAL_STATES } from '../store';
import type { BoardContext } from './context';
import { h, setText } from './dom';
import { formatDuration, plural, stateLabel } from './format';

/** Chips drawn per level before a "show all" button; the rest are drawn on request. */
export const LEVEL_CHIP_LIMIT = 2000;
/** How often the time budget is checked while drawing chips. */
const CHUNK = 64;
/** Above this many steps a run starts compact: chips are small squares, names on hover and focus. */
export const COMPACT_ABOVE = 300;

interface LevelRow {
	level: number;
	el: HTMLElement;
	count: HTMLElement;
	chips: HTMLElement;
	/** Tool calls of this level's steps, one group per step that made any. */
	tools: HTMLElement;
	toolGroups: Map<string, HTMLElement>;
	more: HTMLElement | undefined;
	/** Indexes into run.steps, in run order. */
	steps: number[];
	/** How many of `steps` have chips. */
	drawn: number;
	limit: number;
	done: number;
	failed: number;
	waiting: number;
	dirty: boolean;
}

export class DagView {
	readonly el: HTMLElement;
	private readonly levels = h('div', { className: 'dag-levels', attrs: { role: 'group', 'aria-label': 'Steps by level' } });
	private readonly namesToggle = h('button', { className: 'link dag-names', attrs: { type: 'button' } });
	private compact: boolean | undefined;
	private readonly chips = new Map<string, HTMLButtonElement>();
	/** The state each step was last counted in, so level counts move by difference. */
	private readonly counted = new Map<string, StepStateView>();
	private readonly rowOf = new Map<string, LevelRow>();
	private rows: LevelRow[] = [];
	/** The first row that may still have chips to draw. */
	private nextRow = 0;
	private highlighted: HTMLElement[] = [];
	/** A step moved level: the next update redraws everything. */
	private stale = false;

	constructor(
		private run: RunView,
		private readonly ctx: BoardContext,
	) {
		this.el = h('div', { className: 'dag' }, h('div', { className: 'dag-head' }, h('h3', { className: 'subsection-title', text: 'Steps by level' }), this.namesToggle), this.levels);
		this.namesToggle.addEventListener('click', () => this.setCompact(!this.compact));
		this.levels.addEventListener('click', (event) => this.onClick(event));
		this.levels.addEventListener('mouseover', (event) => this.onHover(event));
		this.levels.addEventListener('focusin', (event) => this.onHover(event));
		this.levels.addEventListener('mouseleave', () => this.clearHighlight());
		this.build(run);
	}

	/** True while chips remain to be drawn. */
	get pending(): boolean {
		return this.nextRow < this.rows.length;
	}

	get chipCount(): number {
		return this.chips.size;
	}

	/** Redraws from scratch (a run replaced wholesale). Chips are created later, by pump(). */
	build(run: RunView): void {
		this.run = run;
		this.chips.clear();
		this.counted.clear();
		this.rowOf.clear();
		this.highlighted = [];
		this.stale = false;
		const byLevel = new Map<number, number[]>();
		run.steps.forEach((s, i) => {
			let list = byLevel.get(s.level);
			if (!list) byLevel.set(s.level, (list = []));
			list.push(i);
		});
		this.rows = [...byLevel.keys()].sort((a, b) => a - b).map((level) => this.makeRow(level, byLevel.get(level)!));
		for (const row of this.rows) {
			for (const i of row.steps) {
				const step = run.steps[i];
				this.rowOf.set(step.id, row);
				this.count(row, step.state, +1);
				this.counted.set(step.id, step.state);
				if (hasWork(step)) this.paintTools(row, step);
			}
			this.paintRow(row);
		}
		this.nextRow = 0;
		this.levels.replaceChildren(...this.rows.map((r) => r.el));
		if (this.compact === undefined) this.setCompact(run.steps.length > COMPACT_ABOVE);
	}

	/** Compact chips are small squares: a 3,000-step run fits a side panel; names show on hover and focus. */
	setCompact(compact: boolean): void {
		this.compact = compact;
		this.el.classList.toggle('compact', compact);
		this.namesToggle.textContent = compact ? 'Show names' : 'Compact';
		this.namesToggle.title = compact ? 'Show each step as a labelled chip' : 'Show each step as a small square';
	}

	/** True when `run` has the same steps at the same levels: a later snapshot of the same run. */
	sameShape(run: RunView): boolean {
		if (this.stale) return false;
		const before = this.run.steps;
		const after = run.steps;
		if (before === after) return true;
		if (before.length !== after.length) return false;
		for (let i = 0; i < after.length; i++) if (before[i].id !== after[i].id || before[i].level !== after[i].level) return false;
		return true;
	}

	/** Takes a same-shaped run (see sameShape) and repaints in place: no chip is recreated, nothing flickers. */
	refresh(run: RunView): void {
		this.run = run;
		for (const row of this.rows) row.done = row.failed = row.waiting = 0;
		for (const step of run.steps) {
			const row = this.rowOf.get(step.id)!;
			this.count(row, step.state, +1);
			this.counted.set(step.id, step.state);
			const chip = this.chips.get(step.id);
			if (chip) paintChip(chip, step);
			if (hasWork(step) || row.toolGroups.has(step.id)) this.paintTools(row, step);
		}
		for (const row of this.rows) this.paintRow(row);
	}

	/** Updates the chips (and level counts) of the steps that changed; returns false when a full redraw is needed. */
	update(stepIds: Iterable<string>): boolean {
		const store = this.ctx.store;
		const touched = new Set<LevelRow>();
		for (const id of stepIds) {
			const step = store.step(this.run.runId, id);
			const row = this.rowOf.get(id);
			if (!step || !row) continue;
			if (step.level !== row.level) this.stale = true;
			const before = this.counted.get(id);
			if (before !== step.state) {
				if (before) this.count(row, before, -1);
				this.count(row, step.state, +1);
				this.counted.set(id, step.state);
				touched.add(row);
			}
			const chip = this.chips.get(id);
			if (chip) paintChip(chip, step);
			if (hasWork(step) || row.toolGroups.has(id)) this.paintTools(row, step);
		}
		for (const row of touched) this.paintRow(row);
		return !this.stale;
	}

	/** Draws chips until `deadline` (a performance.now() time); returns true when more remain. */
	pump(deadline: number): boolean {
		const steps = this.run.steps;
		while (this.nextRow < this.rows.length) {
			const row = this.rows[this.nextRow];
			const end = Math.min(row.steps.length, row.limit);
			if (row.drawn >= end) {
				this.finishRow(row);
				this.nextRow++;
				continue;
			}
			const fragment = document.createDocumentFragment();
			const stop = Math.min(end, row.drawn + CHUNK);
			for (let k = row.drawn; k < stop; k++) {
				const step = steps[row.steps[k]];
				const chip = makeChip(step);
				this.chips.set(step.id, chip);
				fragment.append(chip);
			}
			row.drawn = stop;
			row.chips.append(fragment);
			if (performance.now() >= deadline) return this.pending;
		}
		return false;
	}

	private makeRow(level: number, steps: number[]): LevelRow {
		const count = h('span', { className: 'level-count' });
		const chips = h('div', { className: 'chips' });
		const tools = h('div', { className: 'tool-steps' });
		tools.hidden = true;
		const el = h('div', { className: 'level', attrs: { 'data-level': String(level) } }, h('div', { className: 'level-label' }, h('span', { className: 'level-name', text: `L${level}` }), count), chips, tools);
		return { level, el, count, chips, tools, toolGroups: new Map(), more: undefined, steps, drawn: 0, limit: LEVEL_CHIP_LIMIT, done: 0, failed: 0, waiting: 0, dirty: false };
	}

	/**
	 * Under its level, a line for each step an agent or a model worked on: the step, its agent and why, its tokens and
	 * cost, and one small chip per tool call (the agent's child steps) in its state's colour.
	 */
	private paintTools(row: LevelRow, step: StepView): void {
		const children = step.children ?? [];
		let group = row.toolGroups.get(step.id);
		if (!hasWork(step)) {
			group?.remove();
			row.toolGroups.delete(step.id);
			row.tools.hidden = row.toolGroups.size === 0;
			return;
		}
		if (!group) {
			group = h('div', { className: 'tool-group', attrs: { 'data-parent': step.id } });
			row.toolGroups.set(step.id, group);
			row.tools.append(group);
			row.tools.hidden = false;
		}
		const waiting = children.filter((c) => c.state === 'waiting').length;
		const a = step.allocation;
		const head = h(
			'span',
			{ className: 'tool-parent', title: children.length ? `Tool calls of ${step.id}: ${toolCounts(children)}` : step.id },
			h('span', { className: 'tool-parent-id', text: step.id }),
			a ? h('span', { className: 'tool-agent', text: ` → ${a.agent}`, title: `${a.agent}${a.score !== undefined ? `, score ${a.score.toFixed(2)}` : ''}: ${a.reason}` }) : '',
			step.usage ? h('span', { className: 'tool-usage', text: ` · ${usageLine(step.usage)}` }) : '',
			children.length ? ` · ${plural(children.length, 'tool call')}${waiting ? ` · ${waiting} waiting` : ''}` : '',
		);
		const chips = children.map((c) => {
			const chip = h('button', {
				className: `tool-chip st-${c.state}${c.decisionId ? ' has-decision' : ''}`,
				text: c.summary,
				title: toolTooltip(c),
				attrs: { type: 'button', 'data-step': c.id, 'data-parent': step.id },
			});
			return chip;
		});
		group.replaceChildren(head, h('span', { className: 'tool-chips' }, ...chips));
	}

	/** A level with more steps than its limit ends with a button that draws the rest. */
	private finishRow(row: LevelRow): void {
		const hidden = row.steps.length - row.drawn;
		if (hidden <= 0) {
			row.more?.remove();
			row.more = undefined;
			return;
		}
		if (row.more) return;
		row.more = createButton({
			label: `Show ${hidden} more`,
			appearance: 'secondary',
			className: 'level-more',
			onClick: () => {
				row.limit = Infinity;
				row.more?.remove();
				row.more = undefined;
				this.nextRow = Math.min(this.nextRow, this.rows.indexOf(row));
				this.ctx.requestFrame();
			},
		});
		row.el.append(row.more);
	}

	private count(row: LevelRow, state: StepStateView, delta: number): void {
		if (FINAL_STATES.has(state)) row.done += delta;
		if (state === 'failed') row.failed += delta;
		if (state === 'waiting') row.waiting += delta;
	}

	private paintRow(row: LevelRow): void {
		let text = `${row.done}/${row.steps.length}`;
		if (row.failed) text += `\n${row.failed} failed`;
		if (row.waiting) text += `\n${row.waiting} waiting`;
		setText(row.count, text);
		row.el.classList.toggle('level-failed', row.failed > 0);
		row.el.classList.toggle('level-done', row.done === row.steps.length);
	}

	private stepOf(target: EventTarget | null): { chip: HTMLElement; step: StepView } | undefined {
		const chip = target instanceof Element ? target.closest<HTMLElement>('.chip') : null;
		const id = chip?.dataset.step;
		if (!chip || id === undefined) return undefined;
		const step = this.ctx.store.step(this.run.runId, id);
		return step ? { chip, step } : undefined;
	}

	private onClick(event: MouseEvent): void {
		const tool = event.target instanceof Element ? event.target.closest<HTMLElement>('.tool-chip') : null;
		if (tool?.dataset.step) {
			const child = this.ctx.store.step(this.run.runId, tool.dataset.parent ?? '')?.children?.find((c) => c.id === tool.dataset.step);
			if (child?.state === 'waiting' && child.decisionId && this.ctx.focusDecision(child.decisionId)) return;
			this.ctx.post({ type: 'openStep', runId: this.run.runId, stepId: tool.dataset.step });
			return;
		}
		const hit = this.stepOf(event.target);
		if (!hit) return;
		const { step } = hit;
		// A waiting step's next move is its decision: go there rather than to the log.
		if (step.state === 'waiting' && step.decisionId && this.ctx.focusDecision(step.decisionId)) return;
		this.ctx.post({ type: 'openStep', runId: this.run.runId, stepId: step.id });
	}

	/** Tooltips are built when looked at, not on every patch; the step's dependencies light up. */
	private onHover(event: Event): void {
		const hit = this.stepOf(event.target);
		if (!hit) return;
		const { chip, step } = hit;
		const tip = tooltip(step, this.ctx.store.decision(step.decisionId ?? '')?.summary);
		chip.title = tip;
		chip.setAttribute('aria-label', tip);
		this.clearHighlight();
		for (const dep of step.dependencies) {
			const el = this.chips.get(dep);
			if (el) {
				el.classList.add('is-dep');
				this.highlighted.push(el);
			}
		}
	}

	private clearHighlight(): void {
		for (const el of this.highlighted) el.classList.remove('is-dep');
		this.highlighted = [];
	}
}

function makeChip(step: StepView): HTMLButtonElement {
	const chip = document.createElement('button');
	chip.type = 'button';
	chip.dataset.step = step.id;
	chip.textContent = step.id;
	paintChip(chip, step);
	return chip;
}

/** The only per-patch DOM work for a step: one class string and one data attribute. */
function paintChip(chip: HTMLElement, step: StepView): void {
	let className = `chip st-${step.state}`;
	if (step.critical) className += ' crit';
	if (step.decisionId) className += ' has-decision';
	if (chip.className !== className) chip.className = className;
	const attempt = step.attempt > 1 ? `×${step.attempt}` : undefined;
	if (chip.dataset.attempt !== attempt) {
		if (attempt) chip.dataset.attempt = attempt;
		else delete chip.dataset.attempt;
	}
	const findings = findingsBadge(step);
	if (chip.dataset.findings !== findings) {
		if (findings) chip.dataset.findings = findings;
		else delete chip.dataset.findings;
	}
	const tools = step.children?.length ? `⚙${step.children.length}` : step.allocation ? `→${step.allocation.agent}` : undefined;
	if (chip.dataset.tools !== tools) {
		if (tools) chip.dataset.tools = tools;
		else delete chip.dataset.tools;
	}
}

/** Whether a step has agent or model work to show under its level. */
function hasWork(step: StepView): boolean {
	return Boolean(step.children?.length || step.allocation || step.usage);
}

function toolCounts(children: readonly ChildStepView[]): string {
	const counts = new Map<string, number>();
	for (const c of children) counts.set(c.state, (counts.get(c.state) ?? 0) + 1);
	return [...counts].map(([state, n]) => `${n} ${stateLabel(state)}`).join(', ');
}

function toolTooltip(c: ChildStepView): string {
	const lines = [`${c.id} — ${stateLabel(c.state)}`, `${c.type}.${c.operation}: ${c.summary}`];
	if (c.agent) lines.push(`by agent ${c.agent}`);
	if (c.durationMs !== undefined) lines.push(formatDuration(c.durationMs));
	if (c.message) lines.push(c.message);
	if (c.decisionId) lines.push('waiting for your decision (click to answer)');
	return lines.join('\n');
}

/** `✖2 ⚠1` for a step whose quality tools reported errors and warnings; undefined when there are none. */
function findingsBadge(step: StepView): string | undefined {
	const f = step.findings;
	if (!f || (f.error === 0 && f.warning === 0)) return undefined;
	return [f.error ? `✖${f.error}` : '', f.warning ? `⚠${f.warning}` : ''].filter(Boolean).join(' ');
}

function tooltip(step: StepView, decision: string | undefined): string {
	const lines = [`${step.id} — ${stateLabel(step.state)}`, `${step.type}.${step.operation} · level ${step.level}`];
	if (step.attempt > 1) lines.push(`attempt ${step.attempt}`);
	if (step.durationMs !== undefined) lines.push(formatDuration(step.durationMs));
	if (step.critical) lines.push('on the critical path');
	if (step.message) lines.push(step.message);
	const f = step.findings;
	if (f && f.error + f.warning + f.info > 0) lines.push(`findings: ${[plural(f.error, 'error'), plural(f.warning, 'warning'), plural(f.info, 'note')].join(', ')}`);
	if (step.allocation) {
		const a = step.allocation;
		const parts = a.parts ? Object.entries(a.parts).map(([k, v]) => `${k} ${Math.round(v * 100)}%`).join(', ') : '';
		lines.push(`agent ${a.agent}${a.score !== undefined ? ` (score ${a.score.toFixed(2)}${parts ? `: ${parts}` : ''})` : ''} — ${a.reason}`);
	}
	if (step.usage) lines.push(`LLM: ${usageLine(step.usage)}${step.usage.model ? ` (${step.usage.model})` : ''}`);
	if (step.children?.length) lines.push(`tool calls: ${toolCounts(step.children)}`);
	if (decision) lines.push(`waiting for: ${decision} (click to answer)`);
	if (step.dependencies.length) {
		const shown = step.dependencies.slice(0, 8).join(', ');
		lines.push(`after ${shown}${step.dependencies.length > 8 ? ` and ${step.dependencies.length - 8} more` : ''}`);
	}
	return lines.join('\n');
}
