// After a failed run and an approved replan, the new run starts where the failure was: a step of the revised plan
// that succeeded in the failed run, is unchanged, and depends only on such steps, is not run again. If a step that
// does run reads its output (`${steps.ID.output...}`), it becomes a `util echo` of the recorded output (same id);
// otherwise it is left out. The failed run's workspace changes stay as they are: the new run builds on them.
import type { RunStatus } from '../engine/events';
import { readJournal } from '../state/journal';
import { forEachStepEnd } from '../state/records';
import { runPaths } from '../state/runStore';
import type { Instruction, RawInstruction, RawWorkflow, Workflow } from '../workflow/schema';
import { findReferences } from '../workflow/substitute';
import { diffPlans } from './diff';
import { escapeTemplates } from './steps';

/** What a finished run left, read from its journal. */
export interface RunRecord {
	runId: string;
	status: RunStatus;
	message?: string;
	/** Succeeded steps and their outputs. */
	outputs: Map<string, unknown>;
	/** Failed steps and their errors, in the order they failed. */
	failed: Map<string, string>;
	/** Steps that did not run to success (skipped, cancelled). */
	notRun: string[];
}

export async function readRunRecord(stateDir: string, runId: string, status: RunStatus, message?: string): Promise<RunRecord> {
	const { records } = await readJournal(runPaths(stateDir, runId).journal);
	const outputs = new Map<string, unknown>();
	const failed = new Map<string, string>();
	const notRun = new Set<string>();
	for (const r of records) {
		if (r.t === 'step-ends') {
			forEachStepEnd(r, (id, _attempt, _at, _durationMs, output) => outputs.set(id, output ?? null));
		} else if (r.t === 'step-end') {
			outputs.delete(r.id);
			failed.delete(r.id);
			notRun.delete(r.id);
			if (r.status === 'succeeded') outputs.set(r.id, r.output ?? null);
			else if (r.status === 'failed') failed.set(r.id, r.error ?? 'failed');
			else notRun.add(r.id);
		}
	}
	return { runId, status, ...(message ? { message } : {}), outputs, failed, notRun: [...notRun] };
}

export interface Continuation {
	workflow: RawWorkflow;
	/** Steps not run again (reused or left out). */
	carried: string[];
	/** Carried steps kept as a `util echo` of their recorded output because a step that runs reads it. */
	reused: string[];
}

/**
 * The workflow that continues `record`'s run with the revised plan (see the header). Only a run that ended 'failed'
 * carries steps over: after a rollback (on_failure "rollback") the workspace is back as before, so everything runs.
 */
export function continuationOf(revised: Workflow, previous: Workflow, record: RunRecord): Continuation {
	const carried = new Set<string>();
	if (record.status === 'failed') {
		const unchanged = new Set(diffPlans(previous, revised).unchanged);
		for (const s of revised.instructions) if (unchanged.has(s.id) && record.outputs.has(s.id)) carried.add(s.id);
		// A step whose dependency runs again must run again too: its input may change. Instructions are in file order,
		// not dependency order, so repeat until nothing changes.
		for (let changed = true; changed; ) {
			changed = false;
			for (const s of revised.instructions) {
				if (carried.has(s.id) && s.dependencies.some((d) => !carried.has(d))) {
					carried.delete(s.id);
					changed = true;
				}
			}
		}
	}
	const read = new Set<string>();
	for (const s of revised.instructions) {
		if (carried.has(s.id)) continue;
		for (const ref of findReferences(s.parameters)) if (ref.root === 'steps' && carried.has(ref.path[0])) read.add(ref.path[0]);
	}
	const instructions: RawInstruction[] = [];
	for (const s of revised.instructions) {
		if (!carried.has(s.id)) {
			instructions.push(rawOf(s, (d) => !carried.has(d) || read.has(d)));
		} else if (read.has(s.id)) {
			instructions.push({
				id: s.id,
				type: 'util',
				operation: 'echo',
				description: `recorded output of ${s.id} (${s.type}.${s.operation}) in run ${record.runId}`,
				parameters: { value: escapeTemplates(record.outputs.get(s.id)) },
			});
		}
	}
	const ids = [...carried];
	const workflow: RawWorkflow = {
		version: 1,
		name: revised.name,
		description: `${revised.description ? `${revised.description}\n` : ''}Continues run ${record.runId}: ${ids.length ? `not run again: ${ids.join(', ')}` : 'every step runs'}.`,
		variables: revised.variables,
		settings: revised.settings,
		instructions,
	};
	return { workflow, carried: ids, reused: [...read] };
}

/** A validated instruction written back as a plain one, keeping the dependencies `keep` accepts. */
function rawOf(s: Instruction, keep: (dep: string) => boolean): RawInstruction {
	const { index: _index, dependencies, ...rest } = s;
	const deps = dependencies.filter(keep);
	return { ...rest, ...(deps.length ? { dependencies: deps } : {}) };
}
