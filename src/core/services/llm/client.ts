// The LLM service: any OpenAI-compatible endpoint through the `openai` SDK (streaming, tool calls, timeouts, retries
// on 429/5xx honouring Retry-After, cancellation). The key comes from the host (SecretStorage, the environment).
import OpenAI from 'openai';
import { requestMessages } from './messages';
import type { LlmSettings } from './settings';

/** One message of a conversation; `tool` messages answer the assistant's tool calls by id. */
export type LlmMessage =
	| { role: 'system' | 'user'; content: string }
	| { role: 'assistant'; content: string; toolCalls?: LlmToolCall[] }
	| { role: 'tool'; toolCallId: string; content: string };

/** A function the model may call; `parameters` is a JSON Schema object. */
export interface LlmTool {
	name: string;
	description: string;
	parameters: Record<string, unknown>;
}

export interface LlmToolCall {
	id: string;
	name: string;
	/** JSON text as the model wrote it (may be invalid: the caller validates). */
	arguments: string;
}

export interface LlmRequest {
	/** A single user message; or give `messages`. */
	prompt?: string;
	messages?: LlmMessage[];
	system?: string;
	/** Default: the client's model. */
	model?: string;
	maxTokens?: number;
	temperature?: number;
	tools?: LlmTool[];
	/** Ask for a JSON object (`response_format: json_object`); servers that ignore it are still validated after. */
	json?: boolean;
}

export interface LlmUsage {
	promptTokens: number;
	completionTokens: number;
}

export interface LlmResponse {
	text: string;
	model: string;
	usage: LlmUsage;
	toolCalls: LlmToolCall[];
	/** stop, length, tool_calls, content_filter... as the server said. */
	finishReason?: string;
}

/** The port the `llm` and `agent` handlers use; tests and hosts may supply their own. */
export interface LlmClient {
	readonly model: string;
	/** The model configured for a role (planner, coder, reviewer...), else the default model. */
	modelFor?(role: string): string;
	/** Streams the answer (each piece of text to `onText`) and resolves with all of it. */
	complete(request: LlmRequest, signal: AbortSignal, onText?: (text: string) => void): Promise<LlmResponse>;
}

// Kept in its own module so code that only counts or checks messages (budgets, structured answers) does not load
// the SDK: hosts load it only when an endpoint is configured.
export { requestMessages } from './messages';

function toSdkMessage(m: LlmMessage): OpenAI.Chat.ChatCompletionMessageParam {
	if (m.role === 'tool') return { role: 'tool', tool_call_id: m.toolCallId, content: m.content };
	if (m.role === 'assistant') {
		return {
			role: 'assistant',
			content: m.content,
			...(m.toolCalls?.length
				? { tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } })) }
				: {}),
		};
	}
	return { role: m.role, content: m.content };
}

export function createOpenAiClient(settings: LlmSettings): LlmClient {
	const client = new OpenAI({
		baseURL: settings.baseUrl,
		// Local servers (Ollama, LM Studio) take any key; the SDK insists on one.
		apiKey: settings.apiKey || 'no-key',
		timeout: settings.timeoutMs ?? 120_000,
		maxRetries: settings.maxRetries ?? 2,
	});
	return {
		model: settings.model,
		modelFor: (role) => settings.roleModels?.[role] || settings.model,
		async complete(request, signal, onText) {
			const stream = await client.chat.completions.create(
				{
					model: request.model ?? settings.model,
					messages: requestMessages(request).map(toSdkMessage),
					stream: true,
					stream_options: { include_usage: true },
					...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
					...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
					...(request.tools?.length
						? { tools: request.tools.map((t) => ({ type: 'function' as const, function: { name: t.name, description: t.description, parameters: t.parameters } })) }
						: {}),
					...(request.json ? { response_format: { type: 'json_object' as const } } : {}),
				},
				{ signal },
			);
			let text = '';
			let model = request.model ?? settings.model;
			let finishReason: string | undefined;
			const usage: LlmUsage = { promptTokens: 0, completionTokens: 0 };
			// Tool calls arrive in pieces keyed by index: the id and name first, the arguments in fragments.
			const calls: LlmToolCall[] = [];
			for await (const chunk of stream) {
				if (chunk.model) model = chunk.model;
				const choice = chunk.choices[0];
				const piece = choice?.delta?.content ?? '';
				if (piece) {
					text += piece;
					onText?.(piece);
				}
				for (const d of choice?.delta?.tool_calls ?? []) {
					const call = (calls[d.index] ??= { id: '', name: '', arguments: '' });
					if (d.id) call.id = d.id;
					if (d.function?.name) call.name += d.function.name;
					if (d.function?.arguments) call.arguments += d.function.arguments;
				}
				if (choice?.finish_reason) finishReason = choice.finish_reason;
				if (chunk.usage) {
					usage.promptTokens = chunk.usage.prompt_tokens;
					usage.completionTokens = chunk.usage.completion_tokens;
				}
			}
			const toolCalls = calls.filter(Boolean).map((c, i) => ({ ...c, id: c.id || `call_${i}` }));
			return { text, model, usage, toolCalls, finishReason };
		},
	};
}
