// What every `llm` operation shares: the endpoint check, the model for a role, one model call (streamed to the
// step's output, its tokens recorded) or a structured one, and how a failed request becomes a StepError.
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { StepError } from '../errors';
import { fsFailure } from './file';
import { errnoCode } from './shared';
import type { LlmClient, LlmRequest, LlmResponse } from '../services/llm/client';
import { completeStructured, type StructuredResult } from '../services/llm/structured';
import type { StepContext } from './types';

/**
 * The role whose model (QO_LLM_ROLE_MODELS, the extension's per-role setting) an operation uses when the step names
 * none: review → reviewer, fix → coder, document → writer, chat → chat. generate uses the default model.
 */
export type LlmRole = 'reviewer' | 'coder' | 'writer' | 'chat';

/** Bigger inputs are refused before anything is sent: a model cannot take megabytes, and the bill would be large. */
export const DEFAULT_MAX_BYTES = 100_000;

/** `model` for an operation that uses a role's model. */
export const modelParam = (role: LlmRole) =>
	z.string().min(1).optional().describe(`Model name (default: the model configured for the ${role} role, else the default model).`);
export const systemParam = z.string().optional().describe('System message: the role and rules the model follows (added to the operation\'s own).');
export const maxTokensParam = z.number().int().min(1).max(1_000_000).optional().describe('Upper bound on generated tokens per answer.');
export const temperatureParam = z.number().min(0).max(2).optional().describe('Sampling temperature (0: most deterministic).');
export const maxBytesParam = z
	.number()
	.int()
	.min(1)
	.max(10_000_000)
	.optional()
	.describe(`Refuse inputs larger than this many bytes before asking the model (default ${DEFAULT_MAX_BYTES}).`);

export function requireLlm(ctx: StepContext): LlmClient {
	if (ctx.llm) return ctx.llm;
	throw new StepError(
		'failed',
		'no LLM endpoint is configured: set QO_LLM_BASE_URL (or OPENAI_BASE_URL), QO_LLM_MODEL and OPENAI_API_KEY in the environment',
		{ permanent: true },
	);
}

/** The step's `model`, else the model configured for the role, else the client's default. */
export function modelFor(llm: LlmClient, model: string | undefined, role: LlmRole | undefined): string {
	return model ?? (role ? llm.modelFor?.(role) : undefined) ?? llm.model;
}

/**
 * A failed request as a step error; structured-answer failures (already StepErrors) and cancellation pass unchanged.
 * 4xx other than 408/409/429 will not get better by retrying the step; the rest may.
 */
export function requestFailure(err: unknown, signal: AbortSignal): unknown {
	if (signal.aborted || StepError.is(err)) return err;
	const status = (err as { status?: number }).status;
	const message = err instanceof Error ? err.message : String(err);
	const permanent = status !== undefined && status >= 400 && status < 500 && ![408, 409, 429].includes(status);
	return new StepError('failed', `the LLM request failed${status ? ` (HTTP ${status})` : ''}: ${message}`, { permanent });
}

function recorder(ctx: StepContext): (response: LlmResponse) => void {
	return (response) => {
		ctx.recordUsage(response.model, response.usage);
		ctx.logger.log('info', 'llm', `${ctx.step.id}: ${response.model}, ${response.usage.promptTokens} prompt + ${response.usage.completionTokens} completion tokens`);
	};
}

/** One answer, streamed to the step's output, its tokens counted against the step. */
export async function askModel(ctx: StepContext, request: LlmRequest, role?: LlmRole): Promise<LlmResponse> {
	const llm = requireLlm(ctx);
	let response: LlmResponse;
	try {
		response = await llm.complete({ ...request, model: modelFor(llm, request.model, role) }, ctx.signal, (text) => ctx.output('stdout', text));
	} catch (err) {
		throw requestFailure(err, ctx.signal);
	}
	recorder(ctx)(response);
	return response;
}

/**
 * A JSON answer validated by `schema` and `check` (invalid ones are sent back with the problem, then the step fails
 * permanently naming it); every response is streamed and counted, including the invalid ones.
 */
export async function askStructured<T>(
	ctx: StepContext,
	request: LlmRequest,
	schema: z.ZodType<T>,
	opts: { role: LlmRole; label: string; attempts?: number },
	check?: (value: T) => string | undefined,
): Promise<StructuredResult<T>> {
	const llm = requireLlm(ctx);
	try {
		return await completeStructured(
			llm,
			{ ...request, model: modelFor(llm, request.model, opts.role) },
			schema,
			{ signal: ctx.signal, attempts: opts.attempts, label: opts.label, onText: (text) => ctx.output('stdout', text), onResponse: recorder(ctx) },
			check,
		);
	} catch (err) {
		throw requestFailure(err, ctx.signal);
	}
}

/** A read of a file that is not there (WorkspaceFs reports it as StepError 'not-found'). */
export function isMissing(err: unknown): boolean {
	return errnoCode(err) === 'ENOENT' || StepError.is(err, 'not-found');
}

/**
 * Workspace text files for the model, read through ctx.fs; refused when together they exceed `maxBytes` (checked
 * before reading), when binary, or when a path is missing (unless `missingOk`, which gives null).
 */
export async function readSources(
	ctx: StepContext,
	paths: readonly string[],
	maxBytes: number,
	opts: { missingOk?: boolean } = {},
): Promise<Map<string, string | null>> {
	let total = 0;
	for (const rel of paths) {
		const abs = await ctx.sandbox.resolveRead(rel);
		try {
			const st = await stat(abs);
			if (st.isDirectory()) throw new StepError('failed', `${rel} is a directory: name the files`, { permanent: true });
			total += st.size;
		} catch (err) {
			if (opts.missingOk && isMissing(err)) continue;
			throw fsFailure(err, rel, 'read');
		}
	}
	if (total > maxBytes) {
		const what = paths.length === 1 ? `${paths[0]} is` : `${paths.join(', ')} are`;
		throw new StepError('failed', `${what} ${total} bytes, more than max_bytes (${maxBytes}) allows to send to the model; raise max_bytes or send less`, {
			permanent: true,
		});
	}
	const out = new Map<string, string | null>();
	for (const rel of paths) {
		let data: Buffer;
		try {
			data = await ctx.fs.readFile(rel);
		} catch (err) {
			if (opts.missingOk && isMissing(err)) {
				out.set(rel, null);
				continue;
			}
			throw fsFailure(err, rel, 'read');
		}
		if (data.includes(0)) throw new StepError('failed', `${rel} is binary: the model is only sent text files`, { permanent: true });
		out.set(rel, data.toString('utf8'));
	}
	return out;
}

/** The text inside one fence around a whole answer (```markdown … ```), else the answer as it is. */
export function unfence(text: string): string {
	const m = /^\s*```[\w-]*[ \t]*\r?\n([\s\S]*?)\r?\n```\s*$/.exec(text);
	return m ? `${m[1]}\n` : text;
}
