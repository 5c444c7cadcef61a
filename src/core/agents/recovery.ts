// Recovery: classify a failure, then retry (full jitter, 30 s cap, Retry-After), fall back to another capable agent,
// compensate (roll back the step's journal) or escalate with at most three actions. Randomness and clock are injected.
import { SandboxError, StateError, StepError, WorkflowError, AgentError } from '../errors';
import type { AllocationCandidate } from './allocation';

export type ErrorClass = 'network' | 'rate_limit' | 'resource' | 'validation' | 'security' | 'unknown';

export interface Classification {
	class: ErrorClass;
	/** Retrying the same thing may work. Never true for validation and security errors. */
	retryable: boolean;
	/** The step was cancelled: not a failure to recover from. */
	cancelled: boolean;
	/** Why this class, in a few words ("HTTP 429", "ECONNRESET", "sandbox: outside"). */
	reason: string;
	/** The server's Retry-After, in ms. */
	retryAfterMs?: number;
	status?: number;
	code?: string;
}

export interface SuggestedAction {
	/** Stable id a host maps to a command: retry, retry-later, fallback, rollback, skip, edit-parameters, … */
	id: string;
	label: string;
}

export type RecoveryStrategy =
	| { kind: 'retry'; delayMs: number; attempt: number; reason: string }
	| { kind: 'fallback'; agent: string; reason: string }
	/** Roll back this step's journal, then escalate with the decision's actions. */
	| { kind: 'compensate'; reason: string }
	| { kind: 'escalate'; reason: string }
	| { kind: 'stop'; reason: string };

export interface RecoveryDecision {
	classification: Classification;
	strategy: RecoveryStrategy;
	/** At most three, for the escalation that follows a compensate or an escalate (empty otherwise). */
	actions: SuggestedAction[];
}

export interface RecoveryContext {
	/** Attempts made so far, the failed one included (1 after the first failure). */
	attempt: number;
	/** Total attempts allowed on the same agent (default 3). */
	maxAttempts?: number;
	/** The agent that failed (agent steps only). */
	agent?: string;
	/** The allocation's candidates, for a fallback. */
	candidates?: readonly AllocationCandidate[];
	/** Agents already tried for this task (the failed one is added automatically). */
	tried?: readonly string[];
	/** The step changed the workspace (its journal has entries), so compensating undoes something. */
	hasEffects?: boolean;
	/** For jitter; default Math.random. */
	random?: () => number;
	/** For HTTP-date Retry-After; default Date.now. */
	now?: () => number;
	baseDelayMs?: number;
	maxDelayMs?: number;
}

export const DEFAULT_BASE_DELAY_MS = 1000;
export const MAX_RETRY_DELAY_MS = 30_000;
export const DEFAULT_MAX_ATTEMPTS = 3;

const NETWORK_CODES = new Set([
	'ECONNRESET',
	'ECONNREFUSED',
	'ECONNABORTED',
	'ETIMEDOUT',
	'ESOCKETTIMEDOUT',
	'ENOTFOUND',
	'EAI_AGAIN',
	'EPIPE',
	'ENETUNREACH',
	'ENETDOWN',
	'EHOSTUNREACH',
	'EHOSTDOWN',
	'UND_ERR_CONNECT_TIMEOUT',
	'UND_ERR_HEADERS_TIMEOUT',
	'UND_ERR_BODY_TIMEOUT',
	'UND_ERR_SOCKET',
	'UND_ERR_CLOSED',
]);
/** Resource shortages that pass by themselves (descriptors, memory, a busy file); a full disk does not. */
const TRANSIENT_RESOURCE_CODES = new Set(['EMFILE', 'ENFILE', 'ENOMEM', 'EAGAIN', 'EBUSY']);
const LASTING_RESOURCE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);
const PERMISSION_CODES = new Set(['EACCES', 'EPERM', 'EROFS']);
const NETWORK_ERROR_NAMES = new Set(['APIConnectionError', 'APIConnectionTimeoutError', 'FetchError', 'ConnectTimeoutError']);

