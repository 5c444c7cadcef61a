// The step graph: iterative (Kahn) so a 100,000-step chain never touches the call stack, O(V + E), typed arrays.
import { WorkflowError } from '../errors';
import type { Instruction } from './schema';

/** The part of an instruction the graph needs. */
export type GraphNode = Pick<Instruction, 'id' | 'dependencies'>;

/** Estimated duration of a step (any unit, e.g. ms from past runs); undefined means unknown (counts as 1). */
export type DurationEstimate = (id: string) => number | undefined;

/** Everything the scheduler and `qo plan` need, indexed by the step's position in the instructions array. */
export interface Graph {
	/** Step indices in a topological order (dependencies first; ties by file order). */
	order: number[];
	/** Level of each step: 0 for steps without dependencies, else 1 + the deepest dependency's level. */
	levels: number[];
	/** levels[i] without building the array. */
	levelOf(index: number): number;
	levelCount: number;
	/** Ids along the longest path by estimated duration, first step first. */
	criticalPath: string[];
	/** Estimated duration of the critical path. */
	criticalPathDuration: number;
	/** Longest remaining path from each step, itself included: the scheduler's priority. */
	remaining: Float64Array;
	/** For each step, the indices of the steps that depend on it (built on first access; hot loops use the CSR form). */
	dependents: number[][];
	/** For each step, the indices of its dependencies (built on first access; hot loops use the CSR form). */
	depIndex: number[][];
	/** CSR form: the dependents of i are dependentList[dependentStart[i] .. dependentStart[i + 1]). */
	dependentStart: Int32Array;
	dependentList: Int32Array;
	/** CSR form: the dependencies of i are depList[depStart[i] .. depStart[i + 1]). */
	depStart: Int32Array;
	depList: Int32Array;
	/** Id → index. */
	indexOf: Map<string, number>;
}

/** Dependencies already resolved to indices (as the parser resolves them): those of i are depList[depStart[i] .. depStart[i + 1]). */
export interface Edges {
	depStart: Int32Array;
	depList: Int32Array;
}

interface Csr extends Edges {
	dependentStart: Int32Array;
	dependentList: Int32Array;
}

/**
 * Ids and edges in compressed form. Strict: duplicate ids and unknown dependencies throw. Lenient (for cycle
 * searches on bad input): the first of duplicate ids wins and unknown dependencies are dropped.
 */
function compress(instructions: readonly GraphNode[], strict: boolean): { indexOf: Map<string, number>; edges: Edges } {
	const n = instructions.length;
	const indexOf = new Map<string, number>();
	let count = 0;
	for (let i = 0; i < n; i++) {
		const node = instructions[i];
		if (strict) {
			const size = indexOf.size;
			indexOf.set(node.id, i);
			if (indexOf.size === size) throw new WorkflowError('duplicate-id', `duplicate step id '${node.id}'`, { path: `instructions[${i}].id` });
		} else if (!indexOf.has(node.id)) {
			indexOf.set(node.id, i);
		}
		count += node.dependencies.length;
	}
	const depStart = new Int32Array(n + 1);
	const depList = new Int32Array(count);
	let e = 0;
	for (let i = 0; i < n; i++) {
		depStart[i] = e;
		const deps = instructions[i].dependencies;
		for (let k = 0; k < deps.length; k++) {
			const j = indexOf.get(deps[k]);
			if (j === undefined) {
				if (!strict) continue;
				throw new WorkflowError('missing-dependency', `'${instructions[i].id}' depends on '${deps[k]}', which is not a step id`, {
					path: `instructions[${i}].dependencies[${k}]`,
				});
			}
			depList[e++] = j;
		}
	}
	depStart[n] = e;
	return { indexOf, edges: { depStart, depList: e === count ? depList : depList.slice(0, e) } };
}

/** Adds the reverse edges (dependents), in index order. */
function withDependents(n: number, { depStart, depList }: Edges): Csr {
	const e = depStart[n];
	const dependentStart = new Int32Array(n + 1);
	for (let k = 0; k < e; k++) dependentStart[depList[k] + 1]++;
	for (let i = 0; i < n; i++) dependentStart[i + 1] += dependentStart[i];
	const fill = dependentStart.slice(0, n);
	const dependentList = new Int32Array(e);
	for (let i = 0; i < n; i++) for (let k = depStart[i], end = depStart[i + 1]; k < end; k++) dependentList[fill[depList[k]]++] = i;
	return { depStart, depList, dependentStart, dependentList };
}

