// What a run measures: the full suite (about 10 minutes on 2 shared cores) or the quick one (under a minute).
import type { Shape } from './dag';
import type { MakespanRunner, SchedRunner, WriteRunner } from './tasks';

export interface MakespanCell {
	shape: Shape;
	n: number;
	concurrency: number;
	reps: number;
}

export interface Suite {
	mode: 'full' | 'quick';
	sched: {
		sizes: number[];
		/** Repetitions per size: small sizes are cheap and noisy, so they get more. */
		reps: Record<number, number>;
		shapes: Shape[];
		runners: SchedRunner[];
		concurrency: number;
		chain: { n: number; reps: number; runners: SchedRunner[] };
	};
	cli: { n: number; shape: Shape; concurrency: number; reps: number };
	makespan: { cells: MakespanCell[]; runners: MakespanRunner[] };
	writes: { creates: number; modifies: number; bytes: number; concurrency: number; reps: number; runners: WriteRunner[] };
	profile: { n: number; shape: Shape } | undefined;
}

/** Seed of a cell's DAG: the same for every runner and repetition. */
export function seedFor(shape: Shape, n: number): number {
	return (20_251_125 + n * 7 + shape.length * 1_000_003) >>> 0;
}

function makespanCells(sizes: number[], concurrencies: number[], reps: (n: number, c: number) => number): MakespanCell[] {
	const cells: MakespanCell[] = [];
	for (const shape of ['random', 'layered'] as const) {
		for (const n of sizes) for (const concurrency of concurrencies) cells.push({ shape, n, concurrency, reps: reps(n, concurrency) });
	}
	return cells;
}

export function fullSuite(): Suite {
	return {
		mode: 'full',
		sched: {
			sizes: [1_000, 10_000, 100_000],
			reps: { 1_000: 7, 10_000: 5, 100_000: 5 },
			shapes: ['random', 'layered'],
			runners: ['engine', 'engine-events', 'floor', 'pgraph'],
			concurrency: 8,
			chain: { n: 100_000, reps: 2, runners: ['engine', 'floor', 'pgraph'] },
		},
		cli: { n: 100_000, shape: 'random', concurrency: 8, reps: 3 },
		// 2,000 steps of 1–50 ms at concurrency 4 is ~13 s a sample: the big cells get one repetition.
		makespan: { cells: makespanCells([200, 2_000], [4, 8, 32], (n) => (n <= 200 ? 5 : 1)), runners: ['engine', 'engine-warm', 'floor', 'pgraph'] },
		writes: { creates: 1_000, modifies: 1_000, bytes: 1_024, concurrency: 8, reps: 5, runners: ['engine', 'plain-sync', 'plain-nosync'] },
		profile: { n: 100_000, shape: 'random' },
	};
}

export function quickSuite(): Suite {
	return {
		mode: 'quick',
		sched: {
			sizes: [1_000, 10_000, 100_000],
			reps: { 1_000: 1, 10_000: 1, 100_000: 1 },
			shapes: ['random'],
			runners: ['engine', 'floor', 'pgraph'],
			concurrency: 8,
			chain: { n: 100_000, reps: 1, runners: ['engine'] },
		},
		cli: { n: 20_000, shape: 'random', concurrency: 8, reps: 1 },
		makespan: { cells: makespanCells([200], [4, 8, 32], () => 1), runners: ['engine', 'floor', 'pgraph'] },
		writes: { creates: 250, modifies: 250, bytes: 1_024, concurrency: 8, reps: 1, runners: ['engine', 'plain-sync', 'plain-nosync'] },
		profile: undefined,
	};
}
