// The metrics section: the top handlers and steps by total time, each with count, success rate, mean and p95, and a
// small inline SVG bar (no chart library). Redrawn when the host sends new figures (a run finished).
import type { MetricsRow, MetricsView } from '../../../src/protocol/viewModels';
import { h, setHidden, setText } from './dom';
import { formatDuration } from './format';

const SVG = 'http://www.w3.org/2000/svg';
const BAR_W = 120;
const BAR_H = 10;

function pct(rate: number | undefined): string {
	return rate === undefined ? '—' : `${Math.round(rate * 100)}%`;
}

/** Total time as the bar's length (against the longest row), p95 as a tick, the success rate as the bar's class. */
function bar(row: MetricsRow, maxMs: number): SVGSVGElement {
	const svg = document.createElementNS(SVG, 'svg');
	svg.setAttribute('class', 'metrics-bar');
	svg.setAttribute('width', String(BAR_W));
	svg.setAttribute('height', String(BAR_H));
	svg.setAttribute('viewBox', `0 0 ${BAR_W} ${BAR_H}`);
	svg.setAttribute('role', 'img');
	svg.setAttribute('aria-label', `${formatDuration(row.totalMs)} in total`);
	const track = document.createElementNS(SVG, 'rect');
	track.setAttribute('class', 'metrics-track');
	track.setAttribute('width', String(BAR_W));
	track.setAttribute('height', String(BAR_H));
	track.setAttribute('rx', '2');
	const fill = document.createElementNS(SVG, 'rect');
	const w = maxMs > 0 ? Math.max(1, Math.round((row.totalMs / maxMs) * BAR_W)) : 0;
	fill.setAttribute('class', row.successRate !== undefined && row.successRate < 1 ? 'metrics-fill some-failed' : 'metrics-fill');
	fill.setAttribute('width', String(w));
	fill.setAttribute('height', String(BAR_H));
	fill.setAttribute('rx', '2');
	svg.append(track, fill);
	return svg;
}

function table(title: string, rows: readonly MetricsRow[], kind: string): HTMLElement {
	const maxMs = rows.reduce((m, r) => Math.max(m, r.totalMs), 0);
	const head = h('tr', {}, ...['', 'runs', 'success', 'mean', 'p95', 'total time'].map((t) => h('th', { text: t, attrs: { scope: 'col' } })));
	const body = rows.map((r) =>
		h(
			'tr',
			{ className: 'metrics-row', attrs: { 'data-label': r.label } },
			h('th', { className: 'metrics-name', text: r.label, title: r.label, attrs: { scope: 'row' } }),
			h('td', { className: 'metrics-count', text: String(r.count) }),
			h('td', { className: 'metrics-success', text: pct(r.successRate) }),
			h('td', { className: 'metrics-mean', text: formatDuration(r.meanMs) || '—' }),
			h('td', { className: 'metrics-p95', text: formatDuration(r.p95Ms) || '—' }),
			h('td', { className: 'metrics-total' }, bar(r, maxMs), h('span', { text: ` ${formatDuration(r.totalMs)}` })),
		),
	);
	return h(
		'div',
		{ className: `metrics-block metrics-${kind}` },
		h('h3', { className: 'subsection-title', text: title }),
		rows.length ? h('table', { className: 'metrics-table' }, h('thead', {}, head), h('tbody', {}, ...body)) : h('p', { className: 'metrics-empty', text: 'Nothing recorded yet.' }),
	);
}

export class MetricsSection {
	private readonly summary = h('p', { className: 'metrics-summary' });
	private readonly blocks = h('div', { className: 'metrics-blocks' });
	readonly el = h('section', { className: 'metrics', attrs: { 'aria-label': 'Metrics' } }, h('h2', { className: 'section-title', text: 'Metrics' }), this.summary, this.blocks);

	constructor() {
		this.el.hidden = true;
	}

	update(m: MetricsView): void {
		setHidden(this.el, false);
		setText(this.summary, `${m.runs.count} run${m.runs.count === 1 ? '' : 's'} recorded · ${pct(m.runs.successRate)} succeeded · updated ${new Date(m.updatedAt).toLocaleTimeString()}`);
		this.blocks.replaceChildren(table('Handlers by time', m.handlers, 'handlers'), table('Steps by time', m.steps, 'steps'));
	}
}
