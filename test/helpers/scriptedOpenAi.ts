// A real HTTP server on loopback speaking the OpenAI chat-completions protocol that replays scripted answers:
// text, tool calls, JSON, HTTP errors with Retry-After — streamed as SSE the way the real API streams them.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatRequestBody {
	model: string;
	messages: { role: string; content: string | null; tool_calls?: { id: string; function: { name: string; arguments: string } }[]; tool_call_id?: string }[];
	stream?: boolean;
	max_tokens?: number;
	tools?: { type: 'function'; function: { name: string; description?: string; parameters?: unknown } }[];
	response_format?: { type: string };
}

export interface ScriptedReply {
	/** Only answer requests this accepts (default: any); the first unused matching reply is used. */
	when?: (body: ChatRequestBody) => boolean;
	/** Answer text (streamed in pieces), or a value sent as JSON text. */
	text?: string;
	json?: unknown;
	toolCalls?: { name: string; arguments: unknown }[];
	/** An HTTP error instead of an answer. */
	status?: number;
	retryAfter?: string;
	usage?: { prompt_tokens: number; completion_tokens: number };
	/** Wait before answering (ms). */
	delayMs?: number;
	/** Keep answering with this reply (never used up). */
	repeat?: boolean;
}

export interface ScriptedOpenAi {
	baseUrl: string;
	/** Every request seen, in order. */
	requests: ChatRequestBody[];
	/** The Authorization header of each request, in the same order (to check which key a client sent). */
	authorizations: (string | undefined)[];
	/** Replies not used yet. */
	remaining(): number;
	close(): Promise<void>;
}

/** The last user message of a request (what it is mainly asking). */
export function lastUserText(body: ChatRequestBody): string {
	for (let i = body.messages.length - 1; i >= 0; i--) if (body.messages[i].role === 'user') return body.messages[i].content ?? '';
	return '';
}

/** The system message of a request. */
export function systemText(body: ChatRequestBody): string {
	return body.messages.find((m) => m.role === 'system')?.content ?? '';
}

export async function startScriptedOpenAi(script: ScriptedReply[]): Promise<ScriptedOpenAi> {
	const requests: ChatRequestBody[] = [];
	const authorizations: (string | undefined)[] = [];
	const used = new Set<number>();
	const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
		let raw = '';
		req.on('data', (c) => (raw += c));
		req.on('end', () => {
			let body: ChatRequestBody;
			try {
				body = JSON.parse(raw || '{}') as ChatRequestBody;
			} catch {
				res.writeHead(400).end();
				return;
			}
			requests.push(body);
			authorizations.push(req.headers.authorization);
			const index = script.findIndex((r, i) => !used.has(i) && (r.when?.(body) ?? true));
			if (index < 0) {
				res.writeHead(500, { 'content-type': 'application/json' });
				res.end(JSON.stringify({ error: { message: `the script has no answer for request ${requests.length}: ${lastUserText(body).slice(0, 200)}` } }));
				return;
			}
			const reply = script[index];
			if (!reply.repeat) used.add(index);
			const send = () => answer(res, body, reply);
			if (reply.delayMs) setTimeout(send, reply.delayMs);
			else send();
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;
	return {
		baseUrl: `http://127.0.0.1:${port}/v1`,
		requests,
		authorizations,
		remaining: () => script.filter((r, i) => !used.has(i) && !r.repeat).length,
		close: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}

function answer(res: ServerResponse, body: ChatRequestBody, reply: ScriptedReply): void {
	if (reply.status) {
		res.writeHead(reply.status, { 'content-type': 'application/json', ...(reply.retryAfter !== undefined ? { 'retry-after': reply.retryAfter } : {}) });
		res.end(JSON.stringify({ error: { message: `scripted HTTP ${reply.status}`, type: reply.status === 429 ? 'rate_limit_exceeded' : 'server_error' } }));
		return;
	}
	const text = reply.json !== undefined ? JSON.stringify(reply.json) : (reply.text ?? '');
	const usage = reply.usage ?? { prompt_tokens: Math.ceil(JSON.stringify(body.messages).length / 4), completion_tokens: Math.max(1, Math.ceil(text.length / 4)) };
	const model = body.model;
	const chunk = (delta: unknown, finish: string | null = null) =>
		`data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 0, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
	const toolCalls = reply.toolCalls ?? [];
	if (!body.stream) {
		res.writeHead(200, { 'content-type': 'application/json' });
		res.end(
			JSON.stringify({
				id: 'chatcmpl-1',
				object: 'chat.completion',
				created: 0,
				model,
				choices: [
					{
						index: 0,
						message: {
							role: 'assistant',
							content: text,
							...(toolCalls.length ? { tool_calls: toolCalls.map((c, i) => ({ id: `call_${i}`, type: 'function', function: { name: c.name, arguments: argText(c.arguments) } })) } : {}),
						},
						finish_reason: toolCalls.length ? 'tool_calls' : 'stop',
					},
				],
				usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
			}),
		);
		return;
	}
	res.writeHead(200, { 'content-type': 'text/event-stream' });
	res.write(chunk({ role: 'assistant', content: '' }));
	if (text) {
		const third = Math.ceil(text.length / 3);
		for (const piece of [text.slice(0, third), text.slice(third, 2 * third), text.slice(2 * third)]) if (piece) res.write(chunk({ content: piece }));
	}
	toolCalls.forEach((c, index) => {
		const args = argText(c.arguments);
		const half = Math.ceil(args.length / 2);
		// As the API does: id and name first, then the arguments in fragments.
		res.write(chunk({ tool_calls: [{ index, id: `call_${index}`, type: 'function', function: { name: c.name, arguments: '' } }] }));
		res.write(chunk({ tool_calls: [{ index, function: { arguments: args.slice(0, half) } }] }));
		res.write(chunk({ tool_calls: [{ index, function: { arguments: args.slice(half) } }] }));
	});
	res.write(chunk({}, toolCalls.length ? 'tool_calls' : 'stop'));
	res.write(`data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 0, model, choices: [], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } })}\n\n`);
	res.end('data: [DONE]\n\n');
}

function argText(args: unknown): string {
	return typeof args === 'string' ? args : JSON.stringify(args);
}
