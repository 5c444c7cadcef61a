// Where a run's time went: the slowest steps as bars, and the critical path.
import type { RunView, StepView } from '../../../src/protocol/viewModels';
import type { BoardContext } from './context';
import { h, setHidden, setText } from './dom';
import { formatDuration } from './format';

const SLOWEST = 8;
const CRITICAL_SHOWN = 6;

export class TimingsView {
	readonly el: HTMLElement;
	private readonly critical = h('div', { className: 'critical-path' });
	private readonly list = h('ol', { className: 'timings-list' });
	private readonly slowest = h('div', { className: 'timings' }, h('h3', { className: 'subsection-title', text: 'Slowest steps' }), this.list);
	/** The rendered top list, to skip redrawing an unchanged one. */
	private signature = '';

	constructor(ctx: BoardContext) {
		this.el = h('div', { className: 'run-timings' }, this.critical, this.slowest);
		this.list.addEventListener('click', (event) => {
			const row = event.target instanceof Element ? event.target.closest<HTMLElement>('[data-step]') : null;
			const runId = this.list.dataset.run;
			if (row?.dataset.step && runId) ctx.post({ type: 'openStep', runId, stepId: row.dataset.step });
		});
	}

	/** O(steps) with a small fixed top list; the caller calls it at most once per frame per run. */
	update(run: RunView): void {
		this.list.dataset.run = run.runId;
		this.updateCritical(run);
		const top: StepView[] = [];
		for (const s of run.steps) {
			if (s.durationMs === undefined) continue;
			if (top.length < SLOWEST) {
				top.push(s);
				if (top.length === SLOWEST) top.sort((a, b) => b.durationMs! - a.durationMs!);
			} else if (s.durationMs > top[SLOWEST - 1].durationMs!) {
				top[SLOWEST - 1] = s;
				top.sort((a, b) => b.durationMs! - a.durationMs!);
			}
		}
		top.sort((a, b) => b.durationMs! - a.durationMs!);
		const signature = top.map((s) => `${s.id}:${s.durationMs}:${s.state}:${s.critical}`).join('|');
		setHidden(this.slowest, top.length === 0);
		if (signature === this.signature) return;
		this.signature = signature;
		const max = top[0]?.durationMs ?? 1;
		this.list.replaceChildren(
			...top.map((s) => {
				const bar = h('span', { className: `timing-bar st-${s.state}` });
				// CSSOM writes are allowed by a strict style-src; style attributes would not be.
				bar.style.width = `${Math.max(1, (s.durationMs! / max) * 100).toFixed(1)}%`;
				return h(
					'li',
					{ className: `timing${s.critical ? ' crit' : ''}`, attrs: { 'data-step': s.id } },
					h('button', { className: 'link timing-name', text: s.id, title: `${s.type}.${s.operation}`, attrs: { type: 'button' } }),
					h('span', { className: 'timing-track' }, bar),
					h('span', { className: 'timing-ms', text: formatDuration(s.durationMs) }),
				);
			}),
		);
	}

	private updateCritical(run: RunView): void {
		const path = run.criticalPath;
		setHidden(this.critical, path.length === 0);
		if (!path.length) return;
		const shown = path.length <= CRITICAL_SHOWN ? path : [...path.slice(0, CRITICAL_SHOWN - 2), '…', ...path.slice(-2)];
		setText(this.critical, `Critical path (${path.length} ${path.length === 1 ? 'step' : 'steps'}): ${shown.join(' → ')}`);
		this.critical.title = path.join(' → ');
	}
}