/** Kahn's algorithm over the CSR form; returns the order (its length < n when there is a cycle) and levels. */
function kahn(n: number, g: Csr): { queue: Int32Array; done: number; level: Int32Array; indegree: Int32Array } {
	const indegree = new Int32Array(n);
	const { depStart, dependentStart, dependentList } = g;
	for (let i = 0; i < n; i++) indegree[i] = depStart[i + 1] - depStart[i];
	const queue = new Int32Array(n);
	const level = new Int32Array(n);
	let tail = 0;
	for (let i = 0; i < n; i++) if (indegree[i] === 0) queue[tail++] = i;
	for (let head = 0; head < tail; head++) {
		const u = queue[head];
		const next = level[u] + 1;
		for (let k = dependentStart[u], end = dependentStart[u + 1]; k < end; k++) {
			const v = dependentList[k];
			if (level[v] < next) level[v] = next;
			if (--indegree[v] === 0) queue[tail++] = v;
		}
	}
	return { queue, done: tail, level, indegree };
}

/** What graphs with other duration estimates share: the structure, and the number[][] views once built. */
interface Shape {
	readonly nodes: readonly GraphNode[];
	readonly csr: Csr;
	readonly order: Int32Array;
	readonly level: Int32Array;
	readonly levelCount: number;
	readonly indexOf: Map<string, number>;
	orderArray?: number[];
	levels?: number[];
	dependents?: number[][];
	depIndex?: number[][];
}

/** A Graph whose array views and critical path are computed on first access, so nothing unused is paid for. */
class StepGraph implements Graph {
	private critical: { remaining: Float64Array; path: string[]; duration: number } | undefined;

	constructor(
		private readonly shape: Shape,
		private readonly durations: DurationEstimate | undefined,
	) {}

	get order(): number[] {
		return (this.shape.orderArray ??= toArray(this.shape.order));
	}
	get levels(): number[] {
		return (this.shape.levels ??= toArray(this.shape.level));
	}
	levelOf(index: number): number {
		return this.shape.level[index];
	}
	get levelCount(): number {
		return this.shape.levelCount;
	}
	get remaining(): Float64Array {
		return this.computeCritical().remaining;
	}
	get criticalPath(): string[] {
		return this.computeCritical().path;
	}
	get criticalPathDuration(): number {
		return this.computeCritical().duration;
	}
	get dependents(): number[][] {
		return (this.shape.dependents ??= expand(this.shape.csr.dependentStart, this.shape.csr.dependentList));
	}
	get depIndex(): number[][] {
		return (this.shape.depIndex ??= expand(this.shape.csr.depStart, this.shape.csr.depList));
	}
	get dependentStart(): Int32Array {
		return this.shape.csr.dependentStart;
	}
	get dependentList(): Int32Array {
		return this.shape.csr.dependentList;
	}
	get depStart(): Int32Array {
		return this.shape.csr.depStart;
	}
	get depList(): Int32Array {
		return this.shape.csr.depList;
	}
	get indexOf(): Map<string, number> {
		return this.shape.indexOf;
	}

	/** The same structure with other duration estimates (this graph itself for the same estimates). */
	withDurations(durations: DurationEstimate | undefined): StepGraph {
		return durations === this.durations ? this : new StepGraph(this.shape, durations);
	}

	private computeCritical(): { remaining: Float64Array; path: string[]; duration: number } {
		if (this.critical) return this.critical;
		const { nodes, csr, order } = this.shape;
		const { dependentStart, dependentList, depStart } = csr;
		const durations = this.durations;
		const n = order.length;
		const remaining = new Float64Array(n);
		for (let t = n - 1; t >= 0; t--) {
			const u = order[t];
			let best = 0;
			for (let k = dependentStart[u], end = dependentStart[u + 1]; k < end; k++) {
				const r = remaining[dependentList[k]];
				if (r > best) best = r;
			}
			const d = durations?.(nodes[u].id);
			remaining[u] = (d !== undefined && Number.isFinite(d) && d >= 0 ? d : 1) + best;
		}
		let start = -1;
		for (let i = 0; i < n; i++) if (depStart[i] === depStart[i + 1] && (start < 0 || remaining[i] > remaining[start])) start = i;
		const path: string[] = [];
		for (let u = start; u >= 0; ) {
			path.push(nodes[u].id);
			let next = -1;
			for (let k = dependentStart[u], end = dependentStart[u + 1]; k < end; k++) {
				const v = dependentList[k];
				if (next < 0 || remaining[v] > remaining[next]) next = v;
			}
			u = next;
		}
		return (this.critical = { remaining, path, duration: start >= 0 ? remaining[start] : 0 });
	}
}

/** The shape of an acyclic graph, or the Kahn state that proves a cycle. */
function analyze(nodes: readonly GraphNode[], indexOf: Map<string, number>, edges: Edges): Shape | { csr: Csr; indegree: Int32Array } {
	const n = nodes.length;
	const csr = withDependents(n, edges);
	const { queue, done, level, indegree } = kahn(n, csr);
	if (done < n) return { csr, indegree };
	let levelCount = n > 0 ? 1 : 0;
	for (let i = 0; i < n; i++) if (level[i] >= levelCount) levelCount = level[i] + 1;
	return { nodes, csr, order: queue, level, levelCount, indexOf };
}

