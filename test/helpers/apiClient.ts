// A real HTTP client for the API tests: node:http, so the Host and Origin headers can be anything a test needs.
import { request, type Agent } from 'node:http';
import { createEngine, type Engine } from '../../src/core/engine';
import type { HandlerRegistry } from '../../src/core/handlers';
import type { LogLevel } from '../../src/core/ports';
import { ApiServer, type ApiServerOptions } from '../../src/core/services/api/server';
import { DecisionBroker } from '../../src/core/services/triggers/decisionBroker';
import { Dispatcher } from '../../src/core/services/triggers/dispatcher';
import { tempDir } from './tmp';

export interface Reply {
	status: number;
	headers: Record<string, string | string[] | undefined>;
	text: string;
	// eslint-disable-next-line @typescript-eslint/no-explicit-any
	json: any;
}

export interface CallOptions {
	body?: unknown;
	/** Raw body text (sent as is). */
	raw?: string | Buffer;
	headers?: Record<string, string>;
	/** Default: the server's; null: no Authorization header. */
	token?: string | null;
	agent?: Agent;
}

export interface TestApi {
	ws: string;
	engine: Engine;
	broker: DecisionBroker;
	dispatcher: Dispatcher;
	server: ApiServer;
	/** Every line logged, by level and scope. */
	logs: string[];
	/** Every response seen by call(), its headers and body as text. */
	seen: string[];
	call(method: string, path: string, opts?: CallOptions): Promise<Reply>;
	close(): Promise<void>;
}

export function httpCall(port: number, method: string, path: string, opts: CallOptions & { token?: string | null } = {}): Promise<Reply> {
	return new Promise((resolve, reject) => {
		const body = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
		const headers: Record<string, string> = { Host: `127.0.0.1:${port}` };
		if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
		if (body !== undefined) {
			headers['Content-Type'] = 'application/json';
			headers['Content-Length'] = String(Buffer.byteLength(body));
		}
		Object.assign(headers, opts.headers);
		const req = request({ host: '127.0.0.1', port, method, path, headers, agent: opts.agent }, (res) => {
			const chunks: Buffer[] = [];
			res.on('data', (c: Buffer) => chunks.push(c));
			res.on('end', () => {
				const text = Buffer.concat(chunks).toString('utf8');
				let json: unknown;
				try {
					json = JSON.parse(text);
				} catch {
					json = undefined;
				}
				resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
			});
			res.on('error', reject);
		});
		req.on('error', reject);
		req.end(body);
	});
}

export async function startTestApi(extra: Partial<ApiServerOptions> & { maxConcurrentRuns?: number; maxQueue?: number; workspace?: string; registry?: HandlerRegistry } = {}): Promise<TestApi> {
	const { maxConcurrentRuns, maxQueue, workspace, registry, ...options } = extra;
	const ws = workspace ?? tempDir('qo-api-');
	const logs: string[] = [];
	const logger = { log: (level: LogLevel, scope: string, message: string) => logs.push(`${level} [${scope}] ${message}`) };
	const broker = new DecisionBroker();
	const engine = await createEngine({ workspace: ws, prompter: broker, logger, gc: { maxRuns: 5000 }, ...(registry ? { registry } : {}) });
	const dispatcher = new Dispatcher({ engine, broker, keepFinished: 5000, maxConcurrentRuns, maxQueue });
	await dispatcher.open();
	const server = await ApiServer.start({ engine, dispatcher, broker, logger, ...options });
	const seen: string[] = [];
	return {
		ws,
		engine,
		broker,
		dispatcher,
		server,
		logs,
		seen,
		async call(method, path, opts = {}) {
			const r = await httpCall(server.port, method, path, { ...opts, token: opts.token === undefined ? server.token : opts.token });
			seen.push(JSON.stringify(r.headers) + r.text);
			return r;
		},
		async close() {
			await server.close();
			await dispatcher.dispose();
		},
	};
}

/** A workflow of one util.wait step. */
export const waitWorkflow = (name: string, ms = 0) => ({ name, instructions: [{ id: 'w', type: 'util', operation: 'wait', parameters: { ms } }] });

export async function until<T>(what: string, probe: () => T | undefined | null | Promise<T | undefined | null>, timeoutMs = 10_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const v = await probe();
		if (v !== undefined && v !== null && v !== false) return v;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 20));
	}
}
