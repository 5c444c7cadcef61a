// Where run state lives under .quantum/, run ids, run summaries for `qo runs`, global context and step durations.
//
//   .quantum/context.json              global context (update_context / context_key), written atomically
//   .quantum/stats.json                mean duration per step key, for critical-path estimates
//   .quantum/runs/<runId>/journal.log  the run's journal (see journal.ts for the framing)
//   .quantum/runs/<runId>/blobs/<sha>  before-images named by the sha256 of their bytes
//   .quantum/runs/<runId>/summary.json small status summary, rewritten atomically on status changes
//   .quantum/runs/<runId>/lock         held by the process executing or rolling back the run
//   .quantum/checkpoints/<name>/       manifest.json + blobs/<sha> (see checkpoints.ts)
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { StateError } from '../errors';
import type { RunStatus, RunUsage } from '../engine/events';
import { fsyncDir, ioError, readJsonFileIfExists, writeJsonAtomic } from './atomicFs';
import { isMissing } from './io';
import { readJournal } from './journal';
import { forEachStepEnd, type JournalRecord } from './records';
import { RUN_LOCK_FILE, runLockHolder } from './runLock';

export const STATE_DIR_NAME = '.quantum';

/** The default state folder of a workspace. */
export function stateDirFor(workspace: string): string {
	return path.join(workspace, STATE_DIR_NAME);
}

/** Run ids and checkpoint names are folder names: no separators, no leading dot. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function assertSafeName(kind: string, name: string): void {
	if (!SAFE_NAME.test(name)) {
		throw new StateError('not-found', `invalid ${kind} "${name}": use letters, digits, ".", "_" and "-" (not first)`);
	}
}

/** A new run id that sorts by start time: UTC `YYYYMMDD-HHMMSS-xxxx` (4 random hex digits). */
export function newRunId(now: Date = new Date()): string {
	const p = (n: number, w = 2) => String(n).padStart(w, '0');
	const date = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}`;
	const time = `${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
	return `${date}-${time}-${randomBytes(2).toString('hex')}`;
}

export interface RunPaths {
	dir: string;
	journal: string;
	blobs: string;
	summary: string;
	lock: string;
}

export function runsDir(stateDir: string): string {
	return path.join(stateDir, 'runs');
}

export function runPaths(stateDir: string, runId: string): RunPaths {
	assertSafeName('run id', runId);
	const dir = path.join(runsDir(stateDir), runId);
	return {
		dir,
		journal: path.join(dir, 'journal.log'),
		blobs: path.join(dir, 'blobs'),
		summary: path.join(dir, 'summary.json'),
		lock: path.join(dir, RUN_LOCK_FILE),
	};
}

/** Create a run's folder (and .quantum/runs/ if needed) durably; an existing folder is an error. */
export async function createRunDir(stateDir: string, runId: string): Promise<RunPaths> {
	const { paths, syncFolders } = await makeRunDir(stateDir, runId);
	await syncFolders();
	return paths;
}

/**
 * Create a run's folder (and .quantum/runs/ if needed) without waiting for the disk: `syncFolders` makes the new
 * entries durable (the folders' fsyncs, concurrently), for a caller that waits for it before the run's first record.
 */
export async function makeRunDir(stateDir: string, runId: string): Promise<{ paths: RunPaths; syncFolders: () => Promise<void> }> {
	const paths = runPaths(stateDir, runId);
	let madeRuns: string | undefined;
	try {
		// Synchronous (see io.ts): two directory entries, no wait for the device.
		madeRuns = mkdirSync(runsDir(stateDir), { recursive: true });
		mkdirSync(paths.dir);
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new StateError('io', `run ${runId} already exists in ${runsDir(stateDir)}`);
		throw ioError('run folder', paths.dir, err);
	}
	const folders = madeRuns === undefined ? [runsDir(stateDir)] : [runsDir(stateDir), stateDir, path.dirname(stateDir)];
	const syncFolders = async () => {
		try {
			await Promise.all(folders.map(fsyncDir));
		} catch (err) {
			throw ioError('run folder', paths.dir, err);
		}
	};
	return { paths, syncFolders };
}

export interface StepCounts {
	/** Steps in the workflow (0 when unknown). */
	total: number;
	succeeded: number;
	failed: number;
	skipped: number;
	cancelled: number;
}

