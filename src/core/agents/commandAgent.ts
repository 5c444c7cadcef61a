// A command agent at work: its command template filled with the task and run as an `exec` child step (sandboxed,
// escalated, with the agent's timeout), retried with backoff on failures that may pass.
import { describeError, StepError } from '../errors';
import type { ExecOutput } from '../handlers/exec';
import type { AgentTaskParams } from '../handlers/agentParams';
import type { StepContext } from '../handlers/types';
import type { Clock } from '../ports';
import { renderCommand, type CommandAgentDefinition } from './definition';
import { backoffDelayMs, classifyError } from './recovery';

export interface CommandAgentOutput {
	agent: string;
	exit_code: number | null;
	stdout: string;
	stderr: string;
	attempts: number;
}

/** The task as one text for the command: the prompt and its success criteria. */
function taskText(p: AgentTaskParams): string {
	return p.success_criteria?.length ? `${p.prompt}\n\nDone when:\n${p.success_criteria.map((c) => `- ${c}`).join('\n')}` : p.prompt;
}

export async function runCommandAgent(agent: CommandAgentDefinition, p: AgentTaskParams, ctx: StepContext, clock: Clock): Promise<CommandAgentOutput> {
	const inv = renderCommand(agent, { prompt: taskText(p), workspace: ctx.workspace, files: p.files });
	const attempts = 1 + inv.retries;
	for (let attempt = 1; ; attempt++) {
		try {
			const out = (await ctx.runTool({
				type: 'exec',
				operation: 'run',
				parameters: inv.shell ? { command: inv.command, shell: true } : { command: inv.command, args: inv.args ?? [], shell: false },
				label: `agent ${agent.name}`,
				timeoutMs: inv.timeout_ms,
			})) as ExecOutput;
			return { agent: agent.name, exit_code: out.exit_code, stdout: out.stdout, stderr: out.stderr, attempts: attempt };
		} catch (err) {
			if (ctx.signal.aborted) throw ctx.signal.reason;
			const c = classifyError(err);
			// A rejected command, a sandbox refusal or bad parameters will fail the same way again.
			if (StepError.is(err, 'rejected') || !c.retryable && c.class !== 'unknown' || attempt >= attempts) {
				throw new StepError('failed', `agent ${agent.name}: ${describeError(err)}${attempt > 1 ? ` (after ${attempt} attempts)` : ''}`, {
					permanent: StepError.is(err) ? err.permanent : false,
				});
			}
			const delay = backoffDelayMs(attempt, { retryAfterMs: c.retryAfterMs });
			ctx.logger.log('warn', 'agents', `${ctx.step.id}: agent ${agent.name} attempt ${attempt} failed (${describeError(err)}); retrying in ${delay} ms`);
			await clock.sleep(delay, ctx.signal);
		}
	}
}
