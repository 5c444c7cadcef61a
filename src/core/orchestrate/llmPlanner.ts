// The LLM planner: the model (role 'planner') writes the workflow, shown every step type and operation with its
// parameters' JSON Schema; the answer goes through the real workflow validator and is sent back with its problems.
import { z } from 'zod';
import type { HandlerRegistry } from '../handlers/registry';
import type { LlmClient } from '../services/llm/client';
import { completeStructured } from '../services/llm/structured';
import { workflowSchema, type RawWorkflow } from '../workflow/schema';
import type { RunRecord } from './continuation';
import type { AgentInfo, Analysis } from './types';

/** How a plan is checked: the engine's own parser and validator (unknown types, parameters, ids, cycles...). */
export type PlanCheck = (workflow: RawWorkflow) => string | undefined;

/** Every registered step type and operation with its description and parameters (JSON Schema, input side). */
export function operationCatalog(registry: HandlerRegistry): string {
	const lines: string[] = [];
	for (const handler of [...registry.all()].sort((a, b) => a.type.localeCompare(b.type))) {
		lines.push(`## ${handler.type}: ${handler.description}`);
		for (const op of Object.keys(handler.operations).sort()) {
			lines.push(`- ${handler.type}.${op} parameters: ${paramsSchema(handler.operations[op].params)}`);
		}
	}
	return lines.join('\n');
}

function paramsSchema(schema: z.ZodType): string {
	try {
		const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
		delete json.$schema;
		return JSON.stringify(json);
	} catch {
		return '(any object)';
	}
}

const PLANNER_SYSTEM = [
	'You are the planner of Quantum Orchestrator. You turn a goal into a workflow: a JSON object',
	'{ "name", "description", "instructions": [ { "id", "type", "operation", "parameters", "dependencies"? , "requires_approval"?, "run_if"? } ] }',
	'that an engine runs as a dependency graph in the workspace, every file change journaled so it can be rolled back.',
	'Rules:',
	'- Use only the step types and operations listed, with parameters exactly as their JSON Schema says (no other keys).',
	'- Ids: letters, digits, _ . - ; start with a letter. dependencies name earlier ids; no cycles.',
	'- A later step reads an earlier one\'s output with "${steps.ID.output}" or "${steps.ID.output.field}" (exec: exit_code, stdout, stderr); that adds the dependency.',
	'- Run the project\'s own checks (its scripts) to verify changes; prefer agent tasks for code changes when the agent type is listed.',
	'- Mark steps that deploy, publish, push or delete with "requires_approval": true.',
	'- Keep the plan small: only the steps the goal needs.',
].join('\n');

function context(analysis: Analysis, registry: HandlerRegistry, agents: readonly AgentInfo[]): string {
	const { facts: _facts, goal: _goal, ...judgement } = analysis;
	return [
		`Goal: ${analysis.goal}`,
		`Analysis:\n${JSON.stringify(judgement, null, 2)}`,
		`Workspace facts:\n${JSON.stringify(analysis.facts, null, 2)}`,
		`Available step types and operations:\n${operationCatalog(registry)}`,
		agents.length
			? `Agents (assign an agent step with "agent": name, or let capabilities choose):\n${agents.map((a) => `- ${a.name} [${a.capabilities.join(', ')}]: ${a.description}`).join('\n')}`
			: 'Agents: none are registered.',
	].join('\n\n');
}

export interface LlmPlanOptions {
	llm: LlmClient;
	registry: HandlerRegistry;
	agents?: readonly AgentInfo[];
	check: PlanCheck;
	signal: AbortSignal;
	/** Answers tried in all (the first and corrections); default 3. */
	attempts?: number;
}

export interface LlmPlan {
	workflow: RawWorkflow;
	model: string;
	attempts: number;
}

/** A plan for the analysed goal; throws StepError naming the last problem when no answer validated. */
export async function planWithLlm(analysis: Analysis, opts: LlmPlanOptions): Promise<LlmPlan> {
	const prompt = `${context(analysis, opts.registry, opts.agents ?? [])}\n\nWrite the workflow for this goal.`;
	return ask(prompt, analysis.goal, opts);
}

/** A revised plan after `record`'s run failed: the whole workflow again, unchanged steps keeping their ids. */
export async function replanWithLlm(analysis: Analysis, previous: RawWorkflow, record: RunRecord, opts: LlmPlanOptions): Promise<LlmPlan> {
	const prompt = [
		context(analysis, opts.registry, opts.agents ?? []),
		`The plan that ran:\n${JSON.stringify(previous, null, 2)}`,
		`How its run ${record.runId} ended: ${record.status}${record.message ? ` (${record.message})` : ''}`,
		describeRecord(record),
		[
			'Write the revised workflow: the whole plan again, changed so that it reaches the goal from here.',
			'Steps you keep unchanged with the same id that succeeded are not run again (their recorded outputs are reused);',
			'change or replace the failed step, or add steps before it that remove the cause.',
		].join(' '),
	].join('\n\n');
	return ask(prompt, analysis.goal, opts);
}

async function ask(prompt: string, goal: string, opts: LlmPlanOptions): Promise<LlmPlan> {
	const model = opts.llm.modelFor?.('planner') ?? opts.llm.model;
	const check = (w: RawWorkflow) => (w.instructions.length === 0 ? 'the workflow has no instructions' : opts.check(w));
	const result = await completeStructured<RawWorkflow>(opts.llm, { model, system: PLANNER_SYSTEM, prompt }, workflowSchema, { signal: opts.signal, attempts: opts.attempts, label: 'plan' }, check);
	const workflow = result.value;
	const note = `Planned by ${result.model} for the goal: ${goal}`;
	return { workflow: { ...workflow, description: workflow.description ? `${workflow.description}\n${note}` : note }, model: result.model, attempts: result.attempts };
}

/** The run's steps for the model: succeeded (with their output, shortened), failed (with the error), not run. */
function describeRecord(record: RunRecord): string {
	const lines = ['Steps:'];
	for (const [id, output] of record.outputs) lines.push(`- ${id}: succeeded, output ${clip(JSON.stringify(output) ?? 'null', 1500)}`);
	for (const [id, error] of record.failed) lines.push(`- ${id}: FAILED: ${clip(error, 3000)}`);
	for (const id of record.notRun) lines.push(`- ${id}: did not run`);
	return lines.join('\n');
}

function clip(text: string, max: number): string {
	return text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters)` : text;
}
