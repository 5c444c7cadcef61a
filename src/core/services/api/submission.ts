// POST /v1/runs's body: a workflow or single instruction as it is, or `{ "workflow": {...}, ...options }` (a body
// with a "workflow" member is the envelope — a workflow file never has one). Problems are located in the body as sent.
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Engine } from '../../engine';
import { WorkflowError } from '../../errors';
import { LineIndex, locatePaths } from '../../workflow/jsonLocation';
import type { Workflow } from '../../workflow/schema';
import { isObject } from '../../workflow/problems';
import type { ConcurrencyPolicy } from '../triggers/dispatcher';
import type { JsonBody } from './body';
import { ApiError } from './errors';
import { runEnvelopeSchema } from './schemas';
import { problemsMessage, validateBody, type Problem } from './validate';

export interface ParsedSubmission {
	workflow: Workflow;
	idempotencyKey: string;
	variables?: Record<string, unknown>;
	waitForDecisions: boolean;
	group?: string | null;
	policy?: ConcurrencyPolicy;
	origin?: string;
}

/**
 * The key that makes a resubmission a duplicate: the Idempotency-Key header, else the sha256 of the body's bytes
 * (so sending the same body again never starts a second run). Prefixed, so an API key never matches another
 * source's (the inbox also keys by content hash).
 */
export function idempotencyKeyOf(headers: IncomingHttpHeaders, bytes: Buffer): string {
	const header = headers['idempotency-key'];
	if (header === undefined) return `api:sha256:${createHash('sha256').update(bytes).digest('hex')}`;
	const key = String(header).trim();
	if (!/^[\x21-\x7e]([\x20-\x7e]{0,198}[\x21-\x7e])?$/.test(key)) {
		throw new ApiError(400, 'bad-request', 'Idempotency-Key must be 1 to 200 printable ASCII characters');
	}
	return `api:key:${key}`;
}

export function parseSubmission(engine: Engine, headers: IncomingHttpHeaders, body: JsonBody): ParsedSubmission {
	const idempotencyKey = idempotencyKeyOf(headers, body.bytes);
	if (!isObject(body.value)) throw new ApiError(422, 'invalid-request', 'the body must be a JSON object: a workflow, an instruction, or { "workflow": {...}, ...options }', { problems: [{ message: 'expected a JSON object', line: 1, column: 1 }] });
	if (!Object.hasOwn(body.value, 'workflow')) return { workflow: parseWorkflow(engine, body.text, 0, ''), idempotencyKey, waitForDecisions: false };
	const env = validateBody(runEnvelopeSchema, body);
	const start = locatePaths(body.text, [{ keys: ['workflow'] }])[0];
	const text = body.text.slice(start, valueEnd(body.text, start));
	return {
		workflow: parseWorkflow(engine, text, start, 'workflow', env.variables, body.text),
		idempotencyKey,
		...(env.variables ? { variables: env.variables } : {}),
		waitForDecisions: env.wait_for_decisions ?? false,
		...(env.concurrency_group !== undefined ? { group: env.concurrency_group } : {}),
		...(env.policy ? { policy: env.policy } : {}),
		...(env.origin ? { origin: env.origin } : {}),
	};
}

/** Parses `text` (found at `offset` of the whole body) and reports problems at their place in the whole body. */
function parseWorkflow(engine: Engine, text: string, offset: number, prefix: string, variables?: Record<string, unknown>, whole = text): Workflow {
	try {
		return engine.parse(text, undefined, variables ? { variables } : undefined);
	} catch (err) {
		if (!WorkflowError.is(err)) throw err;
		const origin = new LineIndex(whole).at(offset);
		const problems: Problem[] = (err.problems.length ? err.problems : [err]).map((p) => {
			const { line, column, path } = p.location;
			const at = line === undefined ? {} : { line: origin.line + line - 1, column: line === 1 ? origin.column + (column ?? 1) - 1 : (column ?? 1) };
			const where = [prefix, path].filter(Boolean).join(path?.startsWith('[') ? '' : '.');
			return { message: p.message, code: p.code, ...(where ? { path: where } : {}), ...at };
		});
		throw new ApiError(422, 'invalid-workflow', problemsMessage('the workflow is not valid', problems), { problems });
	}
}

/** Where the JSON value starting at `start` of valid JSON text ends (exclusive). */
function valueEnd(text: string, start: number): number {
	let depth = 0;
	for (let i = start; i < text.length; i++) {
		const c = text[i];
		if (c === '"') {
			for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
			if (depth === 0) return i + 1;
		} else if (c === '{' || c === '[') depth++;
		else if (c === '}' || c === ']') {
			if (--depth === 0) return i + 1;
		}
	}
	return text.length;
}
