// The route table's shapes: what a handler is given (the services, the request) and what it answers.
import type { IncomingHttpHeaders } from 'node:http';
import type { z } from 'zod';
import type { Engine } from '../../engine';
import type { DecisionBroker } from '../triggers/decisionBroker';
import type { Dispatcher } from '../triggers/dispatcher';
import type { JsonBody } from './body';
import type { GoalSessions } from './goals';
import type { API_SCHEMAS } from './schemas';

export interface ApiContext {
	engine: Engine;
	dispatcher: Dispatcher;
	broker: DecisionBroker;
	goals: GoalSessions;
	/** The body of GET /metrics (Prometheus text format 0.0.4). */
	metrics(): Promise<string>;
	/** False once the server shuts down: new runs and goals are turned away (503), the rest still answers. */
	accepting(): boolean;
	startedAt: number;
	now(): number;
}

export interface ApiRequest {
	/** Path parameters, decoded. */
	params: Record<string, string>;
	query: URLSearchParams;
	headers: IncomingHttpHeaders;
	/** Present on routes that take a JSON body. */
	body?: JsonBody;
}

export interface ApiReply {
	status: number;
	/** Sent as JSON… */
	json?: unknown;
	/** …or as text with this content type. */
	text?: string;
	contentType?: string;
	headers?: Record<string, string>;
}

export type SchemaName = keyof typeof API_SCHEMAS;

export interface RouteResponse {
	description: string;
	/** A schema of components.schemas (JSON), or a text body's content type. */
	schema?: SchemaName;
	text?: string;
}

export interface Route {
	method: 'GET' | 'POST';
	/** OpenAPI-style path: /v1/runs/{id}. */
	path: string;
	operationId: string;
	summary: string;
	description?: string;
	/** A JSON body: its schema (validated by the handler, documented from here); none for routes that take no body. */
	body?: { schema: SchemaName; description?: string; /** The body may also be a workflow or instruction itself (schemas/workflow.schema.json). */ orWorkflow?: boolean };
	query?: { name: string; description: string; schema: Record<string, unknown> }[];
	headers?: { name: string; description: string }[];
	/** Success responses; the error responses every route can give are added to the document by openapi.ts. */
	responses: Record<number, RouteResponse>;
	/** Error statuses this route gives beyond the common ones (401, 403, 404, 405, 500; 400, 413, 415 with a body). */
	errors?: number[];
	/** Turned away with 503 while the server shuts down. */
	newWork?: boolean;
	handle(ctx: ApiContext, req: ApiRequest): Promise<ApiReply>;
}

export type ZodOf<N extends SchemaName> = z.infer<(typeof API_SCHEMAS)[N]>;
