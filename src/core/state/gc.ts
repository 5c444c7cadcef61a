// Garbage collection of run state and checkpoints under .quantum/, so history cannot fill a disk.
//
// Policy (the README's "State and garbage collection" section copies this):
// - Runs: keep at most GC_MAX_RUNS (50) finished runs and at most GC_MAX_RUN_BYTES (512 MiB) of run state
//   (journals, before-image blobs, summaries of all runs together). When over either limit, finished runs are
//   deleted oldest first: first those whose outcome is final (succeeded/committed, or rolled back), then — only if
//   still over a limit — other finished runs (failed, cancelled, rejected, which could still be rolled back).
// - A run is never deleted while it is running or interrupted (no 'run-end' record, or its lock is held by a live
//   process): it can still be resumed or rolled back. Deletion takes the run's lock first, so a run being resumed
//   or rolled back by another process at that moment is skipped. The current run (`keep`) is never deleted.
// - Checkpoints: keep the newest GC_MAX_CHECKPOINTS (20), by creation time.
// - Leftovers of interrupted writes (half-made checkpoint folders, run folders with no journal) are deleted once
//   older than GC_LEFTOVER_GRACE_MS (1 hour), so a checkpoint or run being created right now is never touched.
// The engine runs this after each run; nothing outside .quantum/runs and .quantum/checkpoints is ever deleted.
import { lstat, readdir, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { StateError } from '../errors';
import type { CheckpointInfo } from './checkpoints';
import { checkpointFolders, checkpointsDir, listCheckpoints } from './checkpoints';
import { isMissing } from './io';
import { acquireRunLock } from './runLock';
import type { RunSummary } from './runStore';
import { listRuns, runPaths, runsDir } from './runStore';

export const GC_MAX_RUNS = 50;
export const GC_MAX_RUN_BYTES = 512 * 1024 * 1024;
export const GC_MAX_CHECKPOINTS = 20;
export const GC_LEFTOVER_GRACE_MS = 60 * 60 * 1000;

export interface GcPolicy {
	maxRuns: number;
	maxRunBytes: number;
	maxCheckpoints: number;
}

export const DEFAULT_GC_POLICY: Readonly<GcPolicy> = Object.freeze({
	maxRuns: GC_MAX_RUNS,
	maxRunBytes: GC_MAX_RUN_BYTES,
	maxCheckpoints: GC_MAX_CHECKPOINTS,
});

export interface GcResult {
	removedRuns: string[];
	removedCheckpoints: string[];
	/** Leftover folders of interrupted creations that were removed. */
	removedLeftovers: string[];
	freedBytes: number;
	/** Run state left, all runs together. */
	runBytes: number;
	/** Set when limits are still exceeded because only unfinished (protected) runs remain. */
	overLimit?: string;
}

/** Total size of the files under a folder (0 when it is gone). */
export async function folderBytes(dir: string): Promise<number> {
	let total = 0;
	const stack = [dir];
	while (stack.length > 0) {
		const d = stack.pop() as string;
		let entries;
		try {
			entries = await readdir(d, { withFileTypes: true });
		} catch (err) {
			if (isMissing(err)) continue;
			throw err;
		}
		for (const e of entries) {
			const p = path.join(d, e.name);
			if (e.isDirectory()) stack.push(p);
			else total += (await lstat(p).catch(() => undefined))?.size ?? 0;
		}
	}
	return total;
}

function finished(r: RunSummary): boolean {
	return r.status !== 'running' && r.status !== 'interrupted';
}

function finalOutcome(r: RunSummary): boolean {
	return r.status === 'rolled_back' || r.status === 'succeeded' || r.committed;
}

async function oldEnough(dir: string, now: number): Promise<boolean> {
	const st = await lstat(dir).catch(() => undefined);
	return st !== undefined && now - st.mtimeMs > GC_LEFTOVER_GRACE_MS;
}

/** Apply the policy above to stateDir. */
export async function collectGarbage(
	stateDir: string,
	policy: Partial<GcPolicy> = {},
	opts: { keep?: string[]; now?: number } = {},
): Promise<GcResult> {
	const limits = { ...DEFAULT_GC_POLICY, ...policy };
	const keep = new Set(opts.keep ?? []);
	const now = opts.now ?? Date.now();
	const result: GcResult = { removedRuns: [], removedCheckpoints: [], removedLeftovers: [], freedBytes: 0, runBytes: 0 };

	const runs = await listRuns(stateDir);
	const sizes = new Map<string, number>();
	for (const r of runs) sizes.set(r.runId, await folderBytes(runPaths(stateDir, r.runId).dir));
	let bytes = [...sizes.values()].reduce((a, b) => a + b, 0);
	let finishedCount = runs.filter(finished).length;
	const oldestFirst = [...runs].reverse().filter((r) => finished(r) && !keep.has(r.runId));
	const candidates = [...oldestFirst.filter(finalOutcome), ...oldestFirst.filter((r) => !finalOutcome(r))];
	for (const r of candidates) {
		if (finishedCount <= limits.maxRuns && bytes <= limits.maxRunBytes) break;
		const dir = runPaths(stateDir, r.runId).dir;
		try {
			await acquireRunLock(dir);
		} catch (err) {
			if (StateError.is(err, 'locked')) continue;
			throw err;
		}
		await rm(dir, { recursive: true, force: true });
		const size = sizes.get(r.runId) ?? 0;
		bytes -= size;
		finishedCount--;
		result.freedBytes += size;
		result.removedRuns.push(r.runId);
	}
	if (finishedCount > limits.maxRuns || bytes > limits.maxRunBytes) {
		result.overLimit = `run state is ${bytes} bytes in ${runs.length - result.removedRuns.length} runs; what is left is running, interrupted or locked`;
	}
	result.runBytes = bytes;

	// Run folders without a journal or summary (creation interrupted) once old enough.
	const listed = new Set(runs.map((r) => r.runId));
	try {
		for (const d of await readdir(runsDir(stateDir), { withFileTypes: true })) {
			const dir = path.join(runsDir(stateDir), d.name);
			if (!d.isDirectory() || listed.has(d.name) || keep.has(d.name) || !(await oldEnough(dir, now))) continue;
			const size = await folderBytes(dir);
			await rm(dir, { recursive: true, force: true });
			result.freedBytes += size;
			result.removedLeftovers.push(path.relative(stateDir, dir));
		}
	} catch (err) {
		if (!isMissing(err)) throw err;
	}

	// Checkpoints: newest maxCheckpoints kept; half-made ones removed once old enough.
	const checkpoints: CheckpointInfo[] = await listCheckpoints({ workspace: path.dirname(stateDir), stateDir });
	const complete = new Set(checkpoints.map((c) => c.name));
	for (const c of checkpoints.slice(0, Math.max(0, checkpoints.length - limits.maxCheckpoints))) {
		const dir = path.join(checkpointsDir(stateDir), c.name);
		result.freedBytes += await folderBytes(dir);
		await rm(dir, { recursive: true, force: true });
		result.removedCheckpoints.push(c.name);
	}
	for (const name of await checkpointFolders(stateDir)) {
		const dir = path.join(checkpointsDir(stateDir), name);
		if (complete.has(name) || !(await oldEnough(dir, now))) continue;
		result.freedBytes += await folderBytes(dir);
		await rm(dir, { recursive: true, force: true });
		result.removedLeftovers.push(path.relative(stateDir, dir));
	}
	return result;
}
