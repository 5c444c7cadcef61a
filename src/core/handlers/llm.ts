// `llm` steps: a prompt or a conversation to an OpenAI-compatible endpoint (with output_path the text is written
// through the journal, so rolling the run back removes it); review, document and fix live in their own files.
import { z } from 'zod';
import { DEFAULT_COMPLETION_TOKENS, estimateTokens } from '../services/llm/pricing';
import { askModel, maxTokensParam, modelParam, temperatureParam } from './llmCall';
import { document } from './llmDocument';
import { fix } from './llmFix';
import { review } from './llmReview';
import { clip } from './shared';
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
		const response = await askModel(ctx, { prompt: p.prompt, system: p.system, model: p.model, maxTokens: p.max_tokens, temperature: p.temperature });
		if (p.output_path) await ctx.fs.writeFile(p.output_path, response.text);
		return response.text;
	},
});

const chat = defineOperation({
	params: z
		.object({
			messages: z
				.array(
					z
						.object({
							role: z.enum(['user', 'assistant', 'system']).describe('Who says it: user, assistant (earlier answers), or system.'),
							content: z.string().describe('The message text.'),
						})
						.strict(),
				)
				.min(1)
				.describe('The conversation so far, oldest first, sent as given; the model answers it.'),
			system: z.string().optional().describe('System message sent before the conversation.'),
			model: modelParam('chat'),
			output_path: z.string().min(1).optional().describe('Workspace file the reply is written to (journaled, so rollback removes it).'),
			max_tokens: maxTokensParam,
			temperature: temperatureParam,
		})
		.strict(),
	// The model call changes nothing; the only effect is output_path, written through the journal.
	effect: 'workspace',
	summary: (p) => {
		const last = p.messages[p.messages.length - 1];
		return `chat with ${p.model ?? 'the model'} (${p.messages.length} message${p.messages.length === 1 ? '' : 's'}, last: "${clip(last.content, 50)}")${p.output_path ? `, reply to ${p.output_path}` : ''}`;
	},
	touches: (p) => ({ reads: [], writes: p.output_path ? [p.output_path] : [] }),
	approvalReason: (p, sandbox) => (p.output_path ? sandbox.approvalReason(p.output_path) : undefined),
	async run(p, ctx): Promise<string> {
		const response = await askModel(
			ctx,
			{ messages: p.messages.map((m) => ({ role: m.role, content: m.content })), system: p.system, model: p.model, maxTokens: p.max_tokens, temperature: p.temperature },
			'chat',
		);
		if (p.output_path) await ctx.fs.writeFile(p.output_path, response.text);
		return response.text;
	},
});

/**
 * LLM operations. Each uses the step's `model`, else the model configured for its role (review: reviewer, fix: coder,
 * document: writer, chat: chat), else the default; generate uses the default.
 */
export const llmHandler: Handler = {
	type: 'llm',
	description: 'Ask an OpenAI-compatible model to write, review, document or fix code, or to chat; its file changes go through the journal.',
	operations: { generate, review, document, fix, chat },
};
