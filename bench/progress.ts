// Progress lines on stderr, so a 10-minute run shows where it is and how long each sample took.
import { loadavg } from 'node:os';
import { fmtMs, median } from './stats';

const started = performance.now();

function clock(): string {
	const s = Math.round((performance.now() - started) / 1000);
	return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export class Progress {
	private done = 0;
	private readonly loads: number[] = [];

	constructor(
		private readonly section: string,
		private readonly total: number,
	) {
		process.stderr.write(`\n[${clock()}] ${section}: ${total} samples\n`);
	}

	async step<T>(label: string, fn: () => Promise<T>, show: (r: T) => string): Promise<T> {
		this.loads.push(loadavg()[0]);
		const t = performance.now();
		const r = await fn();
		this.done++;
		process.stderr.write(`[${clock()}] ${this.section} ${this.done}/${this.total} ${label}: ${show(r)} (${fmtMs(performance.now() - t)} wall)\n`);
		return r;
	}

	/** The 1-minute load average seen before each sample: how busy the (shared) machine was. */
	load(): { median: number; max: number } {
		return { median: median(this.loads), max: Math.max(0, ...this.loads) };
	}
}

/** Interleaving order: repetition outermost, then cell, then runner (engine, floor, p-graph, engine, …). */
export function interleave<C, R>(cells: readonly C[], reps: (c: C) => number, runners: (c: C) => readonly R[]): { cell: C; runner: R; rep: number }[] {
	const max = Math.max(0, ...cells.map(reps));
	const order: { cell: C; runner: R; rep: number }[] = [];
	for (let rep = 0; rep < max; rep++) {
		for (const cell of cells) {
			if (rep >= reps(cell)) continue;
			for (const runner of runners(cell)) order.push({ cell, runner, rep });
		}
	}
	return order;
}
