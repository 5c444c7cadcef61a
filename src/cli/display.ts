// How `qo` shows a run: a live progress line on a TTY, plain lines otherwise, NDJSON events with --json.
import type { EngineEvent, StepState } from '../core/engine/events';
import { formatDuration, plural } from '../core/format';
import { countFindings, formatFinding } from '../core/quality/findings';

export { formatDuration, plural };

export type DisplayMode = 'tty' | 'plain' | 'json' | 'quiet';

export interface Output {
	write(text: string): void;
	readonly columns?: number;
}

const ICON: Partial<Record<StepState, string>> = {
	succeeded: '✔',
	failed: '✖',
	skipped: '↷',
	cancelled: '■',
	retrying: '↻',
	waiting: '?',
	rolled_back: '↶',
};

const COLOR: Partial<Record<StepState, string>> = {
	succeeded: '32',
	failed: '31',
	skipped: '90',
	cancelled: '33',
	retrying: '33',
	waiting: '36',
};

/** Findings printed per tool and step (all of them with --verbose); the rest are counted. */
export const FINDINGS_SHOWN = 10;

/** Steps above this count are not listed one by one on a TTY: only problems and the progress bar. */
const LIST_LIMIT = 200;
const FRAME_MS = 80;

export class RunDisplay {
	private total = 0;
	private done = 0;
	/** Steps a step started (an agent's tool calls), with what each does: shown indented under their parent. */
	private readonly children = new Map<string, string>();
	private readonly running = new Map<string, string>();
	private lastFrame = 0;
	private frameTimer: NodeJS.Timeout | undefined;
	private statusShown = false;
	private listAll = true;
	/** While a question is on screen, lines wait here instead of writing over it. */
	private held: string[] | undefined;

	constructor(
		private readonly mode: DisplayMode,
		private readonly out: Output,
		private readonly color: boolean,
		private readonly verbose = false,
	) {}

	handle = (event: EngineEvent): void => {
		if (this.mode === 'json') {
			if (event.type !== 'log' || this.verbose) this.out.write(`${JSON.stringify(event)}\n`);
			return;
		}
		switch (event.type) {
			case 'run-started':
				this.total = event.steps.length;
				this.listAll = this.mode === 'plain' || this.total <= LIST_LIMIT;
				this.done = 0;
				if (this.mode !== 'quiet') {
					const how = `${event.mode}, up to ${event.concurrency} at once`;
					this.line(`${event.resumed ? 'Resuming' : 'Running'} ${event.workflow} (${event.runId}): ${plural(this.total, 'step')} in ${plural(event.levels, 'level')}, ${how}`);
				}
				break;
			case 'step':
				this.onStep(event);
				break;
			case 'step-output':
				if (this.mode === 'tty' && this.running.has(event.id)) {
					const last = event.text.trimEnd().split('\n').pop();
					if (last) this.running.set(event.id, last);
					this.scheduleFrame();
				}
				if (this.verbose && this.mode === 'plain') {
					for (const l of event.text.trimEnd().split('\n')) this.line(`  ${event.id} | ${l}`);
				}
				break;
			case 'findings':
				if (this.mode !== 'quiet') this.onFindings(event);
				break;
			case 'concurrency':
				if (this.mode !== 'quiet') this.line(`concurrency now ${event.limit}: ${event.reason}`);
				break;
			case 'step-added':
				this.children.set(event.step.id, event.summary);
				break;
			case 'allocation':
				if (this.mode !== 'quiet') this.line(`  ${event.id} → ${event.assignment.reason.startsWith(`${event.assignment.agent}:`) ? event.assignment.reason : `${event.assignment.agent}: ${event.assignment.reason}`}`);
				break;
			case 'budget':
				if (this.mode !== 'quiet' || event.level === 'stop') this.line(`budget ${event.level}: ${event.message}`);
				break;
			case 'rollback-finished':
				if (this.mode !== 'quiet') {
					this.line(`Rolled back ${event.runId}: ${event.restored} restored, ${event.removed} removed, ${event.compensations} undo commands`);
					for (const c of event.conflicts) this.line(`  conflict: ${c.path}: ${c.reason}`);
				}
				break;
			default:
				break;
		}
	};