/** Builds the graph; throws WorkflowError (duplicate-id, missing-dependency, cycle) on a graph that cannot run. */
export function buildGraph(instructions: readonly GraphNode[], durations?: DurationEstimate): Graph {
	const { indexOf, edges } = compress(instructions, true);
	const shape = analyze(instructions, indexOf, edges);
	if ('indegree' in shape) {
		const cycle = firstCycles(instructions, shape.csr, shape.indegree, 1)[0];
		throw new WorkflowError('cycle', `dependency cycle: ${formatCycle(cycle ?? [])}`, {
			path: cycle ? `instructions[${indexOf.get(cycle[0])}].dependencies` : undefined,
		});
	}
	return new StepGraph(shape, durations);
}

/**
 * The graph over edges already resolved to indices (no id lookups), or every separate cycle that stops it (closed,
 * lowest index first). `indexOf` becomes the graph's; `nodes` give the ids.
 */
export function graphFromEdges(nodes: readonly GraphNode[], indexOf: Map<string, number>, edges: Edges): { graph: Graph; cycles?: undefined } | { graph?: undefined; cycles: string[][] } {
	const shape = analyze(nodes, indexOf, edges);
	if ('indegree' in shape) return { cycles: firstCycles(nodes, shape.csr, shape.indegree, Infinity) };
	return { graph: new StepGraph(shape, undefined) };
}

/**
 * The same graph with other duration estimates: only `remaining`, `criticalPath` and `criticalPathDuration` change
 * (O(V + E), computed on first access); ids, edges, order and levels are shared. `instructions` must be the ones the
 * graph was built from (they name the steps whose durations are asked for).
 */
export function withDurations(graph: Graph, instructions: readonly GraphNode[], durations: DurationEstimate | undefined): Graph {
	if (graph instanceof StepGraph) return graph.withDurations(durations);
	return buildGraph(instructions, durations);
}

/** A plain copy (Array.from goes through the iterator, several times slower at 100,000 entries). */
function toArray(a: Int32Array): number[] {
	const out: number[] = new Array(a.length);
	for (let i = 0; i < a.length; i++) out[i] = a[i];
	return out;
}

function expand(start: Int32Array, list: Int32Array): number[][] {
	const n = start.length - 1;
	const out: number[][] = new Array(n);
	for (let i = 0; i < n; i++) {
		const a: number[] = new Array(start[i + 1] - start[i]);
		for (let k = start[i], x = 0; k < start[i + 1]; k++) a[x++] = list[k];
		out[i] = a;
	}
	return out;
}

/** The first dependency cycle as ids, closed (`[a, b, c, a]`: a depends on b, ...), or undefined. Unknown ids are ignored. */
export function findCycle(instructions: readonly GraphNode[]): string[] | undefined {
	return findCycles(instructions, 1)[0];
}

/** Every separate cycle (closed, lowest index first); tolerates unknown and duplicate ids. */
export function findCycles(instructions: readonly GraphNode[], limit = Infinity): string[][] {
	const n = instructions.length;
	const csr = withDependents(n, compress(instructions, false).edges);
	const { done, indegree } = kahn(n, csr);
	return done === n ? [] : firstCycles(instructions, csr, indegree, limit);
}

/** Prints a closed cycle as `a → b → c → a` (each step depends on the next). */
export function formatCycle(cycle: readonly string[]): string {
	return cycle.join(' → ');
}

function firstCycles(instructions: readonly GraphNode[], g: Csr, indegree: Int32Array, limit: number): string[][] {
	const n = instructions.length;
	const cycles: string[][] = [];
	const stamp = new Int32Array(n).fill(-1);
	for (let s = 0; s < n && cycles.length < limit; s++) {
		if (indegree[s] === 0 || stamp[s] >= 0) continue;
		const cycle = walkToCycle(instructions, g, indegree, stamp, s);
		if (cycle) cycles.push(cycle);
	}
	return cycles;
}

/**
 * Follows unresolved dependencies from `start` (each left-over node has one, so the walk must revisit a node);
 * a node first seen in this walk closes a new cycle, one seen in an earlier walk means nothing new.
 */
function walkToCycle(instructions: readonly GraphNode[], g: Csr, indegree: Int32Array, stamp: Int32Array, start: number): string[] | undefined {
	const path: number[] = [];
	let u = start;
	while (stamp[u] < 0) {
		stamp[u] = start;
		path.push(u);
		let next = -1;
		for (let k = g.depStart[u]; k < g.depStart[u + 1]; k++) {
			if (indegree[g.depList[k]] > 0) {
				next = g.depList[k];
				break;
			}
		}
		if (next < 0) return undefined;
		u = next;
	}
	if (stamp[u] !== start) return undefined;
	const cyc = path.slice(path.indexOf(u));
	let low = 0;
	for (let k = 1; k < cyc.length; k++) if (cyc[k] < cyc[low]) low = k;
	const ids = [...cyc.slice(low), ...cyc.slice(0, low)].map((i) => instructions[i].id);
	ids.push(ids[0]);
	return ids;
}
