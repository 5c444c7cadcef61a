// An LLM agent at work: a tool loop limited to the agent's allowed tools, where every tool call runs as a child
// step of the agent's step (journaled, sandboxed, escalated) and its result goes back to the model.
import { describeError, StepError } from '../errors';
import type { StepContext } from '../handlers/types';
import type { AgentTaskParams } from '../handlers/agentParams';
import type { LlmMessage } from '../services/llm/client';
import type { LlmAgentDefinition } from './definition';
import { isWriteTool, stepForToolCall, toolDefinitions, toolResultText } from './tools';

export const DEFAULT_MAX_TURNS = 20;

/** Largest starting file put into the first message; bigger ones are named and left to read_file. */
const START_FILE_MAX_CHARS = 30_000;

/** What an agent's task step outputs. */
export interface AgentTaskOutput {
	agent: string;
	/** The agent's closing answer. */
	summary: string;
	turns: number;
	tool_calls: number;
	/** Workspace files its tool steps wrote. */
	files_changed: string[];
	tokens: { prompt: number; completion: number };
}

const RULES = `You work inside a code workspace through tools; every change you make is recorded and can be undone, and risky actions wait for the user's approval.
- Paths are relative to the workspace root. Read files before changing them; change only what the task needs.
- Prefer modify_file (exact find/replace) for edits to existing files, write_file for new files.
- A tool result that starts with "error:" explains what went wrong: correct the call or take another way; a rejection by the user means do not do that.
- When the task is done (or cannot be done), stop calling tools and answer with a short summary of what you changed and why, or what is in the way.`;

/** The first message: the task, how it is judged, and the starting files' content. */
async function taskMessage(p: AgentTaskParams, ctx: StepContext): Promise<string> {
	const parts = [`Task: ${p.prompt}`];
	if (p.success_criteria?.length) parts.push(`Done when:\n${p.success_criteria.map((c) => `- ${c}`).join('\n')}`);
	for (const file of p.files ?? []) {
		let text: string;
		try {
			text = (await ctx.fs.readFile(file)).toString('utf8');
		} catch (err) {
			parts.push(`File ${file}: (cannot read it: ${describeError(err)})`);
			continue;
		}
		parts.push(text.length > START_FILE_MAX_CHARS ? `File ${file}: (${text.length} characters: read it with read_file)` : `File ${file}:\n\`\`\`\n${text}\n\`\`\``);
	}
	return parts.join('\n\n');
}

/** Runs the tool loop until the model answers without tool calls, or max_turns. */
export async function runLlmAgent(agent: LlmAgentDefinition, p: AgentTaskParams, ctx: StepContext): Promise<AgentTaskOutput> {
	const llm = ctx.llm;
	if (!llm) {
		throw new StepError('failed', `agent ${agent.name} needs an LLM endpoint: set QO_LLM_BASE_URL (or OPENAI_BASE_URL), QO_LLM_MODEL and OPENAI_API_KEY, or assign a command agent`, {
			permanent: true,
		});
	}
	const model = agent.model ?? llm.modelFor?.(agent.name) ?? llm.model;
	const tools = toolDefinitions(agent.tools);
	const messages: LlmMessage[] = [{ role: 'user', content: await taskMessage(p, ctx) }];
	const system = `${agent.system_prompt.trim()}\n\n${RULES}`;
	const maxTurns = p.max_turns ?? DEFAULT_MAX_TURNS;
	const changed = new Set<string>();
	const tokens = { prompt: 0, completion: 0 };
	let calls = 0;
	for (let turn = 1; turn <= maxTurns; turn++) {
		if (ctx.signal.aborted) throw ctx.signal.reason;
		const response = await llm.complete({ system, messages, model, ...(tools.length ? { tools } : {}) }, ctx.signal, (text) => ctx.output('stdout', text));
		ctx.recordUsage(response.model, response.usage);
		tokens.prompt += response.usage.promptTokens;
		tokens.completion += response.usage.completionTokens;
		if (response.toolCalls.length === 0) {
			return { agent: agent.name, summary: response.text.trim(), turns: turn, tool_calls: calls, files_changed: [...changed], tokens };
		}
		messages.push({ role: 'assistant', content: response.text, toolCalls: response.toolCalls });
		for (const call of response.toolCalls) {
			calls++;
			const mapped = stepForToolCall(call.name, call.arguments, agent.tools);
			let content: string;
			if ('error' in mapped) {
				content = `error: ${mapped.error}`;
			} else {
				try {
					const output = await ctx.runTool(mapped.step);
					content = toolResultText(output);
					if (isWriteTool(call.name) && typeof mapped.step.parameters.path === 'string') changed.add(mapped.step.parameters.path);
				} catch (err) {
					if (ctx.signal.aborted) throw ctx.signal.reason;
					content = `error: ${describeError(err)}`;
				}
			}
			messages.push({ role: 'tool', toolCallId: call.id, content });
		}
		if (response.text.trim()) ctx.output('stdout', '\n');
	}
	// Permanent: the same agent again would likely go round the same way; another agent may not.
	throw new StepError('failed', `agent ${agent.name} did not finish within ${maxTurns} turns (${calls} tool calls); raise max_turns or split the task`, {
		permanent: true,
	});
}
