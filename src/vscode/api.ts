// What activate() returns: a small read-and-answer API for other extensions and the integration tests.
import type { BoardSnapshot, DecisionView } from '../protocol/viewModels';

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
}
