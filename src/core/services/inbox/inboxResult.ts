// What `<name>.result.json` next to a processed inbox file says: written when the submission is decided, updated
// when the run ends. Times are ISO strings; the shape is stable for scripts that read it.
import { describeError, WorkflowError } from '../../errors';
import type { RunStatus } from '../../engine/events';
import type { SubmissionResult } from '../triggers/dispatcher';

export type InboxStatus = SubmissionResult['status'];

/** A validation problem of the file, where it is. */
export interface InboxProblem {
	message: string;
	line?: number;
	column?: number;
	/** JSON path, e.g. `instructions[0].operation`. */
	path?: string;
}

export interface InboxResult {
	/** The name the file had in the inbox. */
	file: string;
	/** Where it is now, relative to the inbox folder (`done/deploy.json`); absent when it could not be moved. */
	movedTo?: string;
	status: InboxStatus;
	/** The run it started or was queued as, or (duplicate) the run the same content started before. */
	runId?: string;
	/** The dispatcher's key: `inbox:sha256:<hash of the file's bytes>`, so the same content never runs twice. */
	idempotencyKey: string;
	/** The file was in the inbox before the watcher started. */
	alreadyThere: boolean;
	pickedUpAt: string;
	decidedAt: string;
	/** Why it was refused or skipped. */
	reason?: string;
	/** invalid: every problem, located. */
	problems?: InboxProblem[];
	/** duplicate: when the same content was first seen. */
	firstSeenAt?: string;
	/** queued: its place in the queue. */
	position?: number;
	/** The run's end, once it has ended. */
	run?: { status: RunStatus; message?: string; startedAt?: string; finishedAt?: string };
}

export const iso = (ms: number): string => new Date(ms).toISOString();

/** The located problems of a workflow that did not parse or validate. */
export function problemsOf(err: unknown): InboxProblem[] {
	if (!WorkflowError.is(err)) return [{ message: describeError(err) }];
	return (err.problems.length ? err.problems : [err]).map((p) => ({
		message: p.message,
		...(p.location.line !== undefined ? { line: p.location.line, column: p.location.column ?? 1 } : {}),
		...(p.location.path ? { path: p.location.path } : {}),
	}));
}

/** `4:47 instructions[0].operation: unknown operation 'crate'`: one problem on one line, for people. */
export function describeProblem(p: InboxProblem): string {
	const where = [p.line !== undefined ? `${p.line}:${p.column ?? 1}` : '', p.path ?? ''].filter(Boolean).join(' ');
	return where ? `${where}: ${p.message}` : p.message;
}

/** Statuses whose file goes to done/ (it ran, will run, or already ran); the others go to failed/. */
export function isAccepted(status: InboxStatus): boolean {
	return status === 'started' || status === 'queued' || status === 'duplicate';
}
