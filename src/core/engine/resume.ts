// What an earlier attempt of a run left: rebuilt from its journal so resume neither repeats nor forgets work.
import { StateError } from '../errors';
import { forEachStepEnd, type JournalRecord } from '../state/records';
import type { Plan } from './plan';
import { Status } from './scheduler';

export type RunRecord = Extract<JournalRecord, { t: 'run' }>;

export interface JournalSummary {
	run: RunRecord;
	/** Last run-end status, if the run ever finished an attempt. */
	ended?: Extract<JournalRecord, { t: 'run-end' }>;
	committed: boolean;
	rolledBack: boolean;
	rollbackStarted: boolean;
}

export function journalState(records: readonly JournalRecord[], file: string): JournalSummary {
	const first = records[0];
	if (!first || first.t !== 'run') throw new StateError('corrupt', `journal ${file} does not start with a run record`);
	const summary: JournalSummary = { run: first, committed: false, rolledBack: false, rollbackStarted: false };
	for (const r of records) {
		if (r.t === 'run-end') summary.ended = r;
		else if (r.t === 'commit') summary.committed = true;
		else if (r.t === 'rollback-start') summary.rollbackStarted = true;
		else if (r.t === 'rollback-end') summary.rolledBack = true;
		else if (r.t === 'resume') summary.ended = undefined;
	}
	return summary;
}

export interface ResumeState {
	/** Succeeded steps stay final; everything else runs again. */
	initial: Uint8Array;
	outputs: Map<number, unknown>;
	/** Steps with external effects that started and never ended: a crash hit them mid-flight. */
	inDoubt: Set<number>;
	editedParams: Map<number, Record<string, unknown>>;
	context: Map<string, unknown>;
}

/** Replays the journal over the plan: which steps are done (with outputs), which are in doubt. */
export function reconstruct(records: readonly JournalRecord[], plan: Plan): ResumeState {
	const n = plan.ops.length;
	const indexOf = plan.graph.indexOf;
	const initial = new Uint8Array(n);
	const outputs = new Map<number, unknown>();
	const started = new Set<number>();
	const editedParams = new Map<number, Record<string, unknown>>();
	const context = new Map<string, unknown>();
	for (const r of records) {
		switch (r.t) {
			case 'step-start': {
				const i = indexOf.get(r.id);
				if (i !== undefined) started.add(i);
				break;
			}
			case 'step-end': {
				const i = indexOf.get(r.id);
				if (i === undefined) break;
				started.delete(i);
				if (r.status === 'succeeded') {
					initial[i] = Status.Succeeded;
					outputs.set(i, r.output ?? null);
				} else {
					initial[i] = Status.Pending;
					outputs.delete(i);
				}
				break;
			}
			case 'step-ends':
				forEachStepEnd(r, (id, _attempt, _at, _durationMs, output) => {
					const i = indexOf.get(id);
					if (i === undefined) return;
					initial[i] = Status.Succeeded;
					outputs.set(i, output ?? null);
				});
				break;
			case 'step-params': {
				const i = indexOf.get(r.id);
				if (i !== undefined) editedParams.set(i, r.parameters);
				break;
			}
			case 'context':
				context.set(r.key, r.value);
				break;
			default:
				break;
		}
	}
	const inDoubt = new Set<number>();
	for (const i of started) if (plan.ops[i].effect === 'external') inDoubt.add(i);
	return { initial, outputs, inDoubt, editedParams, context };
}
