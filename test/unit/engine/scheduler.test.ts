import assert from 'node:assert/strict';
import { RUN_IF_CODE, runScheduler, Status, type Outcome, type SchedulerGraph } from '../../../src/core/engine/scheduler';
import { ReadyQueue } from '../../../src/core/engine/readyQueue';
import type { ExecutionMode, OnFailure } from '../../../src/core/workflow/schema';

interface Spec {
	deps: number[][];
	priority?: number[];
	remaining?: number[];
	runIf?: ('success' | 'failure' | 'always')[];
}

/** Adjacency lists in the CSR form the scheduler reads. */
function csr(lists: number[][]): { start: Int32Array; list: Int32Array } {
	const start = new Int32Array(lists.length + 1);
	lists.forEach((l, i) => (start[i + 1] = start[i] + l.length));
	return { start, list: Int32Array.from(lists.flat()) };
}

function graphOf(spec: Spec): SchedulerGraph {
	const n = spec.deps.length;
	const dependents: number[][] = Array.from({ length: n }, () => []);
	spec.deps.forEach((ds, i) => ds.forEach((d) => dependents[d].push(i)));
	const deps = csr(spec.deps);
	const down = csr(dependents);
	return {
		count: n,
		depStart: deps.start,
		depList: deps.list,
		dependentStart: down.start,
		dependentList: down.list,
		priority: spec.priority ?? new Array(n).fill(0),
		remaining: spec.remaining ?? new Array(n).fill(1),
		runIf: (spec.runIf ?? []).map((r) => RUN_IF_CODE[r]).concat(new Array(n).fill(0)).slice(0, n),
	};
}

interface Trace {
	started: number[];
	skipped: Map<number, string>;
	cancelled: number[];
	maxRunning: number;
}

async function schedule(
	spec: Spec,
	opts: { mode?: ExecutionMode; concurrency?: number; onFailure?: OnFailure; signal?: AbortSignal; initial?: Uint8Array } = {},
	work: (i: number) => Promise<Outcome> = async () => Status.Succeeded,
) {
	const trace: Trace = { started: [], skipped: new Map(), cancelled: [], maxRunning: 0 };
	let running = 0;
	const result = await runScheduler(
		graphOf(spec),
		{
			execute: (i, done) => {
				trace.started.push(i);
				running++;
				trace.maxRunning = Math.max(trace.maxRunning, running);
				work(i)
					.then(
						(outcome) => ({ outcome }),
						() => ({ outcome: Status.Failed as Outcome }),
					)
					.then(({ outcome }) => {
						running--;
						done(i, outcome);
					});
			},
			onSkipped: (i, reason) => trace.skipped.set(i, reason),
			onCancelled: (i) => trace.cancelled.push(i),
		},
		{
			mode: opts.mode ?? 'parallel',
			concurrency: opts.concurrency ?? 4,
			onFailure: opts.onFailure ?? 'stop',
			signal: opts.signal,
			initial: opts.initial,
			nameOf: (i) => `s${i}`,
		},
	);
	return { result, trace };
}

const tick = (ms = 1) => new Promise((r) => setTimeout(r, ms));

