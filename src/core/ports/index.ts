// The small interfaces through which the core reaches its host; src/cli and src/vscode/adapters implement them.

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
	log(level: LogLevel, scope: string, message: string): void;
}

export const nullLogger: Logger = { log() {} };

/**
 * approval: requires_approval or policy; in-doubt: an exec step interrupted by a crash; proposal: a change a step
 * worked out (an llm fix, an agent's edit) to apply or not; budget: a pause threshold reached; replan: a changed plan.
 */
export type DecisionKind = 'approval' | 'in-doubt' | 'proposal' | 'budget' | 'replan';

/** A file change a decision would apply: its text now and after (null: absent). */
export interface ProposedChange {
	path: string;
	before: string | null;
	after: string | null;
}

/** What a paused step asks of the user. */
export interface DecisionRequest {
	id: string;
	runId: string;
	stepId: string;
	kind: DecisionKind;
	/** Why it needs a decision, in one line. */
	reason: string;
	/** The escalation-policy rule that asked (absent when the step itself or the sandbox asked); can be always-allowed. */
	rule?: string;
	/** What the step will do, in one line (the command line and cwd, the file it writes...). */
	summary: string;
	type: string;
	operation: string;
	/** The parameters the step will run with, after substitution. */
	parameters: Record<string, unknown>;
	/** Files the decision would change, for diff previews. */
	changes?: ProposedChange[];
	/** More to read before answering: a plan's diff, budget figures. Plain text, several lines. */
	details?: string;
}

export interface DecisionAnswer {
	approve: boolean;
	/** Who answered: a person, or a policy with no one to ask (headless without --yes). Default 'user'. */
	by?: 'user' | 'policy';
	reason?: string;
	/** Edit-then-approve: replacement parameters. */
	parameters?: Record<string, unknown>;
}

export interface DecisionPrompter {
	decide(request: DecisionRequest, signal: AbortSignal): Promise<DecisionAnswer>;
}

/** Rejects every decision: what a headless run without --yes gets. */
export const rejectAll: DecisionPrompter = {
	async decide() {
		return { approve: false, by: 'policy', reason: 'no one to ask: run it in a terminal to answer, or pass --yes' };
	},
};

export const approveAll: DecisionPrompter = {
	async decide() {
		return { approve: true, by: 'policy', reason: 'approved with --yes' };
	},
};

export interface Clock {
	now(): number;
	/** Resolves after ms, or rejects with the signal's reason when aborted. */
	sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
	now: () => Date.now(),
	sleep: (ms, signal) =>
		new Promise<void>((resolve, reject) => {
			if (signal?.aborted) return reject(signal.reason);
			const timer = setTimeout(() => {
				signal?.removeEventListener('abort', onAbort);
				resolve();
			}, ms);
			const onAbort = () => {
				clearTimeout(timer);
				reject(signal?.reason);
			};
			signal?.addEventListener('abort', onAbort, { once: true });
		}),
};
