// Learned decisions: after the same answer to the same rule three times in a row, offer to always allow it. The
// offer is a question; nothing is applied unless the person says yes. No vscode import.
import type { DecisionSuggestion } from '../../core/agents/learning';
import type { DecisionRequest } from '../../core/ports';

/** The part of the engine's LearningStore this needs. */
export interface LearningLike {
	recordDecision(rule: string, approve: boolean): DecisionSuggestion | undefined;
	suggestions(): DecisionSuggestion[];
	dismissSuggestion(rule: string): boolean;
	forgetDecision(rule: string): void;
	save(): Promise<void>;
}

export type SuggestionChoice = 'allow' | 'dismiss' | undefined;

export interface LearnedRulesHost {
	/** The learning store of the folder the decision's run belongs to. */
	learningFor(request: DecisionRequest): Promise<LearningLike | undefined>;
	isAllowed(rule: string): boolean;
	/** Adds the rule to the workspace's always-allowed rules (the ones "Manage Always-Allowed Rules" lists). */
	allow(rule: string): Promise<void>;
	/** Asks the person; undefined when they closed the question without answering. */
	ask(suggestion: DecisionSuggestion): Promise<SuggestionChoice>;
	warn(message: string): void;
}

export type LearnedOutcome = 'recorded' | 'allowed' | 'dismissed' | 'ignored';

export class LearnedRules {
	/** Rules whose question is on screen now: one question per rule at a time. */
	private readonly asking = new Set<string>();

	constructor(private readonly host: LearnedRulesHost) {}

	/** Records a person's answer to a decision raised by a rule, and offers "always allow" when it is due. */
	async answered(request: DecisionRequest, approve: boolean): Promise<LearnedOutcome | undefined> {
		const rule = request.rule;
		if (!rule) return undefined;
		const learning = await this.host.learningFor(request);
		if (!learning) return undefined;
		learning.recordDecision(rule, approve);
		await this.save(learning);
		// Offered while due: three identical answers in a row, not turned down, not already allowed. Only approvals
		// become rules here (the extension keeps no always-reject list).
		const due = learning.suggestions().find((s) => s.rule === rule && s.action === 'auto-approve');
		if (!due || this.host.isAllowed(rule) || this.asking.has(rule)) return 'recorded';
		this.asking.add(rule);
		try {
			const choice = await this.host.ask(due);
			if (choice === 'allow') {
				await this.host.allow(rule);
				learning.forgetDecision(rule);
				await this.save(learning);
				return 'allowed';
			}
			if (choice === 'dismiss') {
				learning.dismissSuggestion(rule);
				await this.save(learning);
				return 'dismissed';
			}
			return 'ignored';
		} finally {
			this.asking.delete(rule);
		}
	}

	private async save(learning: LearningLike): Promise<void> {
		await learning.save().catch((err: unknown) => this.host.warn(`could not save what was learned: ${err instanceof Error ? err.message : String(err)}`));
	}
}
