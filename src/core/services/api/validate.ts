// A JSON body checked against its zod schema: every problem named by its JSON path and its line and column.
import type { z } from 'zod';
import { LineIndex, locatePaths, type PathKey } from '../../workflow/jsonLocation';
import { formatKeys } from '../../workflow/substitute';
import type { JsonBody } from './body';
import { ApiError } from './errors';

export interface Problem {
	message: string;
	code?: string;
	path?: string;
	line?: number;
	column?: number;
}

/** Line and column of the value at `keys` in the body's text (its nearest existing parent when it is missing). */
export function locate(text: string, keys: readonly PathKey[]): { line: number; column: number } | undefined {
	const [offset] = locatePaths(text, [{ keys }]);
	return offset >= 0 ? new LineIndex(text).at(offset) : undefined;
}

export function problemsMessage(what: string, problems: readonly Problem[]): string {
	const where = (p: Problem) => [p.line ? `line ${p.line}, column ${p.column}` : '', p.path ?? ''].filter(Boolean).join(' ');
	const first = problems[0];
	const text = first ? `${where(first) ? `${where(first)}: ` : ''}${first.message}` : 'unknown problem';
	return `${what}: ${text}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`;
}

/** The body parsed by `schema`, or 422 listing every problem. */
export function validateBody<S extends z.ZodType>(schema: S, body: JsonBody | undefined, what = 'the request body is not valid'): z.infer<S> {
	if (!body) throw new ApiError(400, 'bad-request', 'this route needs a JSON body');
	const r = schema.safeParse(body.value);
	if (r.success) return r.data;
	const problems: Problem[] = r.error.issues.map((issue) => {
		const keys = issue.path.filter((k): k is PathKey => typeof k !== 'symbol');
		const at = locate(body.text, keys);
		return { message: issue.message, code: issue.code, ...(keys.length ? { path: formatKeys(keys) } : {}), ...(at ?? {}) };
	});
	throw new ApiError(422, 'invalid-request', problemsMessage(what, problems), { problems });
}

/** `?limit=` as a whole number in [1, max], default `fallback`; 400 otherwise. */
export function limitParam(query: URLSearchParams, fallback: number, max: number): number {
	const raw = query.get('limit');
	if (raw === null) return fallback;
	const n = Number(raw);
	if (!Number.isInteger(n) || n < 1 || n > max) throw new ApiError(400, 'bad-request', `limit must be a whole number from 1 to ${max}, got ${JSON.stringify(raw.slice(0, 40))}`);
	return n;
}
