// Every command the extension registers; a contract test checks package.json declares exactly these.
export const COMMAND_IDS = [
	'quantum.runWorkflowFile',
	'quantum.runCurrentFile',
	'quantum.runAsWorkflow',
	'quantum.validateWorkflow',
	'quantum.planWorkflow',
	'quantum.cancelRun',
	'quantum.retryFailedStep',
	'quantum.resumeRun',
	'quantum.rollbackRun',
	'quantum.commitRun',
	'quantum.createCheckpoint',
	'quantum.restoreCheckpoint',
	'quantum.showBoard',
	'quantum.openRunLog',
	'quantum.openStepOutput',
	'quantum.showDecision',
	'quantum.approveDecision',
	'quantum.rejectDecision',
	'quantum.refreshRuns',
	'quantum.manageAllowedRules',
	'quantum.orchestrateGoal',
	'quantum.showAgents',
	'quantum.newAgent',
	'quantum.setApiKey',
	'quantum.clearApiKey',
	'quantum.installGitHook',
	'quantum.removeGitHooks',
	'quantum.copyApiAddress',
] as const;

export type CommandId = (typeof COMMAND_IDS)[number];

/** Commands only the extension's own UI calls (hidden from the palette with `when: false`). */
export const INTERNAL_COMMANDS: ReadonlySet<CommandId> = new Set<CommandId>(['quantum.openStepOutput', 'quantum.showDecision']);

export const VIEW_IDS = {
	container: 'quantum',
	operations: 'quantum.operations',
	board: 'quantum.board',
} as const;
