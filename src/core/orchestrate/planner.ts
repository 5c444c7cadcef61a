// The planner a session uses: the model when an LLM is configured, else the rule-based analyser and the template
// planner (the offline fallback). Either way a plan is an ordinary workflow, validated by the engine's own parser.
import type { Engine } from '../engine';
import { WorkflowError } from '../errors';
import type { LlmClient } from '../services/llm/client';
import type { RawWorkflow, Workflow } from '../workflow/schema';
import { analyseByRules, analyseWithLlm } from './analyse';
import type { RunRecord } from './continuation';
import { planWithLlm, replanWithLlm, type PlanCheck } from './llmPlanner';
import { escapeTemplates, hasAgents, taskStep, type StepContext } from './steps';
import { planFromTemplates } from './templates';
import type { AgentInfo, Analysis } from './types';
import { gatherFacts } from './workspaceFacts';

/** The parts of the engine a planner needs: its registry, parser and workspace. */
export type PlanningEngine = Pick<Engine, 'parse' | 'registry' | 'workspace'>;

export interface PlannedWorkflow {
	/** The plan as written (what is saved). */
	raw: RawWorkflow;
	/** The same, validated. */
	workflow: Workflow;
	planner: 'llm' | 'templates';
	template?: string;
	model?: string;
}

export interface ReplanInput {
	analysis: Analysis;
	/** The plan whose run failed (validated). */
	previous: Workflow;
	record: RunRecord;
}

/** A revised plan, or why there is none. */
export type ReplanResult = { plan: PlannedWorkflow } | { reason: string };

export interface Planner {
	readonly kind: 'llm' | 'templates';
	/** One line for people: "rule-based (offline fallback)", "gpt-4o". */
	readonly label: string;
	analyse(goal: string, signal: AbortSignal): Promise<Analysis>;
	plan(analysis: Analysis, signal: AbortSignal): Promise<PlannedWorkflow>;
	replan(input: ReplanInput, signal: AbortSignal): Promise<ReplanResult>;
}

export interface PlannerOptions {
	engine: PlanningEngine;
	/** Without one: the offline fallback. */
	llm?: LlmClient;
	agents?: readonly AgentInfo[];
	/** Model answers tried per question (the first and corrections); default 3. */
	attempts?: number;
}

/** Validates a plan with the engine's parser; throws WorkflowError listing every problem. */
export function validatePlan(engine: PlanningEngine, raw: RawWorkflow): Workflow {
	return engine.parse(JSON.stringify(raw, null, 2));
}

/** The validator's problems with a plan as one line for the model (JSON paths, no line numbers), or undefined. */
export function planProblems(engine: PlanningEngine, raw: RawWorkflow): string | undefined {
	try {
		validatePlan(engine, raw);
		return undefined;
	} catch (err) {
		if (!WorkflowError.is(err)) throw err;
		const problems = err.problems.length ? err.problems : [err];
		const text = problems.map((p) => (p.location.path ? `${p.location.path}: ${p.message}` : p.message));
		return `the workflow validator found ${problems.length} problem${problems.length > 1 ? 's' : ''}: ${text.join('; ')}`;
	}
}

export function createPlanner(opts: PlannerOptions): Planner {
	return opts.llm ? llmPlanner(opts, opts.llm) : templatePlanner(opts);
}

function templatePlanner(opts: PlannerOptions): Planner {
	const { engine } = opts;
	return {
		kind: 'templates',
		label: 'rule-based (offline fallback)',
		async analyse(goal) {
			return analyseByRules(goal, await gatherFacts(engine.workspace, goal));
		},
		async plan(analysis) {
			const { template, workflow } = planFromTemplates(analysis, engine.registry);
			return { raw: workflow, workflow: validatePlan(engine, workflow), planner: 'templates', template };
		},
		async replan(input) {
			const revised = fixBeforeRetry(engine, input);
			if ('reason' in revised) return revised;
			return { plan: { raw: revised.raw, workflow: validatePlan(engine, revised.raw), planner: 'templates', template: 'fix-and-retry' } };
		},
	};
}

function llmPlanner(opts: PlannerOptions, llm: LlmClient): Planner {
	const { engine } = opts;
	const check: PlanCheck = (w) => planProblems(engine, w);
	const common = { llm, registry: engine.registry, agents: opts.agents, check, attempts: opts.attempts };
	return {
		kind: 'llm',
		label: llm.modelFor?.('planner') ?? llm.model,
		async analyse(goal, signal) {
			return analyseWithLlm(llm, goal, await gatherFacts(engine.workspace, goal), { signal, attempts: opts.attempts });
		},
		async plan(analysis, signal) {
			const r = await planWithLlm(analysis, { ...common, signal });
			return { raw: r.workflow, workflow: validatePlan(engine, r.workflow), planner: 'llm', model: r.model };
		},
		async replan(input, signal) {
			const r = await replanWithLlm(input.analysis, plainWorkflow(input.previous), input.record, { ...common, signal });
			return { plan: { raw: r.workflow, workflow: validatePlan(engine, r.workflow), planner: 'llm', model: r.model } };
		},
	};
}

/**
 * The offline revision: a task before the failed step that fixes its cause (given the error), and the failed step
 * again after it. Needs the agent handler: without it nothing offline can change the code.
 */
function fixBeforeRetry(engine: PlanningEngine, input: ReplanInput): { raw: RawWorkflow } | { reason: string } {
	const [failedId, error] = [...input.record.failed][0] ?? [];
	if (!failedId) return { reason: 'the run failed before any step did, so there is nothing to fix' };
	if (!hasAgents(engine.registry)) return { reason: 'the offline planner revises a plan with an agent task, and no agent handler is registered' };
	const previous = plainWorkflow(input.previous);
	const failed = input.previous.instructions.find((s) => s.id === failedId);
	if (!failed) return { reason: `the failed step ${failedId} is not in the plan` };
	const ctx: StepContext = { registry: engine.registry, facts: input.analysis.facts, ids: new Set(input.previous.instructions.map((s) => s.id)) };
	const fix = taskStep(
		ctx,
		`fix_${failedId}`,
		'coder',
		escapeTemplates(`Goal: ${input.analysis.goal}\n\nThe step ${failedId} (${failed.type}.${failed.operation}${failed.description ? `: ${failed.description}` : ''}) failed:\n${error}\n\nFix the cause in the workspace so that ${failedId} succeeds when it runs again. Do not weaken, skip or delete checks.`),
		{ files: input.analysis.facts.files, successCriteria: input.analysis.successCriteria, dependencies: failed.dependencies, description: `Fix what made ${failedId} fail` },
	);
	const instructions = previous.instructions.flatMap((s) => (s.id === failedId ? [fix, { ...s, dependencies: [...(s.dependencies ?? []), fix.id] }] : [s]));
	return { raw: { ...previous, instructions } };
}

/** A validated workflow as a plain one (what a planner revises). */
export function plainWorkflow(w: Workflow): RawWorkflow {
	return {
		version: 1,
		name: w.name,
		...(w.description !== undefined ? { description: w.description } : {}),
		...(Object.keys(w.variables).length ? { variables: w.variables } : {}),
		...(Object.keys(w.settings).length ? { settings: w.settings } : {}),
		instructions: w.instructions.map(({ index: _index, ...rest }) => rest),
	};
}
