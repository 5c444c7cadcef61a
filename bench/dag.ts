// Seeded DAGs shared by every runner: the same seed gives the same graph in every process.

export type Shape = 'random' | 'layered' | 'chain';

export interface Dag {
	shape: Shape;
	n: number;
	seed: number;
	ids: string[];
	/** Dependencies by index; always lower indices, so index order is topological. */
	deps: number[][];
	/** Work per step in ms (0: no work). */
	durations: number[];
}

/** mulberry32: a small, fast, well-mixed 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** Number of dependencies of a random-shape step: 0 (5%), 1 (35%), 2 (35%) or 3 (25%). */
function depCount(r: number): number {
	return r < 0.05 ? 0 : r < 0.4 ? 1 : r < 0.75 ? 2 : 3;
}

function pick(rand: () => number, from: number, to: number, count: number, out: number[]): void {
	for (let k = 0; k < count; k++) {
		const d = from + Math.floor(rand() * (to - from));
		if (!out.includes(d)) out.push(d);
	}
	out.sort((a, b) => a - b);
}

/**
 * random: each step depends on 0–3 steps drawn from the 2·√n steps before it (local, so the graph is deep enough
 * for the critical path to matter). layered: ⌈√n⌉ steps per level, each depending on 1–3 steps of the level before.
 * chain: each step depends on the previous one. With `timed`, every step waits 1–50 ms (its own PRNG stream).
 */
export function generateDag(shape: Shape, n: number, seed: number, timed = false): Dag {
	const rand = mulberry32(seed);
	const ids: string[] = new Array(n);
	const deps: number[][] = new Array(n);
	const width = Math.max(1, Math.ceil(Math.sqrt(n)));
	const window = Math.max(16, 2 * width);
	for (let i = 0; i < n; i++) {
		ids[i] = `s${i}`;
		const out: number[] = [];
		if (shape === 'chain') {
			if (i > 0) out.push(i - 1);
		} else if (shape === 'random') {
			if (i > 0) pick(rand, Math.max(0, i - window), i, depCount(rand()), out);
		} else {
			const level = Math.floor(i / width);
			if (level > 0) pick(rand, (level - 1) * width, level * width, 1 + Math.floor(rand() * 3), out);
		}
		deps[i] = out;
	}
	const durations: number[] = new Array(n).fill(0);
	if (timed) {
		const wait = mulberry32(seed ^ 0x5bd1e995);
		for (let i = 0; i < n; i++) durations[i] = 1 + Math.floor(wait() * 50);
	}
	return { shape, n, seed, ids, deps, durations };
}

/** Dependencies as ids, the form a workflow file (and p-graph) takes. */
export function depIds(dag: Dag): string[][] {
	return dag.deps.map((ds) => ds.map((d) => dag.ids[d]));
}

export interface Bound {
	criticalPathMs: number;
	totalWorkMs: number;
	/** max(critical path, total work ÷ concurrency): no schedule can finish sooner. */
	lowerBoundMs: number;
}

export function lowerBound(dag: Dag, concurrency: number): Bound {
	const finish = new Float64Array(dag.n);
	let critical = 0;
	let total = 0;
	for (let i = 0; i < dag.n; i++) {
		let start = 0;
		for (const d of dag.deps[i]) if (finish[d] > start) start = finish[d];
		finish[i] = start + dag.durations[i];
		if (finish[i] > critical) critical = finish[i];
		total += dag.durations[i];
	}
	return { criticalPathMs: critical, totalWorkMs: total, lowerBoundMs: Math.max(critical, total / concurrency) };
}
