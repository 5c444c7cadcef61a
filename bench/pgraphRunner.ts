// p-graph, used as documented: a node map with priorities and [before, after] dependency pairs. p-graph orders ready
// nodes by cumulative priority (own + the largest among dependents), so priority = work gives critical-path order.
import { PGraph, type DependencyList, type PGraphNode } from 'p-graph';
import type { StepFn } from './floor';

export async function runPGraph(
	ids: readonly string[],
	deps: readonly (readonly string[])[],
	weight: ArrayLike<number> | undefined,
	step: StepFn,
	concurrency: number,
): Promise<void> {
	const nodes = new Map<string, PGraphNode>();
	const edges: DependencyList = [];
	for (let i = 0; i < ids.length; i++) {
		nodes.set(ids[i], { run: () => step(i), priority: weight ? weight[i] : 1 });
		for (const d of deps[i]) edges.push([d, ids[i]]);
	}
	await new PGraph(nodes, edges).run({ concurrency });
}