describe('ready queue', () => {
	it('pops lower priority first, then the longer remaining path, then file order', () => {
		const priority = [0, 0, -1, 0, 0];
		const remaining = [1, 5, 1, 5, 2];
		const q = new ReadyQueue(2, priority, remaining);
		for (const i of [0, 1, 2, 3, 4]) q.push(i);
		const order = [];
		for (let i = q.pop(); i >= 0; i = q.pop()) order.push(i);
		assert.deepEqual(order, [2, 1, 3, 4, 0]);
	});

	it('pops in exactly the order of (priority, longer remaining path, index), pushes and pops interleaved, with or without priorities', () => {
		let seed = 11;
		const rand = (k: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % k;
		for (let round = 0; round < 200; round++) {
			const n = 1 + rand(120);
			const uniform = round % 2 === 0;
			const priority = Array.from({ length: n }, () => (uniform ? 0 : rand(3) - 1));
			const remaining = Array.from({ length: n }, () => rand(6) + (rand(4) === 0 ? 0.5 : 0));
			const before = (a: number, b: number) => (priority[a] !== priority[b] ? priority[a] < priority[b] : remaining[a] !== remaining[b] ? remaining[a] > remaining[b] : a < b);
			const q = new ReadyQueue(1, uniform ? undefined : priority, remaining);
			const inQueue = new Set<number>();
			const ids = Array.from({ length: n }, (_, i) => i).sort(() => rand(3) - 1);
			for (const id of ids) {
				q.push(id);
				inQueue.add(id);
				if (rand(3) === 0) {
					const best = [...inQueue].reduce((x, y) => (before(y, x) ? y : x));
					assert.equal(q.pop(), best, `round ${round}`);
					inQueue.delete(best);
				}
			}
			const expected = [...inQueue].sort((a, b) => (before(a, b) ? -1 : 1));
			const got: number[] = [];
			for (let i = q.pop(); i >= 0; i = q.pop()) got.push(i);
			assert.deepEqual(got, expected, `round ${round}`);
		}
	});
});

describe('scheduler', () => {
	it('starts a step only after all its dependencies succeeded', async () => {
		const done = new Set<number>();
		const spec = { deps: [[], [0], [0], [1, 2]] };
		const { result } = await schedule(spec, {}, async (i) => {
			for (const d of spec.deps[i]) assert.ok(done.has(d), `s${i} started before s${d} finished`);
			await tick();
			done.add(i);
			return Status.Succeeded;
		});
		assert.deepEqual([...result.status], [3, 3, 3, 3]);
	});

	it('never runs more steps at once than the concurrency limit', async () => {
		const { trace } = await schedule({ deps: Array.from({ length: 40 }, () => []) }, { concurrency: 3 }, async () => {
			await tick();
			return Status.Succeeded;
		});
		assert.equal(trace.maxRunning, 3);
		assert.equal(trace.started.length, 40);
	});

	it('sequential mode runs one step at a time in dependency and file order', async () => {
		const { trace } = await schedule({ deps: [[], [], [0], []] }, { mode: 'sequential', concurrency: 8 }, async () => {
			await tick();
			return Status.Succeeded;
		});
		assert.equal(trace.maxRunning, 1);
		assert.deepEqual(trace.started, [0, 1, 2, 3]);
	});

	it('starts lower priority first among ready steps', async () => {
		const { trace } = await schedule({ deps: [[], [], []], priority: [5, -1, 0] }, { concurrency: 1 });
		assert.deepEqual(trace.started, [1, 2, 0]);
	});

	it('prefers the step with the longest remaining critical path', async () => {
		const { trace } = await schedule({ deps: [[], [], []], remaining: [1, 10, 3] }, { concurrency: 1 });
		assert.deepEqual(trace.started, [1, 2, 0]);
	});

	it('skips the dependents of a failed step and names the failure', async () => {
		const { result, trace } = await schedule({ deps: [[], [0], [1], []] }, { onFailure: 'continue' }, async (i) =>
			i === 0 ? Status.Failed : Status.Succeeded,
		);
		assert.deepEqual([...result.status], [Status.Failed, Status.Skipped, Status.Skipped, Status.Succeeded]);
		assert.equal(trace.skipped.get(1), 'dependency s0 failed');
		assert.equal(trace.skipped.get(2), 'dependency s1 was skipped');
	});

	it('runs run_if "failure" steps only when a dependency failed, and "always" steps either way', async () => {
		const spec: Spec = { deps: [[], [0], [0], [0]], runIf: ['success', 'failure', 'always', 'success'] };
		const failing = await schedule(spec, { onFailure: 'continue' }, async (i) => (i === 0 ? Status.Failed : Status.Succeeded));
		assert.deepEqual([...failing.result.status], [Status.Failed, Status.Succeeded, Status.Succeeded, Status.Skipped]);
		const passing = await schedule(spec);
		assert.deepEqual([...passing.result.status], [Status.Succeeded, Status.Skipped, Status.Succeeded, Status.Succeeded]);
	});

	it('on_failure "stop" starts no new ordinary step after a failure but still runs cleanup steps', async () => {
		const spec: Spec = { deps: [[], [], [], [0, 1, 2]], runIf: ['success', 'success', 'success', 'always'] };
		const { result, trace } = await schedule(spec, { concurrency: 1, onFailure: 'stop' }, async (i) => (i === 0 ? Status.Failed : Status.Succeeded));
		assert.deepEqual(trace.started, [0, 3]);
		assert.equal(result.status[1], Status.Skipped);
		assert.match(trace.skipped.get(1)!, /stops after s0 failed/);
		assert.equal(result.firstFailure, 0);
	});

	it('on_failure "continue" runs every independent step', async () => {
		const { result } = await schedule({ deps: [[], [], []] }, { concurrency: 1, onFailure: 'continue' }, async (i) =>
			i === 0 ? Status.Failed : Status.Succeeded,
		);
		assert.deepEqual([...result.status], [Status.Failed, Status.Succeeded, Status.Succeeded]);
	});

	it('cancellation stops dispatching and marks every unfinished step cancelled', async () => {
		const controller = new AbortController();
		const spec = { deps: [[], [0], [1], []] };
		const { result, trace } = await schedule(spec, { concurrency: 1, signal: controller.signal }, async (i) => {
			if (i === 0) {
				controller.abort();
				return Status.Cancelled;
			}
			return Status.Succeeded;
		});
		assert.equal(result.cancelled, true);
		assert.deepEqual(trace.started, [0]);
		assert.deepEqual([...result.status], [Status.Cancelled, Status.Cancelled, Status.Cancelled, Status.Cancelled]);
	});

	it('adaptive mode halves concurrency on failures', async () => {
		const limits: number[] = [];
		await runScheduler(
			graphOf({ deps: Array.from({ length: 20 }, () => []) }),
			{
				execute: (i, done) => {
					tick().then(() => done(i, i < 4 ? Status.Failed : Status.Succeeded));
				},
				onSkipped() {},
				onCancelled() {},
				onConcurrency: (limit) => limits.push(limit),
			},
			{ mode: 'adaptive', concurrency: 8, onFailure: 'continue', nameOf: String, loadProbe: () => 0 },
		);
		assert.ok(limits.length > 0, 'no concurrency change reported');
		assert.ok(Math.min(...limits) < 8, `limits ${limits}`);
	});

	it('keeps steps carried over as succeeded and runs only the rest (resume)', async () => {
		const initial = new Uint8Array([Status.Succeeded, Status.Succeeded, 0, 0]);
		const { trace, result } = await schedule({ deps: [[], [0], [1], [0]] }, { initial });
		assert.deepEqual(trace.started.sort(), [2, 3]);
		assert.deepEqual([...result.status], [3, 3, 3, 3]);
	});

	it('handles a 100,000-step chain of skips without growing the stack', async () => {
		const n = 100_000;
		const deps = Array.from({ length: n }, (_, i) => (i === 0 ? [] : [i - 1]));
		const { result } = await schedule({ deps }, { onFailure: 'continue' }, async () => Status.Failed);
		assert.equal(result.status[0], Status.Failed);
		assert.equal(result.status[n - 1], Status.Skipped);
	});

	it('a step whose execute throws counts as failed', async () => {
		const { result } = await schedule({ deps: [[]] }, {}, async () => {
			throw new Error('boom');
		});
		assert.equal(result.status[0], Status.Failed);
	});
});
