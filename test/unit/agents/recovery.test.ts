import assert from 'node:assert/strict';
import fc from 'fast-check';
import { z } from 'zod';
import type { AllocationCandidate } from '../../../src/core/agents/allocation';
import {
	backoffDelayMs,
	classifyError,
	decideRecovery,
	MAX_RETRY_DELAY_MS,
	parseRetryAfter,
	type ErrorClass,
} from '../../../src/core/agents/recovery';
import { AgentError, SandboxError, StateError, StepError, WorkflowError } from '../../../src/core/errors';

function errno(code: string, message = code): NodeJS.ErrnoException {
	return Object.assign(new Error(message), { code });
}

/** Shaped like the openai SDK's APIError: status and a Headers object. */
function httpError(status: number, headers: Record<string, string> = {}): Error {
	return Object.assign(new Error(`${status} status code`), { status, headers: new Headers(headers) });
}

function zodError(): unknown {
	const r = z.object({ a: z.string() }).safeParse({ a: 1 });
	return r.success ? undefined : r.error;
}

function candidate(agent: string, capable = true, full = false): AllocationCandidate {
	const parts = { capability: 1, load: 1, performance: 0.5, specialisation: 0.5 };
	return { agent, score: 0.85, parts, reason: '', capable, full, missing: [] };
}

const NOW = Date.parse('2026-11-25T10:00:00Z');

