// The local REST API on Node's http, 127.0.0.1 only. Each request passes, in order: a loopback Host with our port
// (403), no Origin header (403), the bearer token (401), a known route (404) and method (405), the body's declared
// size (413), JSON content type (415), the body's size as it streams (413, connection closed), JSON syntax (400),
// then the route's own checks (422, 409…). No CORS header is ever sent.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import * as path from 'node:path';
import type { Engine } from '../../engine';
import { describeError, SandboxError, StateError, WorkflowError } from '../../errors';
import { nullLogger, type Logger } from '../../ports';
import type { AgentInfo } from '../../orchestrate/types';
import type { LlmClient } from '../llm/client';
import type { DecisionBroker } from '../triggers/decisionBroker';
import type { Dispatcher } from '../triggers/dispatcher';
import { API_FILE, removeApiFile, removeApiFileSync, writeApiFile } from './apiFile';
import { checkGivenToken, checkHost, checkOrigin, newToken, TokenCheck } from './auth';
import { checkDeclaredLength, checkJsonContentType, DEFAULT_BODY_LIMIT, parseJsonBody, readBody } from './body';
import { ApiError } from './errors';
import { GoalSessions } from './goals';
import { TriggerMetrics } from './metrics';
import { matchRoute } from './routes';
import type { ApiContext, ApiReply, ApiRequest } from './types';

export interface ApiServerOptions {
	engine: Engine;
	dispatcher: Dispatcher;
	/** The broker the engine was created with (its prompter), so API answers reach the runs. */
	broker: DecisionBroker;
	/** Default 0: a free port chosen by the system. */
	port?: number;
	/** The bearer token (e.g. kept by the extension in SecretStorage); default: 256 fresh random bits. */
	token?: string;
	/** Largest request body in bytes (default 1 MiB). */
	bodyLimit?: number;
	/** Where { port, token } is written (mode 0600); default <stateDir>/api.json; null: not written. */
	apiFile?: string | null;
	/** The body of GET /metrics; default: the dispatcher's, the broker's and the server's own figures. */
	metricsText?: () => string | Promise<string>;
	/** More Prometheus text after the default body (the telemetry store's per run/step/handler/agent figures). */
	moreMetrics?: () => string | Promise<string>;
	/** Counts runs from the moment it was made; default: one made here (make it with the dispatcher to count all). */
	metrics?: TriggerMetrics;
	logger?: Logger;
	/** For POST /v1/goals: the planner's model (default: the offline planner), the agents it may assign. */
	llm?: LlmClient;
	agents?: () => readonly AgentInfo[];
	/** `$schema` written into saved plans. */
	planSchema?: string;
	now?: () => number;
}

export class ApiServer {
	readonly port: number;
	readonly url: string;
	/** Where { port, token } was written, if anywhere. */
	readonly apiFile: string | undefined;
	readonly goals: GoalSessions;
	private accepting = true;
	private closing: Promise<void> | undefined;
	private readonly sockets = new Set<Socket>();
	private readonly ctx: ApiContext;
	private readonly tokenCheck: TokenCheck;
	private readonly bodyLimit: number;
	private readonly logger: Logger;
	private readonly metrics: TriggerMetrics;
	private readonly ownMetrics: boolean;

	private constructor(
		private readonly server: Server,
		opts: ApiServerOptions,
		readonly token: string,
		startedAt: number,
	) {
		this.port = (server.address() as AddressInfo).port;
		this.url = `http://127.0.0.1:${this.port}`;
		this.apiFile = opts.apiFile === null ? undefined : (opts.apiFile ?? path.join(opts.engine.stateDir, API_FILE));
		this.tokenCheck = new TokenCheck(token);
		this.bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
		this.logger = opts.logger ?? nullLogger;
		const now = opts.now ?? Date.now;
		this.ownMetrics = opts.metrics === undefined;
		this.metrics = opts.metrics ?? new TriggerMetrics(opts.dispatcher, opts.broker, startedAt, now);
		this.goals = new GoalSessions({ engine: opts.engine, broker: opts.broker, llm: opts.llm, agents: opts.agents, planSchema: opts.planSchema, now });
		this.ctx = {
			engine: opts.engine,
			dispatcher: opts.dispatcher,
			broker: opts.broker,
			goals: this.goals,
			metrics: async () => (opts.metricsText ? opts.metricsText() : `${this.metrics.text({ goalsActive: this.goals.active })}${(await opts.moreMetrics?.()) ?? ''}`),
			accepting: () => this.accepting,
			startedAt,
			now,
		};
	}

	/** Listens on 127.0.0.1 and writes api.json; rejects saying why (a port in use, a bad token) and leaves nothing open. */
	static async start(opts: ApiServerOptions): Promise<ApiServer> {
		if (opts.token !== undefined) checkGivenToken(opts.token);
		const token = opts.token ?? newToken();
		const server = createServer({ requestTimeout: 60_000, headersTimeout: 15_000 });
		await new Promise<void>((resolve, reject) => {
			server.once('error', (err: NodeJS.ErrnoException) =>
				reject(
					new Error(
						err.code === 'EADDRINUSE'
							? `port ${opts.port} on 127.0.0.1 is in use: pick another (--port N), or 0 for a free one`
							: `the API cannot listen on 127.0.0.1:${opts.port ?? 0}: ${err.message}`,
					),
				),
			);
			server.listen({ host: '127.0.0.1', port: opts.port ?? 0, backlog: 2048 }, resolve);
		});
		const api = new ApiServer(server, opts, token, (opts.now ?? Date.now)());
		server.on('connection', (s: Socket) => {
			api.sockets.add(s);
			s.once('close', () => api.sockets.delete(s));
		});
		server.on('request', (req: IncomingMessage, res: ServerResponse) => void api.handle(req, res));
		if (api.apiFile) {
			try {
				await writeApiFile(api.apiFile, { port: api.port, token });
			} catch (err) {
				await new Promise((r) => server.close(r));
				throw err;
			}
		}
		return api;
	}