/** Classifies any error: ours (StepError, WorkflowError, SandboxError, StateError, AgentError), Node's, HTTP clients'. */
export function classifyError(err: unknown, now: () => number = Date.now): Classification {
	const chain = causes(err);
	for (const e of chain) {
		const c = classifyOne(e, now);
		if (c) return c;
	}
	// A StepError 'failed' wrapping nothing we know: the llm handler words HTTP failures as "(HTTP 503)".
	for (const e of chain) {
		const m = e instanceof Error ? /\(HTTP (\d{3})\)/.exec(e.message) : null;
		if (m) return fromStatus(Number(m[1]), undefined, StepError.is(e) && e.permanent);
	}
	const first = chain[0];
	const permanent = StepError.is(first) && first.permanent;
	return { class: 'unknown', retryable: !permanent, cancelled: false, reason: first instanceof Error ? first.name : typeof first };
}

function classifyOne(e: unknown, now: () => number): Classification | undefined {
	const make = (cls: ErrorClass, retryable: boolean, reason: string, extra: Partial<Classification> = {}): Classification => ({
		class: cls,
		retryable: retryable && cls !== 'security' && cls !== 'validation',
		cancelled: false,
		reason,
		...extra,
	});
	if (isAbort(e)) return { ...make('unknown', false, 'cancelled'), cancelled: true };
	if (SandboxError.is(e)) return make('security', false, `sandbox: ${e.code}`);
	if (WorkflowError.is(e)) return e.code === 'io' ? make('unknown', true, 'workflow: io') : make('validation', false, `workflow: ${e.code}`);
	if (AgentError.is(e)) return make('validation', false, `agent: ${e.code}`);
	if (StateError.is(e)) {
		if (e.code === 'disk-full') return make('resource', false, 'state: disk-full');
		if (e.code === 'locked') return make('resource', true, 'state: locked');
		if (e.code === 'io') return undefined; // look at the cause, if any
		return make('unknown', false, `state: ${e.code}`);
	}
	if (StepError.is(e)) {
		switch (e.code) {
			case 'cancelled':
				return { ...make('unknown', false, 'cancelled'), cancelled: true };
			case 'rejected':
				return make('security', false, 'step: rejected by a person or the policy');
			case 'parameters':
			case 'not-found':
			case 'exists':
				return make('validation', false, `step: ${e.code}`);
			case 'disk-full':
				return make('resource', false, 'step: disk-full');
			case 'timeout':
				return make('resource', !e.permanent, 'step: timeout');
			default:
				return undefined; // failed, exit-code, io: the cause or the message may say more
		}
	}
	if (isZodError(e)) return make('validation', false, 'schema');
	const status = httpStatus(e);
	if (status !== undefined) return fromStatus(status, retryAfterMs(e, now));
	const code = errnoCode(e);
	if (code) {
		if (NETWORK_CODES.has(code)) return make('network', true, code, { code });
		if (TRANSIENT_RESOURCE_CODES.has(code)) return make('resource', true, code, { code });
		if (LASTING_RESOURCE_CODES.has(code)) return make('resource', false, code, { code });
		if (PERMISSION_CODES.has(code)) return make('security', false, `${code}: permission denied`, { code });
	}
	if (e instanceof Error && NETWORK_ERROR_NAMES.has(e.constructor?.name ?? e.name)) return make('network', true, e.constructor.name);
	if (e instanceof TypeError && e.message === 'fetch failed') return make('network', true, 'fetch failed');
	return undefined;
}

function fromStatus(status: number, retryAfter: number | undefined, permanent = false): Classification {
	const base = { cancelled: false, status, reason: `HTTP ${status}`, ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}) };
	if (status === 429) return { ...base, class: 'rate_limit', retryable: true };
	if (status === 401 || status === 403) return { ...base, class: 'security', retryable: false };
	if (status === 408 || status >= 500) return { ...base, class: 'network', retryable: !permanent };
	if (status === 409 || status === 425) return { ...base, class: 'unknown', retryable: !permanent };
	if (status >= 400) return { ...base, class: 'validation', retryable: false };
	return { ...base, class: 'unknown', retryable: !permanent };
}

