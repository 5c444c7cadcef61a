// The shapes around one run: what it writes to, the services it uses, what it starts from and what it ends with.
import type { HandlerRegistry } from '../handlers/registry';
import type { AgentServices } from '../handlers/types';
import type { SecretPolicy, WorkspaceFs } from '../handlers/types';
import type { EscalationCheck } from '../policy/escalation';
import type { LlmClient } from '../services/llm/client';
import type { ModelPrice } from '../services/llm/pricing';
import type { Clock, DecisionPrompter, Logger } from '../ports';
import type { Sandbox } from '../sandbox/types';
import type { JournalRecord } from '../state/records';
import type { EventStream, RunStatus, RunUsage, StepState } from './events';
import type { PathLocks } from './pathLocks';
import type { Plan } from './plan';
import type { ResourceGate } from './resourceGate';

/** The part of the journal a run writes to. */
export interface RunJournal {
	append(record: JournalRecord): void;
	/** A record already serialized: the UTF-8 bytes of JSON.stringify of a record of type `t` (see StepEndsBatch). */
	appendPayload(t: JournalRecord['t'], payload: Uint8Array): void;
	flush(): Promise<void>;
}

/** Journaled workspace writes, one WorkspaceFs per step. */
export interface RunTransaction {
	fsFor(stepId: string): WorkspaceFs;
	/** Restores what these steps changed (compensation of a failed step's tool steps). */
	undoSteps(stepIds: readonly string[], what: string): Promise<void>;
}

export interface RunServices {
	workspace: string;
	sandbox: Sandbox;
	logger: Logger;
	prompter: DecisionPrompter;
	clock: Clock;
	events: EventStream;
	/** The environment `${env.X}` reads. */
	env: NodeJS.ProcessEnv;
	/** The environment child processes get: scrubbed of secrets. */
	childEnv: NodeJS.ProcessEnv;
	secretPolicy: SecretPolicy;
	loadProbe?: () => number;
	/** The host's escalation policy (settings and always-allowed rules), checked as each step starts. */
	escalation?: EscalationCheck;
	/** The LLM endpoint `llm` steps use, if one is configured. */
	llm?: LlmClient;
	/** The engine's path locks, shared by the runs it executes side by side. */
	locks?: PathLocks;
	/** Holds new steps back while CPU or memory use is above the limits. */
	resources?: ResourceGate;
	/** The agents `agent` steps are allocated to, and what was learned about them. */
	agents?: AgentServices;
	/** The handler types, for steps that start other steps (an agent's tool calls). */
	registry?: HandlerRegistry;
	/** Model prices (USD per 1M tokens) beyond DEFAULT_PRICES, for cost accounting. */
	prices?: Readonly<Record<string, ModelPrice>>;
}

export interface RunInputs {
	runId: string;
	plan: Plan;
	journal: RunJournal;
	tx: RunTransaction;
	services: RunServices;
	signal?: AbortSignal;
	/** Global context at the start (persisted between runs). */
	context: Map<string, unknown>;
	/** Resume: final statuses and outputs carried over; steps interrupted while running external effects. */
	initial?: Uint8Array;
	outputs?: ReadonlyMap<number, unknown>;
	inDoubt?: ReadonlySet<number>;
	/** Parameters edited by an earlier decision, by step index. */
	editedParams?: Map<number, Record<string, unknown>>;
	resumed?: boolean;
	/** A new run's header on its way to the disk: only pure steps start before it resolves. */
	started?: Promise<void>;
}

export interface RunOutcome {
	status: RunStatus;
	statuses: Uint8Array;
	counts: Partial<Record<StepState, number>>;
	durationMs: number;
	/** One line on why the run did not succeed. */
	message?: string;
	/** Step durations (ms) measured in this run, by index, NaN where not run. */
	durations: Float64Array;
	/** The longest of them that succeeded (0 when none did). */
	longestMs?: number;
	/** LLM tokens and cost, when the run made calls. */
	usage?: RunUsage;
}
