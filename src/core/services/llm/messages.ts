// The messages of a request, without the SDK (see client.ts): budgets and structured answers need only this.
import type { LlmMessage, LlmRequest } from './client';

/** The messages a request stands for: system first, then the conversation or the single prompt. */
export function requestMessages(request: LlmRequest): LlmMessage[] {
	const messages: LlmMessage[] = [];
	if (request.system) messages.push({ role: 'system', content: request.system });
	if (request.messages) messages.push(...request.messages);
	if (request.prompt !== undefined) messages.push({ role: 'user', content: request.prompt });
	return messages;
}
