// What activate() returns: a small read-and-answer API for other extensions and the integration tests.
import type { AgentDefinition, AgentInput } from '../core/agents/definition';
import type { AgentHealth, AgentMetrics, AgentWorkload } from '../core/agents/registry';
import type { DecisionAnswer, DecisionRequest } from '../core/ports';
import type { BoardSnapshot, DecisionView, MetricsView } from '../protocol/viewModels';
import type { AgentInfo } from './model/agentsView';

export type { AgentInfo };

/** One row of the Operations tree, as the tree shows it. */
export interface TreeItemView {
	id: string;
	label: string;
	description?: string;
	/** Structured, matched by menus: `run:running`, `step:failed`, `step:waiting`... */
	contextValue: string;
	/** The codicon id of the item's icon. */
	icon?: string;
	tooltip?: string;
	children?: TreeItemView[];
}

export interface DecisionReply {
	approve: boolean;
	reason?: string;
	/** Edit-then-approve: replacement parameters. */
	parameters?: Record<string, unknown>;
	/** Approve and persist "always allow this rule" for the workspace. */
	alwaysAllow?: boolean;
}

/** What a run command resolves to once the run ends (undefined when the user cancelled a picker or nothing ran). */
export interface RunOutcome {
	runId: string;
	status: string;
	message?: string;
}

/** The agents of a workspace folder (the first one when `folder` is not given). */
export interface AgentsApi {
	list(folder?: string): Promise<AgentInfo[]>;
	/** Adds an agent to every folder (validated; hides a built-in or workspace agent of the same name). Returns notes. */
	register(agent: AgentInput | AgentDefinition, options?: { replace?: boolean }): Promise<string[]>;
	unregister(name: string): Promise<boolean>;
	/** Each agent's health (or one agent's), with what to do about each problem. */
	health(name?: string, folder?: string): Promise<AgentHealth[]>;
	workload(name: string, folder?: string): Promise<AgentWorkload>;
	metrics(name: string, folder?: string): Promise<AgentMetrics>;
}

export interface QuantumApi {
	/** The Operations tree, fully expanded. */
	tree(): TreeItemView[];
	board(): BoardSnapshot;
	pendingDecisions(): DecisionView[];
	answer(decisionIds: string[], reply: DecisionReply): Promise<void>;
	/** Resolves when a decision is pending (the first one matching `stepId`, if given). */
	waitForDecision(stepId?: string, timeoutMs?: number): Promise<DecisionView>;
	/** Fires after every board change. */
	onDidChange(listener: () => void): { dispose(): void };
	/** The rules the user chose to always allow in this workspace. */
	allowedRules(): string[];
	/** How long activate() took, in milliseconds (module loading not included). */
	readonly activationMs: number;
	readonly agents: AgentsApi;
	/**
	 * Asks the person through the same decision queue as workflow steps (the board, the tree, a notification) and
	 * resolves with the answer: e.g. a proposal with `changes`, which "Show" opens as diffs. `id` defaults to a new one.
	 */
	requestDecision(request: Omit<DecisionRequest, 'id'> & { id?: string }): Promise<DecisionAnswer>;
	/** Where the LLM endpoint comes from, in one line (never the key). */
	llmStatus(): string;
	/** The background services running per folder name ("api", "inbox", "schedules", and "waitForDecisions" when on), once pending starts settle. */
	services(): Promise<Record<string, string[]>>;
	/** What the board's Metrics section shows (undefined before any engine exists). */
	metrics(): Promise<MetricsView | undefined>;
	/** The folder of the extension's log files (its output channel), for support and tests. */
	readonly logFolder: string;
}
