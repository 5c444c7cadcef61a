import assert from 'node:assert/strict';
import { WorkflowError } from '../../../src/core/errors';
import { buildGraph, findCycle, findCycles, withDurations } from '../../../src/core/workflow/graph';
import type { GraphNode } from '../../../src/core/workflow/graph';

const node = (id: string, ...dependencies: string[]): GraphNode => ({ id, dependencies });

function chain(n: number): GraphNode[] {
	const nodes: GraphNode[] = new Array(n);
	for (let i = 0; i < n; i++) nodes[i] = node(`s${i}`, ...(i ? [`s${i - 1}`] : []));
	return nodes;
}

describe('graph', () => {
	it('levels count from 0 at the roots and the order puts dependencies first', () => {
		const steps = [node('d', 'b', 'c'), node('a'), node('b', 'a'), node('c', 'a'), node('e')];
		const g = buildGraph(steps);
		assert.deepEqual(g.levels, [2, 0, 1, 1, 0]);
		assert.equal(g.levelCount, 3);
		const pos = new Map(g.order.map((idx, k) => [idx, k]));
		for (let i = 0; i < steps.length; i++) for (const d of g.depIndex[i]) assert.ok(pos.get(d)! < pos.get(i)!);
		assert.deepEqual(g.order.slice(0, 2), [1, 4], 'roots first, in file order');
	});

	it('dependents, depIndex and the CSR arrays describe the same edges', () => {
		const g = buildGraph([node('a'), node('b', 'a'), node('c', 'a', 'b')]);
		assert.deepEqual(g.depIndex, [[], [0], [0, 1]]);
		assert.deepEqual(g.dependents, [[1, 2], [2], []]);
		assert.deepEqual([...g.dependentList.subarray(g.dependentStart[0], g.dependentStart[1])], [1, 2]);
		assert.deepEqual([...g.depList.subarray(g.depStart[2], g.depStart[3])], [0, 1]);
		assert.equal(g.indexOf.get('c'), 2);
	});

	it('the critical path follows the longest estimated durations', () => {
		const steps = [node('a'), node('fast', 'a'), node('slow', 'a'), node('end', 'fast', 'slow')];
		const ms: Record<string, number> = { a: 10, fast: 5, slow: 50, end: 1 };
		const g = buildGraph(steps, (id) => ms[id]);
		assert.deepEqual(g.criticalPath, ['a', 'slow', 'end']);
		assert.equal(g.criticalPathDuration, 61);
		assert.deepEqual([...g.remaining], [61, 6, 51, 1]);
	});

	it('withDurations gives new estimates the same structure, leaving the original graph as it was', () => {
		const steps = [node('a'), node('fast', 'a'), node('slow', 'a'), node('end', 'fast', 'slow')];
		const g = buildGraph(steps);
		assert.deepEqual(g.criticalPath, ['a', 'fast', 'end']);
		const ms: Record<string, number> = { a: 10, fast: 5, slow: 50, end: 1 };
		const timed = withDurations(g, steps, (id) => ms[id]);
		assert.deepEqual(timed.criticalPath, ['a', 'slow', 'end']);
		assert.equal(timed.criticalPathDuration, 61);
		assert.deepEqual([...timed.remaining], [61, 6, 51, 1]);
		assert.equal(timed.depList, g.depList, 'edges are shared, not rebuilt');
		assert.equal(timed.indexOf, g.indexOf);
		assert.deepEqual(timed.levels, g.levels);
		assert.deepEqual(timed.dependents, g.dependents);
		assert.deepEqual([...g.remaining], [3, 2, 2, 1], 'the original keeps unit durations');
		const again = withDurations(timed, steps, undefined);
		assert.deepEqual([...again.remaining], [3, 2, 2, 1]);
		assert.deepEqual(again.criticalPath, g.criticalPath);
		assert.equal(withDurations(g, steps, undefined), g, 'the same estimates: the same graph');
		const copy = withDurations({ ...g }, steps, (id) => ms[id]);
		assert.deepEqual(copy.criticalPath, ['a', 'slow', 'end'], 'a graph from elsewhere is rebuilt');
	});

	it('an unknown duration counts as 1 step', () => {
		const g = buildGraph([node('a'), node('b', 'a'), node('c', 'b'), node('x')], (id) => (id === 'x' ? 2 : undefined));
		assert.deepEqual(g.criticalPath, ['a', 'b', 'c']);
		assert.equal(g.criticalPathDuration, 3);
	});

	it('an empty workflow has no levels and no critical path', () => {
		const g = buildGraph([]);
		assert.equal(g.levelCount, 0);
		assert.deepEqual(g.criticalPath, []);
	});

	it('a cycle is an error that prints the cycle', () => {
		const steps = [node('x'), node('a', 'c'), node('b', 'a'), node('c', 'b'), node('after', 'c')];
		assert.throws(
			() => buildGraph(steps),
			(err: unknown) => WorkflowError.is(err, 'cycle') && err.message === 'dependency cycle: a → c → b → a',
		);
		assert.deepEqual(findCycle(steps), ['a', 'c', 'b', 'a']);
		assert.equal(findCycle([node('a'), node('b', 'a')]), undefined);
	});

	it('findCycles reports each separate cycle once, and a self-dependency as a cycle of one', () => {
		const steps = [node('a', 'b'), node('b', 'a'), node('c', 'd'), node('d', 'c'), node('e', 'e'), node('f', 'a', 'c')];
		assert.deepEqual(findCycles(steps), [['a', 'b', 'a'], ['c', 'd', 'c'], ['e', 'e']]);
	});

	it('findCycles ignores unknown dependencies and duplicate ids', () => {
		assert.deepEqual(findCycles([node('a', 'zzz'), node('a', 'a'), node('b', 'a')]), []);
	});

	it('a missing dependency or a duplicate id is an error', () => {
		assert.throws(() => buildGraph([node('a', 'nope')]), (e: unknown) => WorkflowError.is(e, 'missing-dependency') && e.location.path === 'instructions[0].dependencies[0]');
		assert.throws(() => buildGraph([node('a'), node('a')]), (e: unknown) => WorkflowError.is(e, 'duplicate-id') && e.location.path === 'instructions[1].id');
	});

	it('a 100,000-step chain builds without recursion and quickly', () => {
		const steps = chain(100_000);
		const started = performance.now();
		const g = buildGraph(steps);
		const ms = performance.now() - started;
		assert.equal(g.levelCount, 100_000);
		assert.equal(g.criticalPath.length, 100_000);
		assert.equal(g.remaining[0], 100_000);
		assert.equal(g.order[99_999], 99_999);
		assert.ok(ms < 2000, `took ${ms.toFixed(0)} ms`);
	});

	it('a 100,000-step cycle is found without recursion', () => {
		const steps = chain(100_000);
		steps[0] = node('s0', 's99999');
		const cycle = findCycle(steps);
		assert.equal(cycle?.length, 100_001);
		assert.throws(() => buildGraph(steps), (e: unknown) => WorkflowError.is(e, 'cycle'));
	});

	it('a wide fan-out and fan-in of 100,000 steps has three levels', () => {
		const n = 100_000;
		const steps: GraphNode[] = [node('root')];
		for (let i = 0; i < n; i++) steps.push(node(`w${i}`, 'root'));
		steps.push(node('sink', ...steps.slice(1).map((s) => s.id)));
		const g = buildGraph(steps);
		assert.equal(g.levelCount, 3);
		assert.equal(g.levels[n + 1], 2);
		assert.equal(g.dependents[0].length, n);
		assert.deepEqual(g.criticalPath, ['root', 'w0', 'sink']);
	});
});