	/** New runs and goals are turned away (503) from now on; everything else (decisions, status) still answers. */
	stopAccepting(): void {
		this.accepting = false;
	}

	/** Stops listening, ends connections, cancels goal sessions still going and removes api.json (if it is ours). */
	close(): Promise<void> {
		this.closing ??= (async () => {
			this.accepting = false;
			const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
			this.server.closeIdleConnections();
			await this.goals.cancelAll('the API server stopped');
			for (const s of this.sockets) s.destroy();
			await closed;
			if (this.ownMetrics) this.metrics.dispose();
			if (this.apiFile) await removeApiFile(this.apiFile, this.token);
		})();
		return this.closing;
	}

	/** For an exit that cannot wait: removes api.json at once. */
	removeApiFileNow(): void {
		if (this.apiFile) removeApiFileSync(this.apiFile, this.token);
	}

	private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
		const started = Date.now();
		let label = '(unknown route)';
		try {
			checkHost(req.headers.host, this.port);
			checkOrigin(req.headers);
			this.tokenCheck.verify(req.headers);
			const target = req.url ?? '';
			const q = target.indexOf('?');
			const pathname = q >= 0 ? target.slice(0, q) : target;
			const found = matchRoute(req.method ?? '', pathname);
			if (!found) throw new ApiError(404, 'not-found', `no route ${req.method} ${JSON.stringify(pathname.slice(0, 200))}: see schemas/openapi.json for the routes`);
			if ('allow' in found) {
				throw new ApiError(405, 'method-not-allowed', `${pathname.slice(0, 200)} takes ${found.allow.join(', ')}, not ${req.method}`, {}, { Allow: found.allow.join(', ') });
			}
			const { route, params } = found;
			label = `${route.method} ${route.path}`;
			checkDeclaredLength(req, this.bodyLimit);
			const request: ApiRequest = { params, query: new URLSearchParams(q >= 0 ? target.slice(q + 1) : ''), headers: req.headers };
			if (route.body) {
				checkJsonContentType(req);
				request.body = parseJsonBody(await readBody(req, this.bodyLimit));
			} else if (hasBody(req)) {
				await readBody(req, this.bodyLimit); // read and ignored, but never more than the limit
			}
			if (route.newWork && !this.accepting) throw new ApiError(503, 'shutting-down', 'the orchestrator is shutting down and takes no new runs or goals');
			this.send(res, await route.handle(this.ctx, request), label, started);
		} catch (err) {
			const e = toApiError(err);
			if (e.status >= 500) this.logger.log('error', 'api', `${label}: ${e.message}`);
			this.send(res, { status: e.status, json: e.toJSON(), headers: e.headers }, label, started);
			if (e.code === 'payload-too-large') closeSoon(req);
		}
	}

	private send(res: ServerResponse, reply: ApiReply, label: string, started: number): void {
		const body = reply.text ?? `${JSON.stringify(reply.json ?? null)}\n`;
		const headers: Record<string, string | number> = {
			'Content-Type': reply.text !== undefined ? (reply.contentType ?? 'text/plain; charset=utf-8') : 'application/json; charset=utf-8',
			'Content-Length': Buffer.byteLength(body),
			'Cache-Control': 'no-store',
			'X-Content-Type-Options': 'nosniff',
			...reply.headers,
		};
		if (!res.headersSent) res.writeHead(reply.status, headers);
		res.end(body);
		this.metrics.countRequest(reply.status);
		// Only the route's template is logged: never headers, the query or ids a client may have put the token in.
		this.logger.log(reply.status >= 500 ? 'error' : 'debug', 'api', `${label} → ${reply.status} (${Date.now() - started} ms)`);
	}
}

function hasBody(req: IncomingMessage): boolean {
	return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** After a 413 the rest of the body is discarded, not read into memory; a client still sending after a second is cut off. */
function closeSoon(req: IncomingMessage): void {
	req.resume();
	setTimeout(() => req.socket.destroy(), 1000).unref();
}

function toApiError(err: unknown): ApiError {
	if (ApiError.is(err)) return err;
	if (err instanceof URIError) return new ApiError(400, 'bad-request', 'the path holds a malformed %-escape');
	if (StateError.is(err, 'not-found')) return new ApiError(404, 'not-found', err.describe());
	if (StateError.is(err, 'locked') || StateError.is(err, 'conflict')) return new ApiError(409, 'conflict', err.describe());
	if (WorkflowError.is(err) || SandboxError.is(err)) return new ApiError(422, 'invalid-request', err.describe());
	return new ApiError(500, 'internal', describeError(err));
}
