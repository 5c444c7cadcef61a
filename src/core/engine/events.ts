// The one typed event stream from the engine: the CLI display, the tree view and the board all consume it.
import type { AgentAssignment } from '../handlers/types';
import type { DecisionAnswer, DecisionRequest, LogLevel } from '../ports';
import type { Finding } from '../quality/findings';

export type StepState =
	| 'pending'
	| 'queued'
	| 'waiting'
	| 'running'
	| 'retrying'
	| 'succeeded'
	| 'failed'
	| 'skipped'
	| 'cancelled'
	| 'rolled_back';

export const FINAL_STEP_STATES: ReadonlySet<StepState> = new Set(['succeeded', 'failed', 'skipped', 'cancelled', 'rolled_back']);

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'rejected' | 'rolled_back' | 'interrupted';

export interface StepSummary {
	id: string;
	type: string;
	operation: string;
	dependencies: string[];
	level: number;
}

export type EngineEvent =
	| {
			type: 'run-started';
			runId: string;
			workflow: string;
			file?: string;
			resumed: boolean;
			steps: StepSummary[];
			criticalPath: string[];
			levels: number;
			concurrency: number;
			mode: string;
	  }
	| {
			type: 'step';
			runId: string;
			id: string;
			state: StepState;
			attempt: number;
			at: number;
			durationMs?: number;
			/** Failure or skip reason, one line. */
			message?: string;
	  }
	| { type: 'step-output'; runId: string; id: string; stream: 'stdout' | 'stderr'; text: string }
	/** A step a running step started (an agent's tool call), shown under its parent. */
	| { type: 'step-added'; runId: string; parent: string; step: StepSummary; summary: string; agent?: string }
	/** Which agent took a step, and why: the allocation score's parts. */
	| { type: 'allocation'; runId: string; id: string; assignment: AgentAssignment }
	| {
			type: 'usage';
			runId: string;
			id: string;
			model: string;
			promptTokens: number;
			completionTokens: number;
			/** USD, when the model's price is known. */
			costUsd?: number;
	  }
	| {
			type: 'budget';
			runId: string;
			/** The step whose use (or start) reached the threshold. */
			id?: string;
			scope: 'run' | 'step' | 'agent';
			name: string;
			metric: 'tokens' | 'cost_usd' | 'wall_ms';
			level: 'warn' | 'pause' | 'stop';
			value: number;
			limit: number;
			message: string;
	  }
	/** A step's findings from one tool (the whole list: it replaces what the step reported for that tool before). */
	| { type: 'findings'; runId: string; id: string; tool: string; findings: Finding[] }
	/** A step waits for paths (or named resources) another step holds: within the run or from another run. */
	| { type: 'conflict'; runId: string; id: string; paths: string[]; holders: { runId: string; stepId: string }[] }
	| { type: 'decision-requested'; request: DecisionRequest }
	| { type: 'decision-answered'; runId: string; id: string; answer: DecisionAnswer }
	| { type: 'concurrency'; runId: string; limit: number; reason: string }
	| {
			type: 'run-finished';
			runId: string;
			status: RunStatus;
			durationMs: number;
			counts: Partial<Record<StepState, number>>;
			message?: string;
			/** LLM use over the run, when it made any calls. */
			usage?: RunUsage;
	  }
	| { type: 'rollback-started'; runId: string; files: number }
	| {
			type: 'rollback-finished';
			runId: string;
			restored: number;
			removed: number;
			conflicts: { path: string; reason: string }[];
			compensations: number;
	  }
	| { type: 'log'; level: LogLevel; scope: string; message: string };

/** LLM tokens and cost of a run, in all and per agent. */
export interface RunUsage {
	promptTokens: number;
	completionTokens: number;
	costUsd: number;
	/** Calls to models without a known price: their tokens count, their cost does not. */
	unpricedCalls: number;
	calls: number;
	agents?: Record<string, { promptTokens: number; completionTokens: number; costUsd: number; calls: number }>;
}

export type EngineEventListener = (event: EngineEvent) => void;

export interface Disposable {
	dispose(): void;
}

/** A synchronous fan-out; `active` lets hot paths skip building events nobody reads. */
export class EventStream {
	private listeners: EngineEventListener[] = [];
	/** Someone listens; read-only for callers (a field, not a getter: hot paths read it several times per step). */
	active = false;

	on(listener: EngineEventListener): Disposable {
		this.listeners = [...this.listeners, listener];
		this.active = true;
		return {
			dispose: () => {
				this.listeners = this.listeners.filter((l) => l !== listener);
				this.active = this.listeners.length > 0;
			},
		};
	}

	emit(event: EngineEvent): void {
		for (const l of this.listeners) {
			try {
				l(event);
			} catch {
				// a broken listener must not stop the run
			}
		}
	}
}
