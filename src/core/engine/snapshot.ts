// The workflow a run started from: saved with the run when it starts, read back (or checked for changes) at resume.
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { StateError } from '../errors';
import { publishFile, type PublishedFile } from '../state/atomicFs';
import type { JournalRecord } from '../state/records';
import { runPaths } from '../state/runStore';
import { loadWorkflowFile, parseWorkflowText } from '../workflow/parse';
import type { Workflow } from '../workflow/schema';
import type { EngineContext } from './engineContext';

/** The snapshot's file name in the run folder. */
export const SNAPSHOT_FILE = 'workflow.json';

/** The exact text engine.parse read, so a run can save it instead of serializing the parsed workflow again. */
const parsedText = new WeakMap<Workflow, string>();

/** Remembers the text a workflow was parsed from (engine.parse), for snapshotBytes. */
export function rememberParsedText(workflow: Workflow, text: string): void {
	parsedText.set(workflow, text);
}

/**
 * The workflow's source to save with the run: the text engine.parse read, or the file's bytes when they still match
 * what was loaded. Otherwise (undefined) the run record holds the parsed workflow itself.
 */
export async function snapshotBytes(workflow: Workflow): Promise<Buffer | string | undefined> {
	const text = parsedText.get(workflow);
	if (text !== undefined) return text;
	if (!workflow.file || !workflow.sourceHash) return undefined;
	const bytes = await readFile(workflow.file).catch(() => undefined);
	if (!bytes || createHash('sha256').update(bytes).digest('hex') !== workflow.sourceHash) return undefined;
	return bytes;
}

/**
 * Puts the snapshot in the run folder (SNAPSHOT_FILE, renamed into place at once); it is durable once the returned
 * sync() and the folder's fsync are done, which the run's header, the only record naming it, waits for.
 */
export function writeSnapshot(runDir: string, bytes: Buffer | string): Promise<PublishedFile> {
	return publishFile(path.join(runDir, SNAPSHOT_FILE), bytes, 'workflow snapshot');
}

/**
 * The workflow to resume a run with: the one it started with, unless its file changed since, which only `force`
 * accepts (and then the new file is used).
 */
export async function workflowForResume(ctx: EngineContext, record: JournalRecord & { t: 'run' }, runId: string, force: boolean): Promise<Workflow> {
	const root = ctx.sandbox.root;
	const snapshot = () => recordedWorkflow(ctx, record, runPaths(ctx.stateDir, runId).dir);
	if (!record.file) return snapshot();
	const abs = path.resolve(root, record.file);
	let bytes: Buffer;
	try {
		bytes = await readFile(abs);
	} catch {
		ctx.services.logger.log('warn', 'resume', `workflow file ${record.file} is gone; resuming from the copy saved with the run`);
		return snapshot();
	}
	const hash = createHash('sha256').update(bytes).digest('hex');
	if (hash === record.sourceHash) return snapshot();
	if (!force) {
		throw new StateError(
			'changed',
			`workflow file ${record.file} changed since run ${runId} started; resume with --force to run the new version`,
		);
	}
	return loadWorkflowFile(abs, ctx.parseOptions);
}

/** The workflow exactly as the run started it: the verified copy in the run folder, or the inline one. */
export async function recordedWorkflow(ctx: EngineContext, record: JournalRecord & { t: 'run' }, runDir: string): Promise<Workflow> {
	if (!record.snapshot) return record.workflow as Workflow;
	const abs = record.file ? path.resolve(ctx.sandbox.root, record.file) : path.join(runDir, record.snapshot);
	const text = await readFile(path.join(runDir, record.snapshot), 'utf8');
	const parsed = parseWorkflowText(text, { ...ctx.parseOptions, file: abs });
	return { ...parsed, file: abs, sourceHash: record.sourceHash, variables: record.variables };
}
