// `agent` steps: a task given to the best agent by the allocation score (or the one the step names), worked through
// the agent's tool loop or command, with recovery: retry, another capable agent, undo its changes, or ask.
import { runCommandAgent } from '../agents/commandAgent';
import { allocateFromRegistry, type Allocation } from '../agents/allocation';
import type { AgentDefinition } from '../agents/definition';
import { runLlmAgent } from '../agents/llmAgent';
import type { AgentLease } from '../agents/registry';
import { decideRecovery } from '../agents/recovery';
import { describeError, StepError } from '../errors';
import { systemClock } from '../ports';
import { estimateTokens } from '../services/llm/pricing';
import { agentTaskParams, type AgentTaskParams } from './agentParams';
import { defineOperation, type Handler, type StepContext } from './types';

/** How long a task waits for a slot of a busy agent before checking again. */
const SLOT_POLL_MS = 200;

/** Tokens an agent task is expected to use before the learning store knows better: ten turns of a few thousand. */
const EXPECTED_TASK_TOKENS = 20_000;

async function takeSlot(ctx: StepContext, agent: string): Promise<AgentLease> {
	const services = ctx.agents;
	if (!services) throw new StepError('failed', 'agents are not available in this host', { permanent: true });
	const clock = services.clock ?? systemClock;
	let waited = false;
	for (;;) {
		const lease = services.registry.acquire(agent);
		if (lease) return lease;
		if (!waited) ctx.logger.log('info', 'agents', `${ctx.step.id}: waiting for a free slot of ${agent}`);
		waited = true;
		await clock.sleep(SLOT_POLL_MS, ctx.signal);
	}
}

function announce(ctx: StepContext, allocation: Allocation, agent: string, why?: string): void {
	const candidate = allocation.candidates.find((c) => c.agent === agent);
	const parts = candidate?.parts ?? allocation.parts;
	ctx.assignAgent({
		agent,
		score: candidate?.score ?? allocation.score,
		parts: { ...parts },
		reason: why ? `${why}; ${candidate?.reason ?? allocation.reason}` : allocation.reason,
	});
}

async function work(def: AgentDefinition, p: AgentTaskParams, ctx: StepContext): Promise<unknown> {
	const clock = ctx.agents?.clock ?? systemClock;
	return def.kind === 'llm' ? runLlmAgent(def, p, ctx) : runCommandAgent(def, p, ctx, clock);
}

const task = defineOperation({
	params: agentTaskParams,
	effect: 'external',
	summary: (p) => `${p.agent ? `agent ${p.agent}` : `an agent for ${p.capabilities.join(', ') || 'any work'}`}: "${p.prompt.length > 60 ? `${p.prompt.slice(0, 60)}…` : p.prompt}"`,
	touches: (p) => ({ reads: p.files ?? [], writes: [] }),
	estimateUsage: (p) => {
		const prompt = estimateTokens(p.prompt) * 4;
		return { promptTokens: Math.round(EXPECTED_TASK_TOKENS * 0.8) + prompt, completionTokens: Math.round(EXPECTED_TASK_TOKENS * 0.2) };
	},
	async run(p, ctx): Promise<unknown> {
		const services = ctx.agents;
		if (!services) throw new StepError('failed', 'agents are not available in this host', { permanent: true });
		const { registry, learning } = services;
		const clock = services.clock ?? systemClock;
		const allocation = allocateFromRegistry(registry, { capabilities: p.capabilities, agent: p.agent, stepType: 'agent' }, { learning });
		const tried: string[] = [];
		let escalated = false;
		let agent = allocation.agent;
		let why: string | undefined;
		for (let attempt = 1; ; attempt++) {
			announce(ctx, allocation, agent, why);
			const def = registry.require(agent);
			const lease = await takeSlot(ctx, agent);
			const started = clock.now();
			try {
				const output = await work(def, p, ctx);
				lease.release({ stepType: 'agent', ok: true, durationMs: clock.now() - started, ...tokensOf(output) });
				await learning?.save().catch((err) => ctx.logger.log('warn', 'agents', `could not save what was learned: ${describeError(err)}`));
				return output;
			} catch (err) {
				lease.release({ stepType: 'agent', ok: false, durationMs: clock.now() - started });
				await learning?.save().catch(() => undefined);
				if (ctx.signal.aborted) throw err;
				const changedSomething = (await ctx.undoToolSteps().catch(() => [])).length > 0;
				tried.push(agent);
				const decision = decideRecovery(err, { attempt, agent, candidates: p.agent ? [] : allocation.candidates, tried, hasEffects: false });
				const { strategy } = decision;
				ctx.logger.log('warn', 'agents', `${ctx.step.id}: ${agent} failed: ${describeError(err)} → ${strategy.kind}: ${strategy.reason}`);
				if (strategy.kind === 'retry') {
					await clock.sleep(strategy.delayMs, ctx.signal);
					why = `retry ${attempt + 1} after ${decision.classification.class} error`;
					continue;
				}
				if (strategy.kind === 'fallback') {
					why = `fallback from ${agent} after ${decision.classification.class} error`;
					agent = strategy.agent;
					continue;
				}
				// Stop, or a second escalation: the step fails with the error (a person already gave it one more go).
				if (strategy.kind === 'stop' || escalated) throw err;
				escalated = true;
				// Escalate: the person decides whether to try once more; the suggested actions say what else they can do.
				const actions = decision.actions.map((a) => `- ${a.label}`).join('\n');
				const answer = await ctx.decide({
					kind: 'approval',
					reason: `${agent} could not finish: ${strategy.reason}`,
					summary: `try the task again with ${agent}`,
					details: `${describeError(err)}${changedSomething ? '\n(its changes so far were undone)' : ''}${actions ? `\n\nYou could also:\n${actions}` : ''}`,
				});
				// --yes approves what it is asked to run; it is no one to judge a failure, so it does not buy another try.
				if (answer.by === 'policy') throw err;
				why = 'retry approved by the user';
			}
		}
	},
});

function tokensOf(output: unknown): { tokens?: { input: number; output: number } } {
	const t = (output as { tokens?: { prompt: number; completion: number } } | undefined)?.tokens;
	return t ? { tokens: { input: t.prompt, output: t.completion } } : {};
}

/** Agent tasks, allocated by the documented score (capability 40%, load 30%, performance 20%, specialisation 10%). */
export const agentHandler: Handler = {
	type: 'agent',
	description: 'Give a task to an agent: built-in architect, coder, reviewer, tester, or one defined in .quantum/agents/.',
	operations: { task },
};
