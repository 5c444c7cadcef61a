// schemas/openapi.json, generated from the route table and the zod bodies (npm run schemas; a test checks it).
import { z } from 'zod';
import { API_ROUTES } from './routes';
import { API_SCHEMAS } from './schemas';
import type { Route } from './types';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const ERRORS: Record<number, string> = {
	400: 'Malformed JSON (with its line and column), a bad query parameter or header.',
	401: 'Missing or wrong bearer token (WWW-Authenticate: Bearer).',
	403: 'The Host header is not a loopback name with this port (DNS rebinding), or the request carries an Origin header (a web page).',
	404: 'No such route, or no such run, goal or decision.',
	405: 'The path takes other methods (see Allow).',
	409: 'Refused (steps need approval, the queue is full), skipped by the concurrency policy, or in conflict with the state.',
	413: 'The body is larger than the limit (1 MiB by default); the connection is closed.',
	415: 'The body is not application/json.',
	422: 'The body is JSON but not valid: every problem, located in the body.',
	500: 'An unexpected failure, said in words.',
	503: 'The server is shutting down and takes no new runs or goals.',
};

function toJson(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
	const out = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonObject;
	delete out.$schema;
	return out;
}

const ref = (name: string): JsonObject => ({ $ref: `#/components/schemas/${name}` });

function operation(route: Route): JsonObject {
	const parameters: Json[] = [];
	for (const m of route.path.matchAll(/\{(\w+)\}/g)) {
		const resource = route.path.split('/')[2]?.replace(/s$/, '') ?? 'resource';
		parameters.push({ name: m[1], in: 'path', required: true, description: `The ${resource} id (exact).`, schema: { type: 'string' } });
	}
	for (const q of route.query ?? []) parameters.push({ name: q.name, in: 'query', required: false, description: q.description, schema: q.schema as JsonObject });
	for (const h of route.headers ?? []) parameters.push({ name: h.name, in: 'header', required: false, description: h.description, schema: { type: 'string' } });
	const responses: JsonObject = {};
	for (const [status, r] of Object.entries(route.responses)) {
		responses[status] = { description: r.description, content: r.text ? { [r.text]: { schema: { type: 'string' } } } : { 'application/json': { schema: ref(r.schema ?? 'Error') } } };
	}
	const errors = new Set([401, 403, 404, 405, 500, ...(route.body || route.method === 'POST' ? [413] : []), ...(route.body ? [400, 415] : []), ...(route.errors ?? [])]);
	for (const status of [...errors].sort((a, b) => a - b)) responses[String(status)] = { $ref: `#/components/responses/E${status}` };
	const op: JsonObject = { operationId: route.operationId, summary: route.summary };
	if (route.description) op.description = route.description;
	if (parameters.length) op.parameters = parameters;
	if (route.body) {
		const schema: JsonObject = route.body.orWorkflow ? { oneOf: [{ $ref: 'workflow.schema.json' }, ref(route.body.schema)] } : ref(route.body.schema);
		op.requestBody = { required: true, content: { 'application/json': { schema } } };
	}
	op.responses = sortKeys(responses);
	return op;
}

/** The OpenAPI 3.1 document of the routes; deterministic, so a test can compare it with the committed file. */
export function openApiDocument(routes: readonly Route[] = API_ROUTES, version = '1'): JsonObject {
	const paths: JsonObject = {};
	for (const route of routes) {
		const item = (paths[route.path] ?? {}) as JsonObject;
		item[route.method.toLowerCase()] = operation(route);
		paths[route.path] = item;
	}
	const schemas: JsonObject = {};
	const requests = new Set(routes.map((r) => r.body?.schema).filter(Boolean));
	for (const [name, schema] of Object.entries(API_SCHEMAS)) schemas[name] = toJson(schema, requests.has(name as never) ? 'input' : 'output');
	// The envelope's workflow is a workflow file's content: say so with the workflow schema rather than "any object".
	const envelope = schemas.RunEnvelope as { properties: JsonObject };
	envelope.properties.workflow = { $ref: 'workflow.schema.json', description: (envelope.properties.workflow as JsonObject).description ?? null };
	const responses: JsonObject = {};
	for (const [status, description] of Object.entries(ERRORS)) {
		responses[`E${status}`] = { description, content: { 'application/json': { schema: ref('Error') } } };
	}
	return {
		openapi: '3.1.0',
		info: {
			title: 'Quantum Orchestrator local API',
			version,
			description:
				'Served by `qo serve` (and the extension) on 127.0.0.1 only. The port and the bearer token are in .quantum/api.json (owner-only). Requests must carry Authorization: Bearer <token>, a loopback Host header with the port, and no Origin header; bodies are application/json, at most 1 MiB. Errors are { "error": { "code", "message" } }.',
		},
		servers: [{ url: 'http://127.0.0.1:{port}', variables: { port: { default: '8080', description: 'The port in .quantum/api.json.' } } }],
		security: [{ bearer: [] }],
		paths,
		components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'The token in .quantum/api.json.' } }, schemas: sortKeys(schemas), responses },
	};
}

function sortKeys(obj: JsonObject): JsonObject {
	const out: JsonObject = {};
	for (const key of Object.keys(obj).sort()) out[key] = obj[key];
	return out;
}
