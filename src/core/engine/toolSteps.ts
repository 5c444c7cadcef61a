// Steps a running step starts itself (an agent's tool calls): each is a real engine step — validated, checked by the
// sandbox and the escalation policy (asking when they say so), journaled under its own id so rollback undoes it,
// holding path locks while it writes, and announced on the event stream under its parent.
import { describeError, StepError } from '../errors';
import type { StepDecision, ToolStep } from '../handlers/types';
import type { DecisionAnswer } from '../ports';
import type { Instruction } from '../workflow/schema';
import type { PathLocks } from './pathLocks';
import { approvalFor } from './plan';
import type { RunJournal, RunServices, RunTransaction } from './runTypes';
import type { StepHost } from './stepContext';
import { StepCtx } from './stepContext';

/** Longest output kept in the journal for a tool step (reads of big files are not worth keeping twice). */
const JOURNAL_OUTPUT_MAX = 4096;

export interface ToolHost extends StepHost {
	readonly journal: RunJournal;
	readonly tx: RunTransaction;
	readonly services: RunServices;
	readonly locks: PathLocks;
	decideInStep(step: Instruction, attempt: number, request: StepDecision, signal: AbortSignal): Promise<DecisionAnswer>;
	/** The agent the parent's work is attributed to, if any (its tool steps count for it too). */
	agentOf(stepId: string): string | undefined;
	setAgent(stepId: string, agent: string): void;
	/** The next child number of a parent step. */
	nextChild(parentId: string): number;
}

/** Runs one tool call of `parent` as a child step; resolves with its output or throws its (StepError) failure. */
export async function runToolStep(host: ToolHost, parent: Instruction, level: number, call: ToolStep, signal: AbortSignal): Promise<unknown> {
	const { services, runId } = host;
	const { events, clock } = services;
	const op = services.registry?.operation(call.type, call.operation);
	if (!op) throw new StepError('parameters', `unknown step type ${call.type}.${call.operation}`);
	const parsed = op.params.safeParse(call.parameters);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
		throw new StepError('parameters', `invalid parameters${where}: ${issue?.message ?? 'rejected by the schema'}`);
	}
	const params = parsed.data as never;
	const id = `${parent.id}.${host.nextChild(parent.id)}`;
	const step: Instruction = { id, type: call.type, operation: call.operation, parameters: call.parameters, dependencies: [parent.id], priority: 0, index: -1 };
	const agent = host.agentOf(parent.id);
	if (agent) host.setAgent(id, agent);
	// One line whatever the parameters hold (a find text with tabs and newlines).
	const summary = safe(() => op.summary(params), `${call.type}.${call.operation}`).replace(/\s+/g, ' ');
	const touches = safe(() => op.touches?.(params), undefined) ?? { reads: [], writes: [] };
	const emit = (state: 'running' | 'succeeded' | 'failed' | 'cancelled', durationMs?: number, message?: string) => {
		if (events.active) events.emit({ type: 'step', runId, id, state, attempt: 1, at: clock.now(), durationMs, message });
	};
	if (events.active) {
		events.emit({
			type: 'step-added',
			runId,
			parent: parent.id,
			step: { id, type: call.type, operation: call.operation, dependencies: [parent.id], level },
			summary: call.label ? `${call.label}: ${summary}` : summary,
			...(agent ? { agent } : {}),
		});
	}
	const started = clock.now();
	try {
		// The same checks a planned step gets: the operation's own (protected paths), then the host's policy.
		const own = approvalFor(op, params, services.sandbox);
		const escalated = own ? undefined : services.escalation?.({ type: call.type, operation: call.operation, touches });
		const reason = own ?? escalated?.reason;
		if (reason) {
			await host.decideInStep(step, 1, { kind: 'approval', reason, summary, parameters: call.parameters, ...(escalated ? { rule: escalated.rule } : {}) }, signal);
		}
		const release = touches.writes.length ? await host.locks.acquire(touches) : undefined;
		let output: unknown;
		try {
			if (op.effect === 'external') {
				host.journal.append({ t: 'step-start', id, attempt: 1, at: clock.now() });
				await host.journal.flush();
			}
			emit('running');
			if (signal.aborted) throw signal.reason;
			output = await runWithTimeout(call.timeoutMs, signal, (s) => op.run(params, new StepCtx(host, step, 1, s)));
		} finally {
			release?.();
		}
		const durationMs = clock.now() - started;
		host.journal.append({ t: 'step-end', id, status: 'succeeded', attempt: 1, at: clock.now(), durationMs, output: forJournal(output) });
		emit('succeeded', durationMs);
		return output;
	} catch (err) {
		const cancelled = signal.aborted && !StepError.is(err, 'timeout');
		const message = describeError(err);
		const durationMs = clock.now() - started;
		host.journal.append({ t: 'step-end', id, status: cancelled ? 'cancelled' : 'failed', attempt: 1, at: clock.now(), durationMs, error: message });
		emit(cancelled ? 'cancelled' : 'failed', durationMs, message);
		throw err;
	}
}

/** Runs `fn` with a signal that also aborts after `ms` (a 'timeout' StepError), when given. */
async function runWithTimeout<T>(ms: number | undefined, signal: AbortSignal, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
	if (!ms) return fn(signal);
	const own = new AbortController();
	const both = AbortSignal.any([signal, own.signal]);
	const timer = setTimeout(() => own.abort(new StepError('timeout', `timed out after ${ms} ms`)), ms);
	try {
		return await Promise.race([fn(both), new Promise<never>((_, reject) => both.addEventListener('abort', () => reject(both.reason), { once: true }))]);
	} finally {
		clearTimeout(timer);
	}
}

function safe<T>(fn: () => T, fallback: T): T {
	try {
		return fn();
	} catch {
		return fallback;
	}
}

/** Small outputs as they are; big ones as a note of their size (the file itself is in the workspace or the blob store). */
function forJournal(output: unknown): unknown {
	if (output === undefined) return null;
	const text = typeof output === 'string' ? output : JSON.stringify(output);
	return text.length <= JOURNAL_OUTPUT_MAX ? output : { truncated: true, chars: text.length };
}
