// The LLM service: any OpenAI-compatible endpoint through the `openai` SDK (streaming, timeouts, retries on 429/5xx
// honouring Retry-After, cancellation). The key comes from the host (SecretStorage, the environment), never settings.
import OpenAI from 'openai';
import type { LlmSettings } from './settings';

export interface LlmRequest {
	prompt: string;
	system?: string;
	/** Default: the client's model. */
	model?: string;
	maxTokens?: number;
	temperature?: number;
}

export interface LlmUsage {
	promptTokens: number;
	completionTokens: number;
}

export interface LlmResponse {
	text: string;
	model: string;
	usage: LlmUsage;
}

/** The port the `llm` handler uses; tests and hosts may supply their own. */
export interface LlmClient {
	readonly model: string;
	/** Streams the answer (each piece to `onText`) and resolves with all of it. */
	complete(request: LlmRequest, signal: AbortSignal, onText?: (text: string) => void): Promise<LlmResponse>;
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
		async complete(request, signal, onText) {
			const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [];
			if (request.system) messages.push({ role: 'system', content: request.system });
			messages.push({ role: 'user', content: request.prompt });
			const stream = await client.chat.completions.create(
				{
					model: request.model ?? settings.model,
					messages,
					stream: true,
					stream_options: { include_usage: true },
					...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
					...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
				},
				{ signal },
			);
			let text = '';
			let model = request.model ?? settings.model;
			const usage: LlmUsage = { promptTokens: 0, completionTokens: 0 };
			for await (const chunk of stream) {
				if (chunk.model) model = chunk.model;
				const piece = chunk.choices[0]?.delta?.content ?? '';
				if (piece) {
					text += piece;
					onText?.(piece);
				}
				if (chunk.usage) {
					usage.promptTokens = chunk.usage.prompt_tokens;
					usage.completionTokens = chunk.usage.completion_tokens;
				}
			}
			return { text, model, usage };
		},
	};
}
