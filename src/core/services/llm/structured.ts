// Structured answers: the model is asked for JSON matching a zod schema; an invalid answer is sent back with what
// was wrong, a bounded number of times, then the call fails saying what the last answer got wrong.
import { z } from 'zod';
import { StepError } from '../../errors';
import type { LlmClient, LlmMessage, LlmRequest, LlmResponse, LlmUsage } from './client';
import { requestMessages } from './messages';

export interface StructuredOptions {
	signal: AbortSignal;
	/** Answers tried in all (the first and the corrections); default 3. */
	attempts?: number;
	onText?: (text: string) => void;
	/** Each response as it arrives, for token and cost accounting. */
	onResponse?: (response: LlmResponse) => void;
	/** What the answer is, for messages ("plan", "review findings"). */
	label?: string;
}

export interface StructuredResult<T> {
	value: T;
	text: string;
	model: string;
	usage: LlmUsage;
	attempts: number;
}

/** The JSON in a model's answer: the whole text, a fenced ```json block, or the outermost object/array in it. */
export function extractJson(text: string): unknown {
	const trimmed = text.trim();
	const fenced = /```(?:json)?\s*\n([\s\S]*?)\n?```/.exec(trimmed);
	const candidates = [trimmed, fenced?.[1]];
	const open = trimmed.search(/[[{]/);
	if (open >= 0) {
		const close = trimmed.lastIndexOf(trimmed[open] === '{' ? '}' : ']');
		if (close > open) candidates.push(trimmed.slice(open, close + 1));
	}
	let firstError: unknown;
	for (const c of candidates) {
		if (c === undefined) continue;
		try {
			return JSON.parse(c);
		} catch (err) {
			firstError ??= err;
		}
	}
	throw new SyntaxError(`not JSON (${firstError instanceof Error ? firstError.message : 'no JSON found'})`);
}

/** One line per problem: "steps[2].id: expected string". */
export function describeIssues(error: z.ZodError, limit = 8): string {
	const lines = error.issues.slice(0, limit).map((i) => `${i.path.length ? formatPath(i.path) : '(root)'}: ${i.message}`);
	if (error.issues.length > limit) lines.push(`… and ${error.issues.length - limit} more`);
	return lines.join('; ');
}

function formatPath(path: PropertyKey[]): string {
	return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

/** The schema as the model is shown it. */
export function schemaForPrompt(schema: z.ZodType): string {
	try {
		const json = z.toJSONSchema(schema, { unrepresentable: 'any' }) as Record<string, unknown>;
		delete json.$schema;
		return JSON.stringify(json);
	} catch {
		return '(a JSON object)';
	}
}

/**
 * Asks for JSON matching `schema`; each invalid answer (not JSON, or failing the schema, or `check`) is answered
 * with the problem and asked again. Throws a StepError naming the last problem when no attempt was valid.
 */
export async function completeStructured<T>(
	llm: LlmClient,
	request: LlmRequest,
	schema: z.ZodType<T>,
	opts: StructuredOptions,
	check?: (value: T) => string | undefined,
): Promise<StructuredResult<T>> {
	const attempts = Math.max(1, opts.attempts ?? 3);
	const label = opts.label ?? 'answer';
	const instructions = `Reply with only a JSON value (no prose, no code fences) that matches this JSON Schema:\n${schemaForPrompt(schema)}`;
	const messages: LlmMessage[] = requestMessages({ ...request, system: request.system ? `${request.system}\n\n${instructions}` : instructions });
	const usage: LlmUsage = { promptTokens: 0, completionTokens: 0 };
	let problem = '';
	for (let attempt = 1; attempt <= attempts; attempt++) {
		const response = await llm.complete({ ...request, prompt: undefined, system: undefined, messages, json: true }, opts.signal, opts.onText);
		opts.onResponse?.(response);
		usage.promptTokens += response.usage.promptTokens;
		usage.completionTokens += response.usage.completionTokens;
		problem = '';
		let value: T | undefined;
		try {
			const parsed = schema.safeParse(extractJson(response.text));
			if (parsed.success) value = parsed.data;
			else problem = describeIssues(parsed.error);
		} catch (err) {
			problem = err instanceof Error ? err.message : String(err);
		}
		if (value !== undefined && !problem) problem = check?.(value) ?? '';
		if (value !== undefined && !problem) return { value, text: response.text, model: response.model, usage, attempts: attempt };
		messages.push({ role: 'assistant', content: response.text });
		messages.push({ role: 'user', content: `That ${label} is invalid: ${problem}. Reply again with only the corrected JSON.` });
	}
	throw new StepError('failed', `the model gave no valid ${label} in ${attempts} ${attempts === 1 ? 'try' : 'tries'}; the last one: ${problem}`, {
		permanent: true,
	});
}
