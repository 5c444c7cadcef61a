// Where every trigger's workflow enters (inbox, API, git hooks, schedules, webhooks): an idempotency key so the same
// event never starts two runs, a concurrency policy per source (queue — bounded, FIFO —, skip, cancel-running), and
// runs nobody watches refused up front when a step would need a person, unless they asked to wait for decisions.
import { describeError, WorkflowError } from '../../errors';
import type { Engine, RunResult } from '../../engine';
import type { RunStatus } from '../../engine/events';
import { newRunId } from '../../state/runStore';
import type { Workflow } from '../../workflow/schema';
import type { DecisionBroker } from './decisionBroker';
import { IdempotencyStore } from './idempotency';

export type TriggerSource = 'inbox' | 'api' | 'hook' | 'schedule' | 'webhook' | 'goal';
export type ConcurrencyPolicy = 'queue' | 'skip' | 'cancel-running';
export const CONCURRENCY_POLICIES: readonly ConcurrencyPolicy[] = ['queue', 'skip', 'cancel-running'];

export interface Submission {
	/** A parsed workflow, or its JSON text with the (real or virtual) file name errors should name. */
	workflow: Workflow | { text: string; file: string };
	source: TriggerSource;
	/** The same key never starts a second run: a content hash, an Idempotency-Key header, a commit id, a schedule slot. */
	idempotencyKey: string;
	/** Runs of one group obey the policy against each other; default: the source and the workflow's name; null: none. */
	group?: string | null;
	/** When a run of the group is still going; default 'queue'. */
	policy?: ConcurrencyPolicy;
	/** Nobody is watching (every trigger but a person's own command): steps that would ask refuse the run up front. */
	unattended: boolean;
	/** Unattended, but let decisions wait in the queue for an answer (through the API or the extension). */
	waitForDecisions?: boolean;
	variables?: Record<string, unknown>;
	/** What sent it, for people: a file name, a commit, a schedule's name. */
	origin?: string;
}

export type SubmissionResult =
	| { status: 'started' | 'queued'; runId: string; position?: number }
	| { status: 'duplicate'; runId?: string; firstSeenAt: number }
	| { status: 'skipped'; reason: string }
	| { status: 'refused'; reason: string; steps?: { id: string; reason: string; rule?: string }[] }
	| { status: 'invalid'; error: string };

/** A run the dispatcher knows: queued, running or finished (the last few). */
export interface DispatchedRun {
	runId: string;
	workflow: string;
	source: TriggerSource;
	origin?: string;
	group: string;
	state: 'queued' | 'running' | 'finished';
	status?: RunStatus;
	message?: string;
	submittedAt: number;
	startedAt?: number;
	finishedAt?: number;
}

export interface DispatcherOptions {
	engine: Engine;
	broker: DecisionBroker;
	/** Queued runs per group at most; a submission beyond it is refused (default 100). */
	maxQueue?: number;
	now?: () => number;
	/** Finished runs kept for listing (default 200). */
	keepFinished?: number;
	/** Runs executing at once over all groups; the rest wait their turn, in order (default 8). */
	maxConcurrentRuns?: number;
}

interface Entry extends DispatchedRun {
	workflowValue: Workflow;
	submission: Submission;
	controller: AbortController;
	done?: Promise<RunResult | undefined>;
}

export class Dispatcher {
	private readonly engine: Engine;
	private readonly broker: DecisionBroker;
	private readonly now: () => number;
	private readonly maxQueue: number;
	private readonly keepFinished: number;
	private readonly keys: IdempotencyStore;
	private readonly runs = new Map<string, Entry>();
	private readonly queues = new Map<string, Entry[]>();
	/** Per group: runs launched (running, or waiting for a free slot); the policy judges against these. */
	private readonly running = new Map<string, Set<Entry>>();
	/** Launched runs waiting for one of the maxConcurrentRuns slots. */
	private readonly waiting: Entry[] = [];
	private executing = 0;
	private readonly maxConcurrentRuns: number;
	private readonly listeners = new Set<(run: DispatchedRun) => void>();
	private readonly given = new Set<string>();

	constructor(opts: DispatcherOptions) {
		this.engine = opts.engine;
		this.broker = opts.broker;
		this.now = opts.now ?? Date.now;
		this.maxQueue = opts.maxQueue ?? 100;
		this.keepFinished = opts.keepFinished ?? 200;
		this.maxConcurrentRuns = Math.max(1, opts.maxConcurrentRuns ?? 8);
		this.keys = new IdempotencyStore(opts.engine.stateDir, this.now);
	}

