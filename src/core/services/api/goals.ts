// Goals submitted through the API (POST /v1/goals): each an orchestration session in the background, with the
// broker answering its decisions — so approvals and revised plans wait in the same queue as the runs' — and its
// states kept for GET /v1/goals/{id}.
import type { Engine } from '../../engine';
import { describeError } from '../../errors';
import { OrchestrationSession, type OrchestrationEvent, type OrchestrationOutcome, type OrchestrationState } from '../../orchestrate/session';
import type { AgentInfo } from '../../orchestrate/types';
import type { LlmClient } from '../llm/client';
import type { DecisionBroker } from '../triggers/decisionBroker';

export interface GoalRecord {
	id: string;
	goal: string;
	state: OrchestrationState;
	done: boolean;
	outcome?: OrchestrationOutcome;
	message?: string;
	planFile?: string;
	runIds: string[];
	createdAt: number;
	finishedAt?: number;
	transitions: { state: OrchestrationState; at: number; detail?: string }[];
}

export interface GoalOptions {
	planOnly?: boolean;
	waitForDecisions?: boolean;
	maxReplans?: number;
}

export interface GoalSessionsOptions {
	engine: Engine;
	broker: DecisionBroker;
	/** The planner's model; without it the offline rule-based planner plans. */
	llm?: LlmClient;
	/** The agents the planner may assign; default: the engine's registry. */
	agents?: () => readonly AgentInfo[];
	/** `$schema` written into saved plans. */
	planSchema?: string;
	now?: () => number;
	/** Finished goals kept for GET (default 100). */
	keepFinished?: number;
}

/** At most this many transitions are kept per goal (a long replan loop must not grow without bound). */
const MAX_TRANSITIONS = 200;

export class GoalSessions {
	private readonly goals = new Map<string, GoalRecord>();
	private readonly running = new Map<string, { controller: AbortController; done: Promise<void> }>();
	private readonly now: () => number;

	constructor(private readonly opts: GoalSessionsOptions) {
		this.now = opts.now ?? Date.now;
	}

	/** Starts a session in the background; its record fills in as it goes. */
	start(goal: string, o: GoalOptions = {}): GoalRecord {
		const { engine, broker } = this.opts;
		const controller = new AbortController();
		const tracked = new Set<string>();
		const onEvent = (e: OrchestrationEvent) => {
			record.state = e.state;
			record.transitions.push({ state: e.state, at: e.at, ...(e.detail ? { detail: e.detail } : {}) });
			if (record.transitions.length > MAX_TRANSITIONS) record.transitions.splice(1, 1);
			if (e.planFile) record.planFile = e.planFile;
			if (e.runId && !tracked.has(e.runId)) {
				// Told before the run's first step can ask (onStart): its decisions, and a revised plan's, go to the queue.
				tracked.add(e.runId);
				record.runIds.push(e.runId);
				broker.track(e.runId, { unattended: true, waitForDecisions: o.waitForDecisions ?? false, source: `goal ${record.id}` });
			}
		};
		const session = new OrchestrationSession(goal, {
			engine,
			prompter: broker,
			llm: this.opts.llm,
			agents: this.opts.agents?.() ?? engine.agents.list().map(({ definition: d }) => ({ name: d.name, description: d.description, capabilities: d.capabilities })),
			...(o.maxReplans !== undefined ? { maxReplans: o.maxReplans } : {}),
			...(o.planOnly ? { review: async () => false } : {}),
			signal: controller.signal,
			...(this.opts.planSchema ? { schema: this.opts.planSchema } : {}),
			onEvent,
		});
		const record: GoalRecord = { id: session.id, goal, state: 'idle', done: false, runIds: [], createdAt: this.now(), transitions: [] };
		this.goals.set(record.id, record);
		const done = session.run().then(
			(result) => {
				record.outcome = result.outcome;
				if (result.message) record.message = result.message;
			},
			(err: unknown) => {
				record.outcome = controller.signal.aborted ? 'cancelled' : 'failed';
				record.message = describeError(err);
			},
		).finally(() => {
			record.done = true;
			record.finishedAt = this.now();
			for (const id of tracked) broker.untrack(id);
			this.running.delete(record.id);
			this.prune();
		});
		this.running.set(record.id, { controller, done });
		return record;
	}

	get(id: string): GoalRecord | undefined {
		return this.goals.get(id);
	}

	/** Newest first. */
	list(): GoalRecord[] {
		return [...this.goals.values()].sort((a, b) => b.createdAt - a.createdAt);
	}

	get active(): number {
		return this.running.size;
	}

	/** Resolves when every session started so far has ended. */
	async idle(): Promise<void> {
		while (this.running.size) await Promise.all([...this.running.values()].map((r) => r.done));
	}

	/** Cancels every running session (their runs stop as on Ctrl-C) and waits for them to end. */
	async cancelAll(reason: string): Promise<void> {
		for (const r of this.running.values()) r.controller.abort(new Error(reason));
		await this.idle();
	}

	private prune(): void {
		const finished = [...this.goals.values()].filter((g) => g.done);
		for (const g of finished.slice(0, Math.max(0, finished.length - (this.opts.keepFinished ?? 100)))) this.goals.delete(g.id);
	}
}
