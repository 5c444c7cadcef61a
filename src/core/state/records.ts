// Journal record shapes. One journal per run: .quantum/runs/<runId>/journal.log, append-only.
// Each record is framed on disk by the journal (length + checksum); these are the payloads.
import type { RunStatus } from '../engine/events';

export type JournalRecord =
	/** First record of a run. */
	| {
			t: 'run';
			runId: string;
			startedAt: number;
			workspace: string;
			/** Workflow source path (workspace-relative when inside it) and the sha256 of its bytes. */
			file?: string;
			sourceHash?: string;
			name: string;
			/** Number of steps. */
			steps: number;
			/** Variables as run (including command-line overrides). */
			variables: Record<string, unknown>;
			/** A verified copy of the workflow file's bytes in the run folder (this file name), so resume never guesses. */
			snapshot?: string;
			/** The parsed workflow inline, when it did not come from a file (or the file changed while loading). */
			workflow?: unknown;
			/** Each step's `undo` compensation, by id (only steps that have one), for rollback. */
			undo: Record<string, unknown>;
			options: { concurrency: number; mode: string; onFailure: string };
	  }
	| { t: 'step-start'; id: string; attempt: number; at: number }
	/** The parameters a step really ran with, when a decision edited them. */
	| { t: 'step-params'; id: string; parameters: Record<string, unknown> }
	| {
			t: 'step-end';
			id: string;
			status: 'succeeded' | 'failed' | 'skipped' | 'cancelled';
			attempt: number;
			at: number;
			durationMs: number;
			output?: unknown;
			error?: string;
	  }
	/**
	 * Successful ends of pure steps (effect "none", no undo), batched: one record per batch instead of one per step.
	 * A crash may lose the last batch; those steps are pure, so resume simply runs them again. Written column-wise:
	 * end k is step ids[k], attempt attempts[k], at base + at[k] ms, taking durations[k] ms, with output outputs[k]
	 * (null when there is no `outputs`). Read them with forEachStepEnd, which also reads the earlier row-wise form.
	 */
	| StepEndsRecord
	/** The row-wise form of the same record, written by earlier versions (still read). */
	| { t: 'step-ends'; items: [id: string, attempt: number, at: number, durationMs: number, output: unknown][] }
	| { t: 'decision'; id: string; approve: boolean; reason?: string; kind: string }
	| { t: 'context'; key: string; value: unknown }
	/** Tokens an LLM call used for a step (and its agent), with the cost in USD where the price is known. */
	/** The agent a step was given, and why (the allocation score's parts). */
	| { t: 'allocation'; id: string; agent: string; score?: number; parts?: Record<string, number>; reason: string }
	| { t: 'usage'; id: string; model: string; prompt: number; completion: number; cost?: number; agent?: string }
	/**
	 * Before-image, durable before the effect. kind 'absent' = the path did not exist (the run creates it);
	 * 'file' = content in blob `blob` (sha256) with mode; 'dir' = an existing directory with mode.
	 */
	| { t: 'before'; step: string; path: string; kind: 'absent' | 'file' | 'dir'; blob?: string; mode?: number }
	/** What the run left at a path after the effect: 'absent', a file with content hash, or a dir. */
	| { t: 'after'; step: string; path: string; kind: 'absent' | 'file' | 'dir'; hash?: string; mode?: number }
	| { t: 'run-end'; status: RunStatus; at: number; durationMs: number }
	| { t: 'resume'; at: number; pid: number }
	| { t: 'commit'; at: number }
	| { t: 'rollback-start'; at: number; force: boolean }
	| { t: 'restored'; path: string }
	| { t: 'compensated'; step: string; ok: boolean; error?: string }
	| { t: 'rollback-end'; at: number; conflicts: { path: string; reason: string }[] };

/** Batched ends of pure steps, column-wise (see JournalRecord). */
export interface StepEndsRecord {
	t: 'step-ends';
	base: number;
	ids: string[];
	attempts: number[];
	at: number[];
	durations: number[];
	outputs?: unknown[];
}

/** Each step end a 'step-ends' record holds, in order, in either form. */
export function forEachStepEnd(
	rec: Extract<JournalRecord, { t: 'step-ends' }>,
	each: (id: string, attempt: number, at: number, durationMs: number, output: unknown) => void,
): void {
	if ('items' in rec) {
		for (const [id, attempt, at, durationMs, output] of rec.items) each(id, attempt, at, durationMs, output);
		return;
	}
	const { ids, attempts, at, durations, outputs, base } = rec;
	// A time JSON could not print (NaN) was read back as null: keep it so rather than add the base to it.
	for (let k = 0; k < ids.length; k++) each(ids[k], attempts[k], typeof at[k] === 'number' ? base + at[k] : at[k], durations[k], outputs ? outputs[k] : null);
}