	/** Reads the keys of earlier sessions (so an event seen before a restart still does not run twice). */
	async open(): Promise<string[]> {
		return this.keys.load();
	}

	async submit(s: Submission): Promise<SubmissionResult> {
		// Claimed, with the run's id, before any await: two submissions of one key at the same moment start one run.
		const runId = this.freshRunId();
		const seen = this.keys.claim(s.idempotencyKey, s.source, runId);
		if (seen) return { status: 'duplicate', ...(seen.runId ? { runId: seen.runId } : {}), firstSeenAt: seen.at };
		let workflow: Workflow;
		try {
			workflow = 'text' in s.workflow ? this.engine.parse(s.workflow.text, s.workflow.file, { variables: s.variables }) : s.workflow;
		} catch (err) {
			this.keys.release(s.idempotencyKey);
			return { status: 'invalid', error: WorkflowError.is(err) ? describeProblems(err) : describeError(err) };
		}
		if (s.unattended && !s.waitForDecisions) {
			const steps = await this.approvalsNeeded(workflow);
			if (steps.length) {
				this.keys.release(s.idempotencyKey);
				return {
					status: 'refused',
					reason: `nobody is watching this ${s.source} run and ${steps.length === 1 ? 'a step needs' : `${steps.length} steps need`} approval (${steps.map((x) => x.id).join(', ')}): approve them ahead of time, or submit with wait_for_decisions to answer through the API`,
					steps,
				};
			}
		}
		const group = s.group === null ? `run:${runId}` : (s.group ?? `${s.source}:${workflow.name}`);
		const policy = s.policy ?? 'queue';
		const busy = this.running.get(group)?.size ?? 0;
		if (busy > 0 && policy === 'skip') {
			this.keys.release(s.idempotencyKey);
			return { status: 'skipped', reason: `a run of ${group} is still going (policy skip)` };
		}
		const queue = this.queues.get(group) ?? [];
		if (busy > 0 && policy === 'queue' && queue.length >= this.maxQueue) {
			this.keys.release(s.idempotencyKey);
			return { status: 'refused', reason: `the queue of ${group} is full (${this.maxQueue} runs waiting)` };
		}
		const entry: Entry = {
			runId,
			workflow: workflow.name,
			source: s.source,
			...(s.origin ? { origin: s.origin } : {}),
			group,
			state: 'queued',
			submittedAt: this.now(),
			workflowValue: workflow,
			submission: s,
			controller: new AbortController(),
		};
		this.runs.set(entry.runId, entry);
		if (busy > 0 && policy === 'cancel-running') {
			const why = `replaced by a newer ${s.source} run (policy cancel-running)`;
			for (const r of [...(this.running.get(group) ?? [])]) {
				if (r.state === 'queued') this.cancel(r.runId, why);
				else r.controller.abort(new Error(why));
			}
			// The newer one starts now; the cancelled ones end on their own.
		} else if (busy > 0) {
			queue.push(entry);
			this.queues.set(group, queue);
			this.changed(entry);
			return { status: 'queued', runId: entry.runId, position: queue.length };
		}
		const now = this.launch(entry);
		if (now) await now;
		return now ? { status: 'started', runId: entry.runId } : { status: 'queued', runId: entry.runId, position: this.waiting.length };
	}

	/** Known runs, newest first. */
	list(): DispatchedRun[] {
		return [...this.runs.values()].map(view).sort((a, b) => b.submittedAt - a.submittedAt);
	}

	get(runId: string): DispatchedRun | undefined {
		const e = this.runs.get(runId);
		return e && view(e);
	}

	/** Cancels a queued or running run; false when it is not one of ours or already over. */
	cancel(runId: string, reason = 'cancelled through the API'): boolean {
		const e = this.runs.get(runId);
		if (!e || e.state === 'finished') return false;
		if (e.state === 'queued') {
			const q = this.queues.get(e.group) ?? [];
			if (q.includes(e)) q.splice(q.indexOf(e), 1);
			this.finish(e, 'cancelled', reason);
			return true;
		}
		e.controller.abort(new Error(reason));
		return true;
	}

	/** Resolves when every run started or queued so far has finished. */
	async idle(): Promise<void> {
		for (;;) {
			const open = [...this.runs.values()].filter((e) => e.state !== 'finished');
			if (open.length === 0) return;
			await Promise.all(open.map((e) => e.done ?? new Promise<void>((r) => setTimeout(r, 20))));
		}
	}

	onDidChange(listener: (run: DispatchedRun) => void): { dispose(): void } {
		this.listeners.add(listener);
		return { dispose: () => this.listeners.delete(listener) };
	}

