// Approvals: why a step must be asked about before it runs, asking the host's prompter, journaling the answer.
import { StepError } from '../errors';
import type { DecisionAnswer, DecisionRequest } from '../ports';
import type { EscalationCheck } from '../policy/escalation';
import type { Sandbox } from '../sandbox/types';
import { approvalFor, type PlannedStep } from './plan';
import type { RunJournal, RunServices } from './runTypes';
import { parseParams, touchesOf } from './stepContext';

/** Why a step must be asked about, and the escalation rule behind it when a policy (not the step) asks. */
export interface ApprovalNeed {
	reason: string;
	rule?: string;
}

/** Why a step needs a decision before it runs with these parameters; undefined when it needs none. */
export function approvalReason(
	step: PlannedStep,
	params: unknown,
	inDoubt: boolean,
	sandbox: Sandbox,
	escalation?: EscalationCheck,
): ApprovalNeed | undefined {
	const ins = step.instruction;
	if (inDoubt && !ins.idempotent) return { reason: 'interrupted by a crash while running: it may have had effects already; run it again?' };
	const fixed = step.dynamic ? (ins.requires_approval ? 'the step sets requires_approval' : approvalFor(step.op, params, sandbox)) : step.approval;
	if (fixed) return { reason: fixed };
	// Checked when the step starts, not when planned: "always allow" given to an earlier step applies at once.
	const escalated = escalation?.({ type: ins.type, operation: ins.operation, touches: step.dynamic ? touchesOf(step, params) : step.touches });
	return escalated ? { reason: escalated.reason, rule: escalated.rule } : undefined;
}

/** The parts of a run that asking for a decision uses. */
export interface DecisionScope {
	runId: string;
	services: RunServices;
	journal: RunJournal;
	signal: AbortSignal;
}

/**
 * Asks the prompter about a step and journals the answer. Returns the parameters to run with (edited ones parsed
 * again), or throws a 'rejected' StepError; the caller has already reported the step as waiting.
 */
export async function askDecision(
	run: DecisionScope,
	id: string,
	step: PlannedStep,
	need: ApprovalNeed,
	params: unknown,
	kind: DecisionRequest['kind'],
): Promise<unknown> {
	const ins = step.instruction;
	const request: DecisionRequest = {
		id,
		runId: run.runId,
		stepId: ins.id,
		kind,
		reason: need.reason,
		...(need.rule ? { rule: need.rule } : {}),
		summary: safeSummary(step, params),
		type: ins.type,
		operation: ins.operation,
		parameters: (params ?? {}) as Record<string, unknown>,
	};
	const answer = await requestDecision(run, request);
	if (answer.parameters) {
		const edited = parseParams(step, answer.parameters);
		run.journal.append({ t: 'step-params', id: ins.id, parameters: answer.parameters });
		return edited;
	}
	return params;
}

/**
 * Puts a request to the host's prompter, announces it and its answer, journals the answer; resolves when approved,
 * throws a 'rejected' StepError (or the run's abort reason) otherwise.
 */
export async function requestDecision(run: DecisionScope, request: DecisionRequest): Promise<DecisionAnswer> {
	const events = run.services.events;
	if (events.active) events.emit({ type: 'decision-requested', request });
	const answer = await run.services.prompter.decide(request, run.signal);
	if (events.active) events.emit({ type: 'decision-answered', runId: run.runId, id: request.id, answer });
	run.journal.append({ t: 'decision', id: request.stepId, approve: answer.approve, reason: answer.reason, kind: request.kind });
	if (run.signal.aborted) throw run.signal.reason;
	if (!answer.approve) {
		const who = answer.by === 'policy' ? 'not approved' : 'rejected by user';
		throw new StepError('rejected', `${who}${answer.reason ? `: ${answer.reason}` : ''}`);
	}
	return answer;
}

function safeSummary(step: PlannedStep, params: unknown): string {
	try {
		return step.op.summary(params as never);
	} catch {
		return `${step.instruction.type}.${step.instruction.operation}`;
	}
}
