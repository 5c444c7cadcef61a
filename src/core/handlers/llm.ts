// `llm` steps: a prompt to an OpenAI-compatible endpoint; with output_path the text is written through the
// journal, so rolling the run back removes it. The step's output is the generated text.
import { z } from 'zod';
import { StepError } from '../errors';
import { DEFAULT_COMPLETION_TOKENS, estimateTokens } from '../services/llm/pricing';
import { defineOperation, type Handler } from './types';

const generate = defineOperation({
	params: z
		.object({
			prompt: z.string().min(1).describe('What to ask the model.'),
			system: z.string().optional().describe('System message: the role and rules the model follows.'),
			model: z.string().min(1).optional().describe('Model name (default: the configured model).'),
			output_path: z.string().min(1).optional().describe('Workspace file the text is written to (journaled, so rollback removes it).'),
			max_tokens: z.number().int().min(1).max(1_000_000).optional().describe('Upper bound on generated tokens.'),
			temperature: z.number().min(0).max(2).optional().describe('Sampling temperature (0: most deterministic).'),
		})
		.strict(),
	effect: 'external',
	summary: (p) => `ask ${p.model ?? 'the model'}${p.output_path ? ` and write ${p.output_path}` : ''}: "${p.prompt.length > 50 ? `${p.prompt.slice(0, 50)}…` : p.prompt}"`,
	touches: (p) => ({ reads: [], writes: p.output_path ? [p.output_path] : [] }),
	approvalReason: (p, sandbox) => (p.output_path ? sandbox.approvalReason(p.output_path) : undefined),
	estimateUsage: (p) => ({
		promptTokens: estimateTokens(`${p.system ?? ''}${p.prompt}`),
		completionTokens: p.max_tokens ?? DEFAULT_COMPLETION_TOKENS,
		...(p.model ? { model: p.model } : {}),
	}),
	async run(p, ctx): Promise<string> {
		const llm = ctx.llm;
		if (!llm) {
			throw new StepError(
				'failed',
				'no LLM endpoint is configured: set QO_LLM_BASE_URL (or OPENAI_BASE_URL), QO_LLM_MODEL and OPENAI_API_KEY in the environment',
				{ permanent: true },
			);
		}
		let response;
		try {
			response = await llm.complete(
				{ prompt: p.prompt, system: p.system, model: p.model, maxTokens: p.max_tokens, temperature: p.temperature },
				ctx.signal,
				(text) => ctx.output('stdout', text),
			);
		} catch (err) {
			if (ctx.signal.aborted) throw err;
			const status = (err as { status?: number }).status;
			const message = err instanceof Error ? err.message : String(err);
			// 4xx other than 408/409/429 will not get better by retrying the step.
			const permanent = status !== undefined && status >= 400 && status < 500 && ![408, 409, 429].includes(status);
			throw new StepError('failed', `the LLM request failed${status ? ` (HTTP ${status})` : ''}: ${message}`, { permanent });
		}
		ctx.recordUsage(response.model, response.usage);
		ctx.logger.log('info', 'llm', `${ctx.step.id}: ${response.model}, ${response.usage.promptTokens} prompt + ${response.usage.completionTokens} completion tokens`);
		if (p.output_path) await ctx.fs.writeFile(p.output_path, response.text);
		return response.text;
	},
});

/** LLM operations (issue 4 adds review, document, fix and chat). */
export const llmHandler: Handler = {
	type: 'llm',
	description: 'Ask an OpenAI-compatible model; write its answer to the workspace through the journal.',
	operations: { generate },
};
