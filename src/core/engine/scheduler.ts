// The ready-queue DAG scheduler: a step starts as soon as its dependencies are final and a slot is free.
// It knows indices, not instructions: run.ts maps steps to indices and does the work in `execute`.
import type { ExecutionMode, OnFailure } from '../workflow/schema';
import { ReadyQueue } from './readyQueue';

/** Step status codes kept in a Uint8Array: the scheduler's whole state per step. */
export const enum Status {
	Pending = 0,
	Queued = 1,
	Running = 2,
	Succeeded = 3,
	Failed = 4,
	Skipped = 5,
	Cancelled = 6,
}

export const RUN_IF_CODE = { success: 0, failure: 1, always: 2 } as const;

export type Outcome = Status.Succeeded | Status.Failed | Status.Cancelled;

export interface SchedulerGraph {
	readonly count: number;
	/** CSR form: the dependencies of i are depList[depStart[i] .. depStart[i + 1]). */
	readonly depStart: ArrayLike<number>;
	readonly depList: ArrayLike<number>;
	/** CSR form: the dependents of i are dependentList[dependentStart[i] .. dependentStart[i + 1]). */
	readonly dependentStart: ArrayLike<number>;
	readonly dependentList: ArrayLike<number>;
	/** Lower runs first among ready steps. */
	readonly priority: ArrayLike<number>;
	/** Every step has the same priority (then only `remaining` orders them). */
	readonly uniformPriority?: boolean;
	/** Longest remaining path (estimated duration) from each step, itself included: longer first. */
	readonly remaining: ArrayLike<number>;
	/** RUN_IF_CODE per step. */
	readonly runIf: ArrayLike<number>;
}

export interface SchedulerHooks {
	/** Runs one step and calls `done` exactly once with its outcome (a callback, not a promise: one less per step). */
	execute(index: number, done: (index: number, outcome: Outcome) => void): void;
	onQueued?(index: number): void;
	onSkipped(index: number, reason: string): void;
	onCancelled(index: number): void;
	onConcurrency?(limit: number, reason: string): void;
}

export interface SchedulerOptions {
	mode: ExecutionMode;
	/** Upper bound on steps running at once. */
	concurrency: number;
	onFailure: OnFailure;
	signal?: AbortSignal;
	/** Final statuses carried over from an earlier attempt (resume); others are pending. */
	initial?: Uint8Array;
	/** Adaptive mode: 1-minute load per core; above `loadLimit` concurrency does not grow. */
	loadProbe?: () => number;
	loadLimit?: number;
	/** Names a step in skip reasons. */
	nameOf(index: number): string;
}

export interface SchedulerResult {
	status: Uint8Array;
	/** First step that failed, or -1. */
	firstFailure: number;
	cancelled: boolean;
}

/**
 * Steps started between two turns of the event loop, at most. Steps that finish without waiting (a pure step
 * resolves at once) would otherwise run as one chain of microtasks, holding back every I/O completion, timer and
 * signal until the whole run is done: the journal's commits, a cancellation, the run's own start-up writes.
 */
export const STARTS_PER_TURN = 256;

export function isFinal(status: number): boolean {
	return status >= Status.Succeeded;
}

/**
 * Adaptive concurrency (documented in the README): start at the limit; halve it (at least 1) on each failure;
 * after `limit` consecutive successes raise it by one, up to the maximum, unless the load per core is above loadLimit.
 */