/** What `qo runs` and the history view show for one run. */
export interface RunSummary {
	runId: string;
	/** Workflow name (or file, or run id when neither is known). */
	workflow: string;
	file?: string;
	status: RunStatus;
	startedAt: number;
	durationMs?: number;
	steps: StepCounts;
	/** A 'commit' record ends the journal: the run's effects are final (rollback is still possible). */
	committed: boolean;
	/** LLM tokens and cost, when the run made calls. */
	usage?: RunUsage;
}

export async function readRunSummary(stateDir: string, runId: string): Promise<RunSummary | undefined> {
	return readJsonFileIfExists<RunSummary>(runPaths(stateDir, runId).summary, 'run summary');
}

/** Write summary.json atomically (at run start, on status changes and at run end); `after`: see writeFileAtomic. */
export async function writeRunSummary(stateDir: string, summary: RunSummary, opts: { after?: Promise<unknown> } = {}): Promise<void> {
	await writeJsonAtomic(runPaths(stateDir, summary.runId).summary, summary, 'run summary', opts);
}

/** Patch an existing summary (no-op when the run has none). */
export async function updateRunSummary(stateDir: string, runId: string, patch: Partial<RunSummary>): Promise<void> {
	const current = await readRunSummary(stateDir, runId).catch(() => undefined);
	if (current) await writeRunSummary(stateDir, { ...current, ...patch });
}

/** Derive a summary from journal records (for runs without summary.json, e.g. killed before writing it). */
export function summarizeJournal(runId: string, records: readonly JournalRecord[]): RunSummary {
	const summary: RunSummary = {
		runId,
		workflow: runId,
		status: 'interrupted',
		startedAt: 0,
		steps: { total: 0, succeeded: 0, failed: 0, skipped: 0, cancelled: 0 },
		committed: false,
	};
	const last = new Map<string, 'succeeded' | 'failed' | 'skipped' | 'cancelled'>();
	let ended = false;
	for (const rec of records) {
		switch (rec.t) {
			case 'run': {
				summary.startedAt = rec.startedAt;
				if (rec.file !== undefined) summary.file = rec.file;
				summary.workflow = typeof rec.name === 'string' ? rec.name : (rec.file ?? runId);
				if (typeof rec.steps === 'number') summary.steps.total = rec.steps;
				break;
			}
			case 'step-end':
				last.set(rec.id, rec.status);
				break;
			case 'step-ends':
				forEachStepEnd(rec, (id) => last.set(id, 'succeeded'));
				break;
			case 'run-end':
				ended = true;
				summary.status = rec.status;
				summary.durationMs = rec.durationMs;
				break;
			case 'commit':
				summary.committed = true;
				break;
			case 'rollback-end':
				if (rec.conflicts.length === 0) summary.status = 'rolled_back';
				break;
			case 'resume':
				if (ended) summary.status = 'interrupted';
				ended = false;
				break;
		}
	}
	for (const status of last.values()) summary.steps[status]++;
	return summary;
}

/** All runs, newest first. Summaries that still say 'running' but whose process is gone show as 'interrupted'. */
export async function listRuns(stateDir: string): Promise<RunSummary[]> {
	let ids: string[];
	try {
		ids = (await readdir(runsDir(stateDir), { withFileTypes: true }))
			.filter((d) => d.isDirectory() && SAFE_NAME.test(d.name))
			.map((d) => d.name);
	} catch (err) {
		if (isMissing(err)) return [];
		throw ioError('runs folder', runsDir(stateDir), err);
	}
	const out: RunSummary[] = [];
	for (const runId of ids) {
		const summary = await loadRunSummary(stateDir, runId);
		if (summary) out.push(summary);
	}
	return out.sort((a, b) => b.startedAt - a.startedAt || (b.runId < a.runId ? -1 : 1));
}

/** One run's summary from summary.json or, failing that, its journal; undefined when the folder holds neither. */
export async function loadRunSummary(stateDir: string, runId: string): Promise<RunSummary | undefined> {
	const paths = runPaths(stateDir, runId);
	let summary = await readRunSummary(stateDir, runId).catch(() => undefined);
	if (!summary) {
		try {
			const journal = await readJournal(paths.journal);
			summary = summarizeJournal(runId, [...journal.records, ...journal.afterCorruption]);
		} catch {
			return undefined;
		}
	}
	if (summary.status === 'running' || summary.status === 'interrupted') {
		const live = await runLockHolder(paths.dir).catch(() => undefined);
		summary = { ...summary, status: live ? 'running' : 'interrupted' };
	}
	return summary;
}