	private onStep(e: Extract<EngineEvent, { type: 'step' }>): void {
		if (e.state === 'running') {
			this.running.set(e.id, '');
			this.scheduleFrame();
			return;
		}
		if (e.state === 'queued' || e.state === 'pending') return;
		const final = e.state === 'succeeded' || e.state === 'failed' || e.state === 'skipped' || e.state === 'cancelled';
		const child = this.children.get(e.id);
		if (child !== undefined) {
			if (final || e.state === 'waiting') this.running.delete(e.id);
			if (this.mode !== 'quiet' && (final || e.state === 'waiting') && (this.listAll || e.state !== 'succeeded')) {
				const time = e.durationMs !== undefined ? `  ${formatDuration(e.durationMs)}` : '';
				const msg = e.message ? `  ${e.message.replace(/\n/g, '\n        ')}` : '';
				this.line(`    ${this.paint(e.state, ICON[e.state] ?? '·')} ${e.id} ${child}${time}${msg}`);
			}
			this.scheduleFrame();
			return;
		}
		if (final) {
			this.done++;
			this.running.delete(e.id);
		}
		if (this.mode === 'quiet') return;
		const important = e.state !== 'succeeded' && !(e.state === 'cancelled' && !this.listAll);
		if (this.listAll || important) {
			const icon = ICON[e.state] ?? '·';
			const time = e.durationMs !== undefined && e.state !== 'skipped' ? `  ${formatDuration(e.durationMs)}` : '';
			const msg = e.message ? `  ${e.message.replace(/\n/g, '\n      ')}` : '';
			const attempt = e.attempt > 1 ? ` (attempt ${e.attempt})` : '';
			this.line(`${this.paint(e.state, icon)} ${e.id}${attempt}${time}${msg}`);
		}
		this.scheduleFrame();
	}

	/** `lint: eslint — 2 errors, 1 warning` and the first findings as `file:line:col severity message (rule)`. */
	private onFindings(e: Extract<EngineEvent, { type: 'findings' }>): void {
		const c = countFindings(e.findings);
		const parts = [c.error && plural(c.error, 'error'), c.warning && plural(c.warning, 'warning'), c.info && plural(c.info, 'note')].filter(Boolean);
		this.line(`  ${e.id}: ${e.tool} — ${parts.length ? parts.join(', ') : 'no findings'}`);
		const shown = this.verbose ? e.findings : e.findings.slice(0, FINDINGS_SHOWN);
		for (const f of shown) {
			const text = `    ${formatFinding(f)}`;
			this.line(this.color && f.severity !== 'info' ? `\x1b[${f.severity === 'error' ? '31' : '33'}m${text}\x1b[0m` : text);
		}
		if (shown.length < e.findings.length) this.line(`    … and ${e.findings.length - shown.length} more (all of them: qo run --verbose, or --json)`);
	}

	private paint(state: StepState, text: string): string {
		const c = COLOR[state];
		return this.color && c ? `\x1b[${c}m${text}\x1b[0m` : text;
	}

	/** Prints a line above the status line. */
	line(text: string): void {
		if (this.held) {
			this.held.push(text);
			return;
		}
		this.clearStatus();
		this.out.write(`${text}\n`);
		if (this.mode === 'tty') this.scheduleFrame();
	}

	private clearStatus(): void {
		if (this.statusShown) {
			this.out.write('\r\x1b[K');
			this.statusShown = false;
		}
	}

	/** Stops drawing while the terminal asks a question; `release` prints what came in meanwhile. */
	hold(): void {
		this.finish();
		this.held ??= [];
	}

	release(): void {
		const lines = this.held ?? [];
		this.held = undefined;
		for (const l of lines) this.line(l);
		this.scheduleFrame();
	}

	private scheduleFrame(): void {
		if (this.mode !== 'tty' || this.frameTimer || this.held) return;
		const wait = Math.max(0, FRAME_MS - (Date.now() - this.lastFrame));
		this.frameTimer = setTimeout(() => {
			this.frameTimer = undefined;
			this.drawStatus();
		}, wait);
		this.frameTimer.unref?.();
	}

	private drawStatus(): void {
		if (this.total === 0) return;
		this.lastFrame = Date.now();
		const width = Math.max(40, (this.out.columns ?? 80) - 1);
		const barWidth = 20;
		const filled = Math.round((this.done / this.total) * barWidth);
		const bar = `[${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}]`;
		const names = [...this.running.entries()].map(([id, last]) => (last ? `${id} (${last})` : id));
		let text = `${bar} ${this.done}/${this.total}`;
		if (names.length) text += `  running: ${names.join(', ')}`;
		if (text.length > width) text = `${text.slice(0, width - 1)}…`;
		this.out.write(`\r\x1b[K${text}`);
		this.statusShown = true;
	}

	/** Removes the status line; call before printing the summary. */
	finish(): void {
		if (this.frameTimer) clearTimeout(this.frameTimer);
		this.frameTimer = undefined;
		this.clearStatus();
	}
}