/** The error and its causes (err.cause, AggregateError's first), at most 8 deep. */
function causes(err: unknown): unknown[] {
	const out: unknown[] = [];
	let e: unknown = err;
	while (e !== undefined && e !== null && out.length < 8 && !out.includes(e)) {
		out.push(e);
		const next: unknown = (e as { cause?: unknown }).cause;
		e = next ?? (e instanceof AggregateError ? e.errors[0] : undefined);
	}
	return out;
}

function isAbort(e: unknown): boolean {
	return e instanceof Error && (e.name === 'AbortError' || e.name === 'APIUserAbortError');
}

function isZodError(e: unknown): boolean {
	return e instanceof Error && (e.name === 'ZodError' || e.name === '$ZodError') && Array.isArray((e as { issues?: unknown }).issues);
}

function errnoCode(e: unknown): string | undefined {
	const code = (e as { code?: unknown } | null)?.code;
	return typeof code === 'string' ? code : undefined;
}

function httpStatus(e: unknown): number | undefined {
	const o = e as { status?: unknown; statusCode?: unknown; response?: { status?: unknown } } | null;
	const s = o?.status ?? o?.statusCode ?? o?.response?.status;
	return typeof s === 'number' && Number.isInteger(s) && s >= 100 && s <= 599 ? s : undefined;
}

/** Retry-After from an error's headers (a Headers object or a record), `retry-after-ms` first, or a `retryAfterMs` field. */
export function retryAfterMs(e: unknown, now: () => number = Date.now): number | undefined {
	const own = (e as { retryAfterMs?: unknown } | null)?.retryAfterMs;
	if (typeof own === 'number' && Number.isFinite(own) && own >= 0) return own;
	const headers = (e as { headers?: unknown } | null)?.headers ?? (e as { response?: { headers?: unknown } } | null)?.response?.headers;
	const get = (name: string): string | undefined => {
		if (!headers || typeof headers !== 'object') return undefined;
		if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
		const rec = headers as Record<string, unknown>;
		const key = Object.keys(rec).find((k) => k.toLowerCase() === name);
		const v = key !== undefined ? rec[key] : undefined;
		return typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined;
	};
	return parseRetryAfter(get('retry-after-ms'), true, now) ?? parseRetryAfter(get('retry-after'), false, now);
}

/** Seconds (or ms for `retry-after-ms`) or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, millis = false, now: () => number = Date.now): number | undefined {
	if (value === undefined) return undefined;
	const text = value.trim();
	if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * (millis ? 1 : 1000));
	const date = Date.parse(text);
	return Number.isNaN(date) ? undefined : Math.max(0, date - now());
}

/**
 * Delay before retry number `attempt` (1 = the first retry): full jitter, random in [0, min(cap, base × 2^(attempt−1))],
 * but never less than a Retry-After hint; always at most `maxDelayMs` (30 s).
 */
export function backoffDelayMs(
	attempt: number,
	opts: { baseDelayMs?: number; maxDelayMs?: number; retryAfterMs?: number; random?: () => number } = {},
): number {
	const cap = opts.maxDelayMs ?? MAX_RETRY_DELAY_MS;
	const ceiling = Math.min(cap, (opts.baseDelayMs ?? DEFAULT_BASE_DELAY_MS) * 2 ** Math.max(0, attempt - 1));
	const r = Math.min(1, Math.max(0, (opts.random ?? Math.random)()));
	const jittered = Math.round(r * ceiling);
	return Math.min(cap, Math.max(jittered, opts.retryAfterMs ?? 0));
}

const ACTIONS = {
	retry: { id: 'retry', label: 'Retry the step' },
	skip: { id: 'skip', label: 'Skip the step and continue' },
	rollback: { id: 'rollback', label: 'Roll back the run' },
	fallback: { id: 'fallback', label: 'Assign the task to another agent' },
	editParameters: { id: 'edit-parameters', label: "Edit the step's parameters and retry" },
	checkEndpoint: { id: 'check-endpoint', label: 'Check the network and the LLM endpoint settings, then retry' },
	freeSpace: { id: 'free-space', label: 'Free disk space, then retry' },
	lowerParallelism: { id: 'lower-parallelism', label: 'Lower max_parallel, then retry' },
	reviewPolicy: { id: 'review-policy', label: 'Review what the step tried to reach (sandbox, policy or credentials)' },
	openOutput: { id: 'open-output', label: "Open the step's output" },
} satisfies Record<string, SuggestedAction>;

