// Approvals: why a step must be asked about before it runs, asking the host's prompter, journaling the answer.
import { StepError } from '../errors';
import type { DecisionRequest } from '../ports';
import type { Sandbox } from '../sandbox/types';
import { approvalFor, type PlannedStep } from './plan';
import type { RunJournal, RunServices } from './runTypes';
import { parseParams } from './stepContext';

/** Why a step needs a decision before it runs with these parameters; undefined when it needs none. */
export function approvalReason(step: PlannedStep, params: unknown, inDoubt: boolean, sandbox: Sandbox): string | undefined {
	const ins = step.instruction;
	return inDoubt && !ins.idempotent
		? 'interrupted by a crash while running: it may have had effects already; run it again?'
		: step.dynamic
			? ins.requires_approval
				? 'the step sets requires_approval'
				: approvalFor(step.op, params, sandbox)
			: step.approval;
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
	reason: string,
	params: unknown,
	kind: DecisionRequest['kind'],
): Promise<unknown> {
	const ins = step.instruction;
	const request: DecisionRequest = {
		id,
		runId: run.runId,
		stepId: ins.id,
		kind,
		reason,
		summary: safeSummary(step, params),
		type: ins.type,
		operation: ins.operation,
		parameters: (params ?? {}) as Record<string, unknown>,
	};
	const events = run.services.events;
	if (events.active) events.emit({ type: 'decision-requested', request });
	const answer = await run.services.prompter.decide(request, run.signal);
	if (events.active) events.emit({ type: 'decision-answered', runId: run.runId, id: request.id, answer });
	run.journal.append({ t: 'decision', id: ins.id, approve: answer.approve, reason: answer.reason, kind });
	if (run.signal.aborted) throw run.signal.reason;
	if (!answer.approve) {
		const who = answer.by === 'policy' ? 'not approved' : 'rejected by user';
		throw new StepError('rejected', `${who}${answer.reason ? `: ${answer.reason}` : ''}`);
	}
	if (answer.parameters) {
		const edited = parseParams(step, answer.parameters);
		run.journal.append({ t: 'step-params', id: ins.id, parameters: answer.parameters });
		return edited;
	}
	return params;
}

function safeSummary(step: PlannedStep, params: unknown): string {
	try {
		return step.op.summary(params as never);
	} catch {
		return `${step.instruction.type}.${step.instruction.operation}`;
	}
}
