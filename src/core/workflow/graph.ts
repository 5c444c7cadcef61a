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

interface Csr {
	indexOf: Map<string, number>;
	depStart: Int32Array;
	depList: Int32Array;
	dependentStart: Int32Array;
	dependentList: Int32Array;
}

/**
 * Ids and edges in compressed form. Strict: duplicate ids and unknown dependencies throw. Lenient (for the
 * parser's cycle search on bad input): the first of duplicate ids wins and unknown dependencies are dropped.
 */
function compress(instructions: readonly GraphNode[], strict: boolean, known?: Map<string, number>): Csr {
	const n = instructions.length;
	const indexOf = known ?? new Map<string, number>();
	let edges = 0;
	if (known) for (let i = 0; i < n; i++) edges += instructions[i].dependencies.length;
	else for (let i = 0; i < n; i++) {
		const node = instructions[i];
		if (strict) {
			const size = indexOf.size;
			indexOf.set(node.id, i);
			if (indexOf.size === size) throw new WorkflowError('duplicate-id', `duplicate step id '${node.id}'`, { path: `instructions[${i}].id` });
		} else if (!indexOf.has(node.id)) {
			indexOf.set(node.id, i);
		}
		edges += node.dependencies.length;
	}
	const depStart = new Int32Array(n + 1);
	const depList = new Int32Array(edges);
	const count = new Int32Array(n + 1);
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
			count[j + 1]++;
		}
	}
	depStart[n] = e;
	const dependentStart = count;
	for (let i = 0; i < n; i++) dependentStart[i + 1] += dependentStart[i];
	const fill = dependentStart.slice(0, n);
	const dependentList = new Int32Array(e);
	for (let i = 0; i < n; i++) for (let k = depStart[i]; k < depStart[i + 1]; k++) dependentList[fill[depList[k]]++] = i;
	return { indexOf, depStart, depList: e === edges ? depList : depList.slice(0, e), dependentStart, dependentList };
}

/** Kahn's algorithm over the CSR form; returns the order (its length < n when there is a cycle) and levels. */
function kahn(n: number, g: Csr): { queue: Int32Array; done: number; level: Int32Array; indegree: Int32Array } {
	const indegree = new Int32Array(n);
	for (let i = 0; i < n; i++) indegree[i] = g.depStart[i + 1] - g.depStart[i];
	const queue = new Int32Array(n);
	const level = new Int32Array(n);
	let tail = 0;
	for (let i = 0; i < n; i++) if (indegree[i] === 0) queue[tail++] = i;
	const { dependentStart, dependentList } = g;
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

/** Builds the graph; throws WorkflowError (duplicate-id, missing-dependency, cycle) on a graph that cannot run. */
export function buildGraph(instructions: readonly GraphNode[], durations?: DurationEstimate): Graph {
	const n = instructions.length;
	const g = compress(instructions, true);
	const { queue, done, level, indegree } = kahn(n, g);
	if (done < n) {
		const cycle = firstCycle(instructions, g, indegree);
		throw new WorkflowError('cycle', `dependency cycle: ${formatCycle(cycle ?? [])}`, {
			path: cycle ? `instructions[${g.indexOf.get(cycle[0])}].dependencies` : undefined,
		});
	}
	const { dependentStart, dependentList, depStart } = g;

	const remaining = new Float64Array(n);
	for (let t = n - 1; t >= 0; t--) {
		const u = queue[t];
		let best = 0;
		for (let k = dependentStart[u], end = dependentStart[u + 1]; k < end; k++) {
			const r = remaining[dependentList[k]];
			if (r > best) best = r;
		}
		const d = durations?.(instructions[u].id);
		remaining[u] = (d !== undefined && Number.isFinite(d) && d >= 0 ? d : 1) + best;
	}

	let start = -1;
	for (let i = 0; i < n; i++) if (depStart[i] === depStart[i + 1] && (start < 0 || remaining[i] > remaining[start])) start = i;
	const criticalPath: string[] = [];
	for (let u = start; u >= 0; ) {
		criticalPath.push(instructions[u].id);
		let next = -1;
		for (let k = dependentStart[u], end = dependentStart[u + 1]; k < end; k++) {
			const v = dependentList[k];
			if (next < 0 || remaining[v] > remaining[next]) next = v;
		}
		u = next;
	}

	const order: number[] = new Array(n);
	const levels: number[] = new Array(n);
	let levelCount = n > 0 ? 1 : 0;
	for (let i = 0; i < n; i++) {
		order[i] = queue[i];
		const l = level[i];
		levels[i] = l;
		if (l >= levelCount) levelCount = l + 1;
	}

	let dependents: number[][] | undefined;
	let depIndex: number[][] | undefined;
	return {
		order,
		levels,
		levelCount,
		criticalPath,
		criticalPathDuration: start >= 0 ? remaining[start] : 0,
		remaining,
		get dependents(): number[][] {
			return (dependents ??= expand(g.dependentStart, g.dependentList));
		},
		get depIndex(): number[][] {
			return (depIndex ??= expand(g.depStart, g.depList));
		},
		dependentStart: g.dependentStart,
		dependentList: g.dependentList,
		depStart: g.depStart,
		depList: g.depList,
		indexOf: g.indexOf,
	};
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

/** Every separate cycle (closed, lowest index first); tolerates unknown and duplicate ids so the parser can use it. */
export function findCycles(instructions: readonly GraphNode[], limit = Infinity, indexOf?: Map<string, number>): string[][] {
	const n = instructions.length;
	const g = compress(instructions, false, indexOf);
	const { done, indegree } = kahn(n, g);
	const cycles: string[][] = [];
	if (done === n) return cycles;
	const stamp = new Int32Array(n).fill(-1);
	for (let s = 0; s < n && cycles.length < limit; s++) {
		if (indegree[s] === 0 || stamp[s] >= 0) continue;
		const cycle = walkToCycle(instructions, g, indegree, stamp, s);
		if (cycle) cycles.push(cycle);
	}
	return cycles;
}

/** Prints a closed cycle as `a → b → c → a` (each step depends on the next). */
export function formatCycle(cycle: readonly string[]): string {
	return cycle.join(' → ');
}

function firstCycle(instructions: readonly GraphNode[], g: Csr, indegree: Int32Array): string[] | undefined {
	const stamp = new Int32Array(instructions.length).fill(-1);
	for (let s = 0; s < instructions.length; s++) {
		if (indegree[s] === 0 || stamp[s] >= 0) continue;
		const cycle = walkToCycle(instructions, g, indegree, stamp, s);
		if (cycle) return cycle;
	}
	return undefined;
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
