// The parameters of an `agent` step, apart from the handler so planners can build and check steps without it.
import { z } from 'zod';

export const agentTaskParams = z
	.object({
		prompt: z.string().min(1).describe('The task, in words: what to do and how to know it is done.'),
		capabilities: z
			.array(z.string().min(1))
			.default([])
			.describe('What the task needs (code, test, review, design, docs...): the allocation score matches agents on these.'),
		agent: z.string().min(1).optional().describe('Assign to this agent by name, overriding the allocation score.'),
		files: z.array(z.string().min(1)).optional().describe('Workspace files the agent starts from (read into its context).'),
		success_criteria: z.array(z.string().min(1)).optional().describe('How the result is judged; given to the agent.'),
		max_turns: z.number().int().min(1).max(200).optional().describe('Upper bound on model turns in the tool loop (default 20).'),
	})
	.strict();

export type AgentTaskParams = z.output<typeof agentTaskParams>;
