// A real HTTP server on loopback speaking the OpenAI chat-completions protocol (streaming and not), for LLM tests.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
	path: string;
	authorization: string | undefined;
	body: { model: string; messages: { role: string; content: string }[]; stream?: boolean; max_tokens?: number };
}

/** What to answer the n-th request with (0-based); default: stream `reply` in three pieces. */
export type Responder = (req: SeenRequest, n: number, res: ServerResponse) => boolean | void;

export interface FakeOpenAi {
	baseUrl: string;
	requests: SeenRequest[];
	close(): Promise<void>;
}

export async function startFakeOpenAi(reply: string, responder?: Responder): Promise<FakeOpenAi> {
	const requests: SeenRequest[] = [];
	const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
		let raw = '';
		req.on('data', (c) => (raw += c));
		req.on('end', () => {
			const seen: SeenRequest = { path: req.url ?? '', authorization: req.headers.authorization, body: JSON.parse(raw || '{}') };
			requests.push(seen);
			if (responder?.(seen, requests.length - 1, res)) return;
			const model = seen.body.model;
			if (!seen.body.stream) {
				res.writeHead(200, { 'content-type': 'application/json' });
				res.end(JSON.stringify({ id: 'c1', object: 'chat.completion', created: 0, model, choices: [{ index: 0, message: { role: 'assistant', content: reply }, finish_reason: 'stop' }], usage: { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 } }));
				return;
			}
			res.writeHead(200, { 'content-type': 'text/event-stream' });
			const third = Math.ceil(reply.length / 3);
			for (const piece of [reply.slice(0, third), reply.slice(third, 2 * third), reply.slice(2 * third)]) {
				res.write(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 0, model, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] })}\n\n`);
			}
			res.write(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 0, model, choices: [], usage: { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 } })}\n\n`);
			res.end('data: [DONE]\n\n');
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;
	return {
		baseUrl: `http://127.0.0.1:${port}/v1`,
		requests,
		close: () => new Promise<void>((resolve) => server.close(() => resolve())),
	};
}
