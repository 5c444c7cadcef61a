// Orchestrate a goal: analyse it, plan it as an ordinary workflow, save the plan, run it, recover by replanning.
export { analyseByRules, analyseWithLlm } from './analyse';
export { continuationOf, readRunRecord, type Continuation, type RunRecord } from './continuation';
export { diffPlans, type PlanDiff, type StepChange } from './diff';
export { operationCatalog, planWithLlm, replanWithLlm } from './llmPlanner';
export { createPlanner, planProblems, validatePlan, type PlannedWorkflow, type Planner, type PlannerOptions, type ReplanInput, type ReplanResult } from './planner';
export { listPlans, loadPlan, planSlug, plansDir, savePlan, type PlanListing, type PlanMeta, type SavedPlan } from './plans';
export {
	orchestrate,
	OrchestrationSession,
	type OrchestrationEvent,
	type OrchestrationListener,
	type OrchestrationOptions,
	type OrchestrationOutcome,
	type OrchestrationResult,
	type OrchestrationState,
	type PreparedPlan,
} from './session';
export { planFromTemplates, TEMPLATES } from './templates';
export type { AgentInfo, Analysis, AnalysisJudgement, CheckKind, Intent, RiskKind, WorkspaceFacts } from './types';
export { gatherFacts } from './workspaceFacts';