	/** Stops queued runs and cancels running ones; saves the keys. */
	async dispose(): Promise<void> {
		for (const q of this.queues.values()) for (const e of q.splice(0)) this.finish(e, 'cancelled', 'the orchestrator stopped');
		for (const e of this.waiting.splice(0)) this.finish(e, 'cancelled', 'the orchestrator stopped');
		for (const set of this.running.values()) for (const e of set) e.controller.abort(new Error('the orchestrator stopped'));
		await Promise.all([...this.runs.values()].map((e) => e.done));
		await this.keys.save();
	}

	private async approvalsNeeded(workflow: Workflow): Promise<{ id: string; reason: string; rule?: string }[]> {
		const plan = await this.engine.plan(workflow);
		return plan.steps.flatMap((s) => {
			const need = this.engine.approvalOf(s);
			return need ? [{ id: s.instruction.id, reason: need.reason, ...(need.rule ? { rule: need.rule } : {}) }] : [];
		});
	}

	/** Counts the run as its group's, then starts it when a slot is free (resolves once it began), else queues it. */
	private launch(entry: Entry): Promise<void> | undefined {
		const set = this.running.get(entry.group) ?? new Set<Entry>();
		set.add(entry);
		this.running.set(entry.group, set);
		if (this.executing >= this.maxConcurrentRuns) {
			this.waiting.push(entry);
			this.changed(entry);
			return undefined;
		}
		return this.start(entry);
	}

	private async start(entry: Entry): Promise<void> {
		this.executing++;
		entry.state = 'running';
		entry.startedAt = this.now();
		const s = entry.submission;
		this.broker.track(entry.runId, { unattended: s.unattended, waitForDecisions: s.waitForDecisions ?? false, source: s.origin ? `${s.source} (${s.origin})` : s.source });
		let started!: () => void;
		const begun = new Promise<void>((resolve) => (started = resolve));
		entry.done = this.engine
			.run(entry.workflowValue, { runId: entry.runId, signal: entry.controller.signal, onStart: () => started() })
			.then(
				(result) => {
					this.finish(entry, result.status, result.message);
					return result;
				},
				(err: unknown) => {
					this.finish(entry, 'failed', describeError(err));
					return undefined;
				},
			)
			.finally(() => started());
		this.changed(entry);
		await begun;
	}

	private finish(entry: Entry, status: RunStatus, message?: string): void {
		if (entry.state === 'finished') return;
		const wasRunning = entry.state === 'running';
		if (wasRunning) this.executing--;
		const slot = this.waiting.indexOf(entry);
		if (slot >= 0) this.waiting.splice(slot, 1);
		entry.state = 'finished';
		entry.status = status;
		if (message) entry.message = message;
		entry.finishedAt = this.now();
		this.broker.untrack(entry.runId);
		this.running.get(entry.group)?.delete(entry);
		this.changed(entry);
		this.prune();
		if (wasRunning || slot >= 0) {
			const next = this.queues.get(entry.group)?.shift();
			if (next) void this.launch(next);
		}
		while (this.executing < this.maxConcurrentRuns && this.waiting.length) void this.start(this.waiting.shift() as Entry);
	}

	private prune(): void {
		const finished = [...this.runs.values()].filter((e) => e.state === 'finished');
		for (const e of finished.slice(0, Math.max(0, finished.length - this.keepFinished))) this.runs.delete(e.runId);
	}

	private freshRunId(): string {
		// Ids only need to differ from those given out in the same second.
		if (this.given.size > 10_000) this.given.clear();
		for (;;) {
			const id = newRunId(new Date(this.now()));
			if (!this.given.has(id)) {
				this.given.add(id);
				return id;
			}
		}
	}

	private changed(entry: Entry): void {
		const v = view(entry);
		for (const l of this.listeners) {
			try {
				l(v);
			} catch {
				// listeners must not break dispatching
			}
		}
	}
}

function view(e: Entry): DispatchedRun {
	const { runId, workflow, source, origin, group, state, status, message, submittedAt, startedAt, finishedAt } = e;
	return { runId, workflow, source, ...(origin ? { origin } : {}), group, state, ...(status ? { status } : {}), ...(message ? { message } : {}), submittedAt, ...(startedAt ? { startedAt } : {}), ...(finishedAt ? { finishedAt } : {}) };
}

function describeProblems(err: WorkflowError): string {
	const problems = err.problems.length ? err.problems : [err];
	return problems.map((p) => p.describe()).join('\n');
}