describe('recovery', () => {
	describe('classification', () => {
		const table: [string, unknown, ErrorClass, boolean][] = [
			['ECONNRESET', errno('ECONNRESET'), 'network', true],
			['ETIMEDOUT', errno('ETIMEDOUT'), 'network', true],
			['ENOTFOUND', errno('ENOTFOUND'), 'network', true],
			['EAI_AGAIN', errno('EAI_AGAIN'), 'network', true],
			['undici socket', errno('UND_ERR_SOCKET'), 'network', true],
			['fetch failed, cause ECONNREFUSED', new TypeError('fetch failed', { cause: errno('ECONNREFUSED') }), 'network', true],
			['HTTP 429', httpError(429), 'rate_limit', true],
			['HTTP 500', httpError(500), 'network', true],
			['HTTP 503', httpError(503), 'network', true],
			['HTTP 408', httpError(408), 'network', true],
			['HTTP 400', httpError(400), 'validation', false],
			['HTTP 404', httpError(404), 'validation', false],
			['HTTP 422', httpError(422), 'validation', false],
			['HTTP 401', httpError(401), 'security', false],
			['HTTP 403', httpError(403), 'security', false],
			['statusCode 502', Object.assign(new Error('bad gateway'), { statusCode: 502 }), 'network', true],
			['ENOSPC', errno('ENOSPC'), 'resource', false],
			['ENOMEM', errno('ENOMEM'), 'resource', true],
			['EMFILE', errno('EMFILE'), 'resource', true],
			['EACCES', errno('EACCES'), 'security', false],
			['SandboxError outside', new SandboxError('outside', '"../x" is outside the workspace'), 'security', false],
			['SandboxError symlink', new SandboxError('symlink', 'leads outside'), 'security', false],
			['StepError failed, no cause', new StepError('failed', 'write failed'), 'unknown', true],
			['StepError parameters', new StepError('parameters', 'bad'), 'validation', false],
			['StepError not-found', new StepError('not-found', 'no such file'), 'validation', false],
			['StepError rejected', new StepError('rejected', 'rejected by the user'), 'security', false],
			['StepError disk-full', new StepError('disk-full', 'no space'), 'resource', false],
			['StepError timeout', new StepError('timeout', 'timed out after 60 s'), 'resource', true],
			['StepError exit-code', new StepError('exit-code', 'exit code 1'), 'unknown', true],
			['StepError permanent failed', new StepError('failed', 'nope', { permanent: true }), 'unknown', false],
			['StepError from the llm handler, HTTP 429', new StepError('failed', 'the LLM request failed (HTTP 429): slow down'), 'rate_limit', true],
			['StepError from the llm handler, HTTP 400', new StepError('failed', 'the LLM request failed (HTTP 400): bad', { permanent: true }), 'validation', false],
			['StepError with an ECONNRESET cause', Object.assign(new StepError('io', 'read failed'), { cause: errno('ECONNRESET') }), 'network', true],
			['WorkflowError schema', new WorkflowError('schema', 'bad workflow'), 'validation', false],
			['WorkflowError cycle', new WorkflowError('cycle', 'a → b → a'), 'validation', false],
			['AgentError', new AgentError('no-capable-agent', 'no agent'), 'validation', false],
			['StateError disk-full', new StateError('disk-full', 'no space'), 'resource', false],
			['StateError locked', new StateError('locked', 'another run'), 'resource', true],
			['ZodError', zodError(), 'validation', false],
			['plain Error', new Error('something odd'), 'unknown', true],
			['a string', 'boom', 'unknown', true],
		];
		for (const [name, err, cls, retryable] of table) {
			it(`${name} → ${cls}${retryable ? ', retryable' : ', not retried'}`, () => {
				const c = classifyError(err);
				assert.equal(c.class, cls, JSON.stringify(c));
				assert.equal(c.retryable, retryable, JSON.stringify(c));
				assert.equal(c.cancelled, false);
			});
		}

		it('a StepError whose cause is a sandbox escape is security', () => {
			const err = new StepError('failed', 'write failed');
			(err as { cause?: unknown }).cause = new SandboxError('outside', 'outside');
			assert.equal(classifyError(err).class, 'security');
		});

		it('cancellation is not a failure', () => {
			for (const err of [new StepError('cancelled', 'cancelled'), Object.assign(new Error('aborted'), { name: 'AbortError' })]) {
				const c = classifyError(err);
				assert.equal(c.cancelled, true);
				assert.equal(c.retryable, false);
				assert.equal(decideRecovery(err, { attempt: 1 }).strategy.kind, 'stop');
			}
		});

		it('reads Retry-After as seconds, as an HTTP date, and retry-after-ms first', () => {
			assert.equal(classifyError(httpError(429, { 'retry-after': '7' })).retryAfterMs, 7000);
			assert.equal(classifyError(httpError(429, { 'retry-after-ms': '250', 'retry-after': '7' })).retryAfterMs, 250);
			const date = new Date(NOW + 12_000).toUTCString();
			assert.equal(classifyError(httpError(503, { 'retry-after': date }), () => NOW).retryAfterMs, 12_000);
			assert.equal(classifyError(Object.assign(new Error('x'), { status: 429, headers: { 'Retry-After': '3' } })).retryAfterMs, 3000);
			assert.equal(parseRetryAfter('soon'), undefined);
			assert.equal(parseRetryAfter(new Date(NOW - 5000).toUTCString(), false, () => NOW), 0);
		});
	});

	describe('backoff', () => {
		it('full jitter between 0 and the doubling ceiling, capped at 30 s', () => {
			assert.equal(backoffDelayMs(1, { random: () => 0 }), 0);
			assert.equal(backoffDelayMs(1, { random: () => 1 }), 1000);
			assert.equal(backoffDelayMs(3, { random: () => 1 }), 4000);
			assert.equal(backoffDelayMs(3, { random: () => 0.5 }), 2000);
			assert.equal(backoffDelayMs(20, { random: () => 1 }), MAX_RETRY_DELAY_MS);
			assert.equal(backoffDelayMs(1, { random: () => 0, retryAfterMs: 5000 }), 5000, 'never sooner than Retry-After');
			assert.equal(backoffDelayMs(1, { random: () => 0, retryAfterMs: 90_000 }), MAX_RETRY_DELAY_MS);
		});

		it('stays within its bounds for any attempt, random value and hint', () => {
			fc.assert(
				fc.property(
					fc.integer({ min: 1, max: 100 }),
					fc.double({ min: 0, max: 1, noNaN: true }),
					fc.option(fc.integer({ min: 0, max: 120_000 }), { nil: undefined }),
					fc.integer({ min: 1, max: 5000 }),
					(attempt, r, hint, base) => {
						const d = backoffDelayMs(attempt, { random: () => r, retryAfterMs: hint, baseDelayMs: base });
						assert.ok(Number.isInteger(d) && d >= 0 && d <= MAX_RETRY_DELAY_MS, String(d));
						if (hint === undefined) assert.ok(d <= Math.min(MAX_RETRY_DELAY_MS, base * 2 ** (attempt - 1)) + 0.5);
						else assert.ok(d >= Math.min(hint, MAX_RETRY_DELAY_MS));
					},
				),
			);
		});
	});

	describe('decisions', () => {
		const random = () => 0.5;

		it('a network error is retried with backoff until the attempts are spent, then falls back, then escalates', () => {
			const err = errno('ECONNRESET');
			const first = decideRecovery(err, { attempt: 1, random });
			assert.deepEqual(first.strategy, { kind: 'retry', delayMs: 500, attempt: 2, reason: 'network error (ECONNRESET): attempt 2 of 3 in 500 ms' });
			assert.equal(decideRecovery(err, { attempt: 2, random }).strategy.kind, 'retry');
			const candidates = [candidate('coder'), candidate('coder2', true, true), candidate('helper'), candidate('reviewer', false)];
			const third = decideRecovery(err, { attempt: 3, random, agent: 'coder', candidates });
			assert.deepEqual(third.strategy, { kind: 'fallback', agent: 'helper', reason: 'network error (ECONNRESET) with coder: trying helper' });
			const last = decideRecovery(err, { attempt: 3, random, agent: 'helper', tried: ['coder'], candidates });
			assert.equal(last.strategy.kind, 'escalate');
			assert.equal(last.strategy.reason, 'network error (ECONNRESET): 3 attempts failed');
			assert.deepEqual(
				last.actions.map((a) => a.id),
				['check-endpoint', 'fallback', 'retry'],
			);
		});

		it('honours Retry-After, and hands over when the server asks to wait longer than 30 s', () => {
			const soon = decideRecovery(httpError(429, { 'retry-after': '4' }), { attempt: 1, random: () => 0 });
			assert.equal(soon.strategy.kind, 'retry');
			assert.ok(soon.strategy.kind === 'retry' && soon.strategy.delayMs === 4000);
			assert.match(soon.strategy.reason, /the server asked to wait 4 s/);

			const late = decideRecovery(httpError(429, { 'retry-after': '120' }), { attempt: 1, random });
			assert.equal(late.strategy.kind, 'escalate');
			assert.match(late.strategy.reason, /rate_limit error \(HTTP 429\): the server asked to wait 120 s, longer than 30 s/);
			assert.deepEqual(late.actions[0], { id: 'retry-later', label: 'Retry in 120 s (the server asked to wait)' });
		});

		it('security errors are never retried nor handed to another agent; their changes are compensated', () => {
			const candidates = [candidate('coder'), candidate('other')];
			const err = new SandboxError('outside', '"../etc/passwd" is outside the workspace');
			const d = decideRecovery(err, { attempt: 1, agent: 'coder', candidates, hasEffects: true, random });
			assert.equal(d.classification.class, 'security');
			assert.equal(d.strategy.kind, 'compensate');
			assert.match(d.strategy.reason, /security error \(sandbox: outside\): not retried; undoing the step's changes/);
			assert.deepEqual(
				d.actions.map((a) => a.id),
				['review-policy', 'rollback'],
			);
			const clean = decideRecovery(err, { attempt: 1, agent: 'coder', candidates, random });
			assert.equal(clean.strategy.kind, 'escalate');
			assert.deepEqual(
				clean.actions.map((a) => a.id),
				['review-policy', 'skip'],
			);
		});

		it('validation errors are never retried nor handed over; the person may pick another agent', () => {
			const d = decideRecovery(zodError(), { attempt: 1, agent: 'coder', candidates: [candidate('coder'), candidate('other')], random });
			assert.equal(d.strategy.kind, 'escalate');
			assert.deepEqual(
				d.actions.map((a) => a.id),
				['edit-parameters', 'fallback', 'skip'],
			);
		});

		it('a full disk is not retried and suggests freeing space', () => {
			const d = decideRecovery(errno('ENOSPC'), { attempt: 1, random });
			assert.equal(d.strategy.kind, 'escalate');
			assert.equal(d.actions[0].id, 'free-space');
		});

		it('every escalation offers one to three distinct actions with ids and labels', () => {
			const errors = [errno('ECONNRESET'), httpError(429), errno('ENOSPC'), errno('EMFILE'), zodError(), new SandboxError('outside', 'x'), new Error('odd')];
			fc.assert(
				fc.property(
					fc.constantFrom(...errors),
					fc.boolean(),
					fc.boolean(),
					fc.integer({ min: 1, max: 6 }),
					(err, effects, withCandidates, attempt) => {
						const d = decideRecovery(err, {
							attempt,
							hasEffects: effects,
							agent: 'a',
							...(withCandidates ? { candidates: [candidate('a'), candidate('b')] } : {}),
							random,
						});
						if (d.strategy.kind === 'retry') {
							assert.ok(d.classification.retryable);
							assert.ok(d.strategy.delayMs >= 0 && d.strategy.delayMs <= MAX_RETRY_DELAY_MS);
						}
						if (d.classification.class === 'security' || d.classification.class === 'validation') {
							assert.ok(d.strategy.kind !== 'retry' && d.strategy.kind !== 'fallback');
						}
						if (d.strategy.kind === 'escalate' || d.strategy.kind === 'compensate') {
							assert.ok(d.actions.length >= 1 && d.actions.length <= 3);
							assert.equal(new Set(d.actions.map((a) => a.id)).size, d.actions.length);
							assert.ok(d.actions.every((a) => a.id && a.label));
							assert.equal(d.strategy.kind === 'compensate', effects);
						}
					},
				),
			);
		});
	});
});