/** A run id from what the user typed: exact, a unique prefix, or (undefined) the newest run. */
export async function resolveRunId(stateDir: string, given?: string): Promise<string> {
	const runs = await listRuns(stateDir);
	if (given === undefined) {
		if (runs.length === 0) throw new StateError('not-found', `no runs in ${runsDir(stateDir)}`);
		return runs[0].runId;
	}
	const exact = runs.find((r) => r.runId === given);
	if (exact) return exact.runId;
	const matches = runs.filter((r) => r.runId.startsWith(given));
	if (matches.length === 1) return matches[0].runId;
	if (matches.length > 1) throw new StateError('not-found', `run "${given}" is ambiguous: ${matches.map((r) => r.runId).join(', ')}`);
	throw new StateError('not-found', `no run "${given}" in ${runsDir(stateDir)}`);
}

/** Global context that persists between runs (`update_context` / `context_key`), in .quantum/context.json. */
export class ContextStore {
	private constructor(
		readonly file: string,
		private readonly values: Map<string, unknown>,
	) {}

	static async load(stateDir: string): Promise<ContextStore> {
		const file = path.join(stateDir, 'context.json');
		const data = await readJsonFileIfExists<Record<string, unknown>>(file, 'global context');
		if (data !== undefined && (typeof data !== 'object' || data === null || Array.isArray(data))) {
			throw new StateError('corrupt', `global context ${file} is corrupt (expected a JSON object)`);
		}
		return new ContextStore(file, new Map(Object.entries(data ?? {})));
	}

	get(key: string): unknown {
		return this.values.get(key);
	}

	set(key: string, value: unknown): void {
		this.values.set(key, value);
	}

	toJSON(): Record<string, unknown> {
		return Object.fromEntries(this.values);
	}

	/** Write atomically; the folder is created if needed. */
	async save(): Promise<void> {
		await mkdir(path.dirname(this.file), { recursive: true }).catch((err: unknown) => {
			throw ioError('global context', this.file, err);
		});
		await writeJsonAtomic(this.file, this.toJSON(), 'global context');
	}
}

interface DurationEntry {
	meanMs: number;
	samples: number;
}

/**
 * Mean duration per step key (the caller picks the key, e.g. `<workflow>#<step id>`), in .quantum/stats.json.
 * The mean weighs at most the last MAX_SAMPLES runs equally, so it follows a step that got slower or faster.
 */
export class DurationStats {
	static readonly MAX_SAMPLES = 20;

	private constructor(
		readonly file: string,
		private readonly entries: Map<string, DurationEntry>,
	) {}

	static async load(stateDir: string): Promise<DurationStats> {
		const file = path.join(stateDir, 'stats.json');
		const data = await readJsonFileIfExists<{ steps?: Record<string, DurationEntry> }>(file, 'duration statistics');
		const entries = new Map<string, DurationEntry>();
		for (const [key, e] of Object.entries(data?.steps ?? {})) {
			if (typeof e?.meanMs === 'number' && typeof e.samples === 'number') entries.set(key, e);
		}
		return new DurationStats(file, entries);
	}

	get size(): number {
		return this.entries.size;
	}

	/** Mean duration in ms, or undefined when never measured. */
	mean(key: string): number | undefined {
		return this.entries.get(key)?.meanMs;
	}

	record(key: string, durationMs: number): void {
		const e = this.entries.get(key) ?? { meanMs: 0, samples: 0 };
		const n = Math.min(e.samples + 1, DurationStats.MAX_SAMPLES);
		this.entries.set(key, { meanMs: e.meanMs + (durationMs - e.meanMs) / n, samples: n });
	}

	async save(): Promise<void> {
		await mkdir(path.dirname(this.file), { recursive: true }).catch((err: unknown) => {
			throw ioError('duration statistics', this.file, err);
		});
		await writeJsonAtomic(this.file, { version: 1, steps: Object.fromEntries(this.entries) }, 'duration statistics');
	}
}
