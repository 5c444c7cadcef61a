// What the board's messages do: each maps to the same code path as the matching command.
import * as vscode from 'vscode';
import type { RunAction, WebviewHandlers } from '../../protocol/messages';
import type { CommandId } from '../commandIds';
import type { DecisionUi } from '../decisionUi';
import type { GoalOrchestrations } from '../orchestrateGoal';
import type { Orchestrator } from '../orchestrator';

const ACTION_COMMANDS: Record<RunAction, CommandId> = {
	cancel: 'quantum.cancelRun',
	retry: 'quantum.retryFailedStep',
	resume: 'quantum.resumeRun',
	rollback: 'quantum.rollbackRun',
	commit: 'quantum.commitRun',
	openLog: 'quantum.openRunLog',
};

export function createBoardHandlers(
	orchestrator: Orchestrator,
	decisionUi: DecisionUi,
	commands: Record<CommandId, (...args: unknown[]) => unknown>,
	goals: GoalOrchestrations,
): Omit<WebviewHandlers, 'ready' | 'resync'> {
	return {
		answer: (m) => decisionUi.answer(m.decisionIds, { approve: m.approve, reason: m.reason, alwaysAllow: m.alwaysAllow }),
		editApprove: (m) => decisionUi.answer([m.decisionId], { approve: true, parameters: m.parameters }),
		showDecision: (m) => decisionUi.show(m.decisionId),
		runAction: async (m) => {
			if (!orchestrator.board.run(m.runId)) throw new Error(`unknown run ${m.runId}`);
			await commands[ACTION_COMMANDS[m.action]](m.runId);
		},
		openStep: async (m) => {
			await commands['quantum.openStepOutput']({ runId: m.runId, stepId: m.stepId });
			void vscode.commands.executeCommand('quantum.operations.focus');
		},
		openPlan: async (m) => {
			const file = goals.planFile(m.orchestrationId);
			if (!file) throw new Error('that plan is no longer known in this window: it is in the .quantum/plans folder');
			await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: false });
		},
	};
}
