// Past step durations (stats.json): read when planning, for critical paths; recorded after each run.
import { describeError } from '../errors';
import { DurationStats } from '../state/runStore';
import type { LearningStore } from '../agents/learning';
import type { Instruction, Workflow } from '../workflow/schema';
import type { EngineContext } from './engineContext';
import { planWorkflow, type Plan, type RunSettings } from './plan';
import type { RunOutcome } from './runTypes';

/** Steps faster than this do not shape critical paths; not recording them keeps stats.json small. */
const MIN_RECORDED_MS = 5;

const durationKey = (workflow: Workflow, id: string) => `${workflow.name}#${id}`;

/** The engine's plan: the workflow planned with the mean durations its steps took before. */
export async function planWithDurations(ctx: EngineContext, workflow: Workflow, settings?: Partial<RunSettings>): Promise<Plan> {
	const stats = await DurationStats.load(ctx.stateDir).catch(() => undefined);
	const past = stats && stats.size > 0 ? (id: string) => stats.mean(durationKey(workflow, id)) : undefined;
	const learning = ctx.services.agents?.learning;
	return planWorkflow(workflow, {
		registry: ctx.registry,
		sandbox: ctx.sandbox,
		workspace: ctx.sandbox.root,
		env: ctx.services.env,
		settings,
		// Nothing measured yet (a new workspace, or only fast steps): no per-step key building and lookups.
		durations: past,
		agentEstimate: learning && ((ins) => agentEstimate(learning, ins)),
	});
}

/**
 * What an agent step is likely to take before this workflow's own history knows: the learning store's recent
 * duration of the named agent (or of agent tasks in general).
 */
function agentEstimate(learning: LearningStore, ins: Instruction): number | undefined {
	const agent = typeof ins.parameters.agent === 'string' ? ins.parameters.agent : undefined;
	return learning.estimateMs({ agent, stepType: 'agent' });
}

export async function recordDurations(ctx: EngineContext, thePlan: Plan, outcome: RunOutcome): Promise<void> {
	// Only worth it for steps that take time: a 100,000-step run of no-ops would only bloat stats.json.
	if (outcome.longestMs !== undefined && !(outcome.longestMs >= MIN_RECORDED_MS)) return;
	let stats: DurationStats | undefined;
	const instructions = thePlan.workflow.instructions;
	for (let i = 0; i < instructions.length; i++) {
		const d = outcome.durations[i];
		if (!(d >= MIN_RECORDED_MS)) continue;
		stats ??= await DurationStats.load(ctx.stateDir);
		stats.record(durationKey(thePlan.workflow, instructions[i].id), d);
	}
	await stats?.save().catch((err) => ctx.services.logger.log('warn', 'state', describeError(err)));
}