export function runScheduler(graph: SchedulerGraph, hooks: SchedulerHooks, opts: SchedulerOptions): Promise<SchedulerResult> {
	const n = graph.count;
	const status = opts.initial ? Uint8Array.from(opts.initial) : new Uint8Array(n);
	const waiting = new Int32Array(n); // dependencies not yet final
	const badDep = new Int32Array(n).fill(-1); // first dependency that did not succeed
	const sequential = opts.mode === 'sequential';
	const queue = new ReadyQueue(Math.min(n, 1024), graph.uniformPriority ? undefined : graph.priority, sequential ? new Float64Array(n) : graph.remaining);
	const max = sequential ? 1 : Math.max(1, opts.concurrency);
	let limit = max;
	let successStreak = 0;
	let running = 0;
	let firstFailure = -1;
	let stopping = false;
	let cancelled = opts.signal?.aborted ?? false;
	const work: number[] = []; // steps that just became final and must release their dependents
	// Locals, not property loads, in the per-step paths (which run cold, in the interpreter, for the first thousands).
	const { depStart, depList, dependentStart, dependentList, runIf } = graph;
	const adaptive = opts.mode === 'adaptive';
	const onQueued = hooks.onQueued;

	return new Promise<SchedulerResult>((resolve) => {
		let done = false;
		const finishRun = () => {
			if (done) return;
			done = true;
			opts.signal?.removeEventListener('abort', onAbort);
			for (let i = 0; i < n; i++) {
				if (isFinal(status[i])) continue;
				if (cancelled) {
					status[i] = Status.Cancelled;
					hooks.onCancelled(i);
				} else {
					// Unreachable in a validated DAG; never leave a step without a final state.
					status[i] = Status.Skipped;
					hooks.onSkipped(i, 'not reachable');
				}
			}
			resolve({ status, firstFailure, cancelled });
		};

		const onAbort = () => {
			cancelled = true;
			for (let i = queue.pop(); i >= 0; i = queue.pop()) {
				status[i] = Status.Cancelled;
				hooks.onCancelled(i);
			}
			if (running === 0) finishRun();
		};
		opts.signal?.addEventListener('abort', onAbort, { once: true });

		const makeReady = (i: number) => {
			const bad = badDep[i];
			const when = runIf[i];
			if (bad >= 0 && when === RUN_IF_CODE.success) {
				const why = status[bad] === Status.Failed ? 'failed' : status[bad] === Status.Cancelled ? 'was cancelled' : 'was skipped';
				return settle(i, Status.Skipped, `dependency ${opts.nameOf(bad)} ${why}`);
			}
			if (bad < 0 && when === RUN_IF_CODE.failure) {
				return settle(i, Status.Skipped, 'run_if "failure": no dependency failed');
			}
			status[i] = Status.Queued;
			if (onQueued) onQueued.call(hooks, i);
			queue.push(i);
		};

		const settle = (i: number, s: Status.Skipped | Status.Cancelled, reason: string) => {
			status[i] = s;
			if (s === Status.Skipped) hooks.onSkipped(i, reason);
			else hooks.onCancelled(i);
			work.push(i);
		};

		/** Counts step i as final for its dependents; those now ready are queued (or settled: see release). */
		const releaseOne = (i: number) => {
			const ok = status[i] === Status.Succeeded;
			for (let k = dependentStart[i], end = dependentStart[i + 1]; k < end; k++) {
				const d = dependentList[k];
				if (status[d] !== Status.Pending) continue;
				if (!ok && badDep[d] < 0) badDep[d] = i;
				if (--waiting[d] !== 0 || cancelled) continue;
				// makeReady's commonest case, written out: every dependency succeeded and the step runs on success.
				if (badDep[d] < 0 && runIf[d] === RUN_IF_CODE.success) {
					status[d] = Status.Queued;
					if (onQueued) onQueued.call(hooks, d);
					queue.push(d);
				} else makeReady(d);
			}
		};

		const release = () => {
			// Iterative: a chain of skips 100,000 long must not grow the stack.
			while (work.length > 0) releaseOne(work.pop()!);
		};

		const adapt = (outcome: Outcome) => {
			if (outcome === Status.Failed) {
				successStreak = 0;
				const next = Math.max(1, Math.ceil(limit / 2));
				if (next !== limit) {
					limit = next;
					hooks.onConcurrency?.(limit, 'a step failed');
				}
			} else if (outcome === Status.Succeeded && limit < max && ++successStreak >= limit) {
				successStreak = 0;
				const load = opts.loadProbe?.() ?? 0;
				if (load <= (opts.loadLimit ?? 1.5)) {
					limit++;
					hooks.onConcurrency?.(limit, `${limit - 1} steps in a row succeeded`);
				}
			}
		};

		const complete = (i: number, outcome: Outcome) => {
			running--;
			status[i] = outcome;
			if (outcome === Status.Failed) {
				if (firstFailure < 0) firstFailure = i;
				if (opts.onFailure !== 'continue') stopping = true;
			}
			if (adaptive) adapt(outcome);
			if (!cancelled) {
				if (outcome === Status.Succeeded) {
					// releaseOne for a success, written out: this runs once per step, the first thousands of times cold.
					for (let k = dependentStart[i], end = dependentStart[i + 1]; k < end; k++) {
						const d = dependentList[k];
						if (status[d] !== Status.Pending || --waiting[d] !== 0) continue;
						if (badDep[d] < 0 && runIf[d] === RUN_IF_CODE.success) {
							status[d] = Status.Queued;
							if (onQueued) onQueued.call(hooks, d);
							queue.push(d);
						} else makeReady(d);
					}
				} else releaseOne(i);
				if (work.length > 0) release();
			}
			dispatch();
		};

		let startedThisTurn = 0;
		let yielding = false;
		const resume = () => {
			yielding = false;
			startedThisTurn = 0;
			dispatch();
		};

		const dispatch = () => {
			while (running < limit && queue.length > 0 && !cancelled) {
				if (startedThisTurn >= STARTS_PER_TURN) {
					// Let the event loop turn (see STARTS_PER_TURN); dispatching resumes right after.
					if (!yielding) {
						yielding = true;
						setImmediate(resume);
					}
					return;
				}
				startedThisTurn++;
				const i = queue.pop();
				if (stopping && runIf[i] === RUN_IF_CODE.success) {
					settle(i, Status.Skipped, `not started: the run stops after ${opts.nameOf(firstFailure)} failed`);
					release();
					continue;
				}
				running++;
				status[i] = Status.Running;
				try {
					hooks.execute(i, complete);
				} catch {
					complete(i, Status.Failed);
				}
			}
			if (running === 0 && (cancelled || queue.length === 0)) finishRun();
		};

		// Seed: count unfinished dependencies; steps carried over as final release their dependents. A new run has
		// none final: every dependency counts (one pass without looking at each dependency; it runs once, cold).
		if (!opts.initial) {
			for (let i = 0; i < n; i++) waiting[i] = depStart[i + 1] - depStart[i];
		} else {
			for (let i = 0; i < n; i++) {
				if (status[i] >= Status.Succeeded) continue; // final (isFinal, inlined: this loop runs once, cold)
				status[i] = Status.Pending;
				let w = 0;
				for (let k = depStart[i], end = depStart[i + 1]; k < end; k++) {
					const d = depList[k];
					if (status[d] >= Status.Succeeded) {
						if (status[d] !== Status.Succeeded && badDep[i] < 0) badDep[i] = d;
					} else {
						w++;
					}
				}
				waiting[i] = w;
			}
		}
		if (cancelled) {
			finishRun();
			return;
		}
		for (let i = 0; i < n; i++) if (status[i] === Status.Pending && waiting[i] === 0) makeReady(i);
		release();
		dispatch();
	});
}