function actionsFor(c: Classification, canFallback: boolean, hasEffects: boolean): SuggestedAction[] {
	const list: SuggestedAction[] = [];
	switch (c.class) {
		case 'network':
			list.push(ACTIONS.checkEndpoint, ACTIONS.retry);
			break;
		case 'rate_limit':
			list.push(c.retryAfterMs !== undefined ? { id: 'retry-later', label: `Retry in ${Math.ceil(c.retryAfterMs / 1000)} s (the server asked to wait)` } : ACTIONS.retry);
			break;
		case 'resource':
			list.push(c.code === 'ENOSPC' || c.code === 'EDQUOT' || /disk-full/.test(c.reason) ? ACTIONS.freeSpace : ACTIONS.lowerParallelism, ACTIONS.retry);
			break;
		case 'validation':
			list.push(ACTIONS.editParameters);
			break;
		case 'security':
			list.push(ACTIONS.reviewPolicy);
			break;
		default:
			list.push(ACTIONS.openOutput, ACTIONS.retry);
	}
	if (canFallback && c.class !== 'security') list.splice(1, 0, ACTIONS.fallback);
	list.push(hasEffects ? ACTIONS.rollback : ACTIONS.skip);
	// Three at most, and never the same action twice.
	return list.filter((a, i) => list.findIndex((b) => b.id === a.id) === i).slice(0, 3);
}

/** Decides what to do after a failure. Security and validation errors are never retried (nor handed to another agent). */
export function decideRecovery(err: unknown, ctx: RecoveryContext): RecoveryDecision {
	const now = ctx.now ?? Date.now;
	const c = classifyError(err, now);
	if (c.cancelled) return { classification: c, strategy: { kind: 'stop', reason: 'the step was cancelled' }, actions: [] };
	const cap = ctx.maxDelayMs ?? MAX_RETRY_DELAY_MS;
	const maxAttempts = ctx.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
	const waitTooLong = c.retryAfterMs !== undefined && c.retryAfterMs > cap;
	if (c.retryable && ctx.attempt < maxAttempts && !waitTooLong) {
		const delayMs = backoffDelayMs(ctx.attempt, { baseDelayMs: ctx.baseDelayMs, maxDelayMs: cap, retryAfterMs: c.retryAfterMs, random: ctx.random });
		const why = c.retryAfterMs !== undefined ? `; the server asked to wait ${Math.ceil(c.retryAfterMs / 1000)} s` : '';
		return {
			classification: c,
			strategy: { kind: 'retry', delayMs, attempt: ctx.attempt + 1, reason: `${c.class} error (${c.reason}): attempt ${ctx.attempt + 1} of ${maxAttempts} in ${delayMs} ms${why}` },
			actions: [],
		};
	}
	const fallback = c.class === 'security' || c.class === 'validation' ? undefined : fallbackAgent(ctx);
	if (fallback) {
		return { classification: c, strategy: { kind: 'fallback', agent: fallback, reason: `${c.class} error (${c.reason}) with ${ctx.agent ?? 'the agent'}: trying ${fallback}` }, actions: [] };
	}
	const spent = c.retryable ? (waitTooLong ? `the server asked to wait ${Math.ceil(c.retryAfterMs! / 1000)} s, longer than ${cap / 1000} s` : `${ctx.attempt} attempts failed`) : 'not retried';
	const actions = actionsFor(c, fallbackAgent({ ...ctx, tried: [] }) !== undefined, ctx.hasEffects ?? false);
	const reason = `${c.class} error (${c.reason}): ${spent}`;
	return { classification: c, strategy: ctx.hasEffects ? { kind: 'compensate', reason: `${reason}; undoing the step's changes` } : { kind: 'escalate', reason }, actions };
}

/** The best capable candidate not yet tried and not at its limit (candidates come best first from allocation). */
function fallbackAgent(ctx: RecoveryContext): string | undefined {
	const tried = new Set([...(ctx.tried ?? []), ...(ctx.agent !== undefined ? [ctx.agent] : [])]);
	return ctx.candidates?.find((c) => c.capable && !c.full && !tried.has(c.agent))?.agent;
}
