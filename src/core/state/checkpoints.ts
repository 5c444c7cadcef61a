// Named checkpoints of the workspace files runs touched: .quantum/checkpoints/<name>/{manifest.json, blobs/<sha>}.
// A checkpoint is built in a hidden temp folder and renamed into place, so a half-made one never shows; restoring
// one is itself a journaled run (a transaction), so a restore can be rolled back like any run.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { SandboxError, StateError, StepError } from '../errors';
import type { Sandbox } from '../sandbox/types';
import { fsyncDir, ioError, readJsonFile, writeJsonAtomic } from './atomicFs';
import { BlobStore } from './blobs';
import { IN_MEMORY_LIMIT, inspectPath, lstatOrUndefined, readFileFast, sha256 } from './fsState';
import type { PathState } from './fsState';
import { errnoCode, isMissing } from './io';
import { Journal, readJournal } from './journal';
import { acquireRunLock } from './runLock';
import { assertSafeName, createRunDir, listRuns, newRunId, runPaths, stateDirFor, writeRunSummary } from './runStore';
import { createTransaction } from './transaction';

export interface CheckpointContext {
	workspace: string;
	/** Default: <workspace>/.quantum */
	stateDir?: string;
	sandbox: Sandbox;
}

/** One path in a checkpoint: what it held (a missing path is recorded too, so restore removes it). */
export interface CheckpointEntry {
	path: string;
	kind: 'file' | 'dir' | 'absent';
	blob?: string;
	mode?: number;
	size?: number;
}

export interface SkippedPath {
	path: string;
	reason: string;
}

export interface CheckpointManifest {
	version: 1;
	name: string;
	createdAt: number;
	entries: CheckpointEntry[];
	/** Paths that could not be saved (unreadable, special files, symlinks, protected): reported, never dropped silently. */
	skipped: SkippedPath[];
}

export interface CheckpointInfo {
	name: string;
	createdAt: number;
	files: number;
	dirs: number;
	absent: number;
	bytes: number;
	skipped: SkippedPath[];
	/** Set when the manifest is damaged (StateError 'corrupt' message, naming the file). */
	error?: string;
}

export interface CheckpointRestoreResult {
	/** The run that journaled the restore: roll it back to undo the restore. */
	runId: string;
	restored: number;
	removed: number;
	unchanged: number;
	/** Paths left alone: changed outside any run (unless forced), or a write that failed. */
	conflicts: SkippedPath[];
	/** Paths the checkpoint itself could not hold when it was made. */
	skipped: SkippedPath[];
}

const MANIFEST = 'manifest.json';
const STEP_ID = 'restore-checkpoint';

export function checkpointsDir(stateDir: string): string {
	return path.join(stateDir, 'checkpoints');
}

/** Paths a checkpoint never holds: git internals and the orchestrator's own state. */
function excluded(rel: string): string | undefined {
	const parts = rel.split('/');
	if (parts.includes('.git')) return 'inside .git: checkpoints never touch git internals';
	if (parts[0] === '.quantum') return "inside .quantum: the orchestrator's own state";
	return undefined;
}

function stateKey(s: { kind: string; hash?: string; blob?: string }): string {
	return s.kind === 'file' ? `file:${s.hash ?? s.blob}` : s.kind;
}

/**
 * Every path the runs under stateDir wrote, with every state the journals saw there (before-images and what runs
 * left), so a restore can tell run output from edits made outside any run.
 */
export async function collectTouchedPaths(stateDir: string): Promise<Map<string, Set<string>>> {
	const out = new Map<string, Set<string>>();
	for (const run of await listRuns(stateDir)) {
		let contents;
		try {
			contents = await readJournal(runPaths(stateDir, run.runId).journal);
		} catch (err) {
			if (StateError.is(err, 'not-found')) continue;
			throw err;
		}
		for (const rec of [...contents.records, ...contents.afterCorruption]) {
			if (rec.t !== 'before' && rec.t !== 'after') continue;
			let states = out.get(rec.path);
			if (!states) out.set(rec.path, (states = new Set()));
			if (rec.t === 'after' || rec.kind !== 'file' || rec.blob !== undefined) states.add(stateKey(rec));
		}
	}
	return out;
}

/**
 * Save the current content of the paths runs touched (or of `paths`, directories expanded) as checkpoint `name`.
 * An existing name is StateError 'conflict' unless `replace`.
 */
export async function createCheckpoint(
	ctx: CheckpointContext,
	name: string,
	opts: { paths?: string[]; replace?: boolean } = {},
): Promise<CheckpointInfo> {
	assertSafeName('checkpoint name', name);
	const stateDir = ctx.stateDir ?? stateDirFor(ctx.workspace);
	const root = checkpointsDir(stateDir);
	const final = path.join(root, name);
	if ((await lstatOrUndefined(final)) && !opts.replace) {
		throw new StateError('conflict', `checkpoint "${name}" already exists (replace it explicitly, or pick another name)`);
	}
	const wanted = opts.paths ? await expandPaths(ctx.sandbox, opts.paths) : { paths: [...(await collectTouchedPaths(stateDir)).keys()], skipped: [] };
	const manifest: CheckpointManifest = { version: 1, name, createdAt: Date.now(), entries: [], skipped: [...wanted.skipped] };
	const temp = path.join(root, `.tmp-${name}-${randomBytes(4).toString('hex')}`);
	try {
		await mkdir(temp, { recursive: true });
		const blobs = new BlobStore(path.join(temp, 'blobs'));
		for (const rel of [...new Set(wanted.paths)].sort()) {
			const why = excluded(rel);
			if (why) {
				manifest.skipped.push({ path: rel, reason: why });
				continue;
			}
			try {
				const entry = await saveEntry(ctx.sandbox, blobs, rel);
				if ('reason' in entry) manifest.skipped.push(entry);
				else manifest.entries.push(entry);
			} catch (err) {
				if (StateError.is(err, 'disk-full')) throw err;
				manifest.skipped.push({ path: rel, reason: `unreadable: ${err instanceof Error ? err.message : String(err)}` });
			}
		}
		await blobs.sync();
		await writeJsonAtomic(path.join(temp, MANIFEST), manifest, 'checkpoint manifest');
		await publish(root, temp, final);
	} catch (err) {
		await rm(temp, { recursive: true, force: true }).catch(() => undefined);
		throw err instanceof StateError ? err : ioError('checkpoint', final, err);
	}
	return info(manifest);
}

/** Move a finished checkpoint folder into place, replacing an older one of the same name. */
async function publish(root: string, temp: string, final: string): Promise<void> {
	let old: string | undefined;
	if (await lstatOrUndefined(final)) {
		old = path.join(root, `.old-${path.basename(final)}-${randomBytes(4).toString('hex')}`);
		await rename(final, old);
	}
	await rename(temp, final);
	await fsyncDir(root);
	if (old) await rm(old, { recursive: true, force: true });
}

async function saveEntry(sandbox: Sandbox, blobs: BlobStore, rel: string): Promise<CheckpointEntry | SkippedPath> {
	const abs = path.join(sandbox.root, ...rel.split('/'));
	try {
		if ((await sandbox.resolveRead(rel)) !== abs) {
			const st = await lstatOrUndefined(abs);
			if (st?.isSymbolicLink()) return { path: rel, reason: 'is a symlink: checkpoints hold regular files and directories' };
			return { path: rel, reason: 'is reached through a symlink: not followed' };
		}
	} catch (err) {
		if (err instanceof SandboxError) return { path: rel, reason: err.message };
		throw err;
	}
	const st = await lstatOrUndefined(abs);
	if (!st) return { path: rel, kind: 'absent' };
	if (st.isDirectory()) return { path: rel, kind: 'dir', mode: st.mode & 0o7777 };
	if (!st.isFile()) return { path: rel, reason: 'is a socket, FIFO or device' };
	let hash: string;
	if (st.size > IN_MEMORY_LIMIT) hash = await blobs.putLargeFile(abs);
	else {
		const data = await readFileFast(abs);
		hash = sha256(data);
		await blobs.write(hash, data);
	}
	return { path: rel, kind: 'file', blob: hash, mode: st.mode & 0o7777, size: st.size };
}

/** Given paths, directories expanded to everything under them (git internals and .quantum reported, not entered). */
async function expandPaths(sandbox: Sandbox, given: string[]): Promise<{ paths: string[]; skipped: SkippedPath[] }> {
	const paths: string[] = [];
	const skipped: SkippedPath[] = [];
	const queue: string[] = [];
	for (const g of given) {
		try {
			queue.push(sandbox.relative(await sandbox.resolveRead(g)));
		} catch (err) {
			if (err instanceof SandboxError) skipped.push({ path: g, reason: err.message });
			else throw err;
		}
	}
	while (queue.length > 0) {
		const rel = queue.shift() as string;
		if (rel === '') {
			for (const name of await readdir(sandbox.root)) queue.push(name);
			continue;
		}
		const why = excluded(rel);
		if (why) {
			skipped.push({ path: rel, reason: why });
			continue;
		}
		paths.push(rel);
		const st = await lstatOrUndefined(path.join(sandbox.root, ...rel.split('/')));
		if (st?.isDirectory()) {
			try {
				for (const name of await readdir(path.join(sandbox.root, ...rel.split('/')))) queue.push(`${rel}/${name}`);
			} catch (err) {
				skipped.push({ path: rel, reason: `cannot list: ${errnoCode(err) ?? String(err)}` });
			}
		}
	}
	return { paths, skipped };
}

function info(m: CheckpointManifest): CheckpointInfo {
	let files = 0;
	let dirs = 0;
	let absent = 0;
	let bytes = 0;
	for (const e of m.entries) {
		if (e.kind === 'file') {
			files++;
			bytes += e.size ?? 0;
		} else if (e.kind === 'dir') dirs++;
		else absent++;
	}
	return { name: m.name, createdAt: m.createdAt, files, dirs, absent, bytes, skipped: m.skipped };
}

async function readManifest(stateDir: string, name: string): Promise<CheckpointManifest> {
	assertSafeName('checkpoint name', name);
	const file = path.join(checkpointsDir(stateDir), name, MANIFEST);
	try {
		return await readJsonFile<CheckpointManifest>(file, 'checkpoint manifest');
	} catch (err) {
		if (StateError.is(err, 'not-found')) throw new StateError('not-found', `no checkpoint named "${name}"`);
		throw err;
	}
}

/** Complete checkpoints, oldest first; one with a damaged manifest is listed with `error` (restore refuses it). */
export async function listCheckpoints(ctx: { workspace: string; stateDir?: string }): Promise<CheckpointInfo[]> {
	const stateDir = ctx.stateDir ?? stateDirFor(ctx.workspace);
	let names: string[];
	try {
		names = (await readdir(checkpointsDir(stateDir), { withFileTypes: true })).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name);
	} catch (err) {
		if (isMissing(err)) return [];
		throw ioError('checkpoints folder', checkpointsDir(stateDir), err);
	}
	const out: CheckpointInfo[] = [];
	for (const name of names) {
		const manifest = path.join(checkpointsDir(stateDir), name, MANIFEST);
		const st = await lstatOrUndefined(manifest);
		if (!st) continue; // being replaced, or a leftover gc removes
		try {
			out.push(info(await readManifest(stateDir, name)));
		} catch (err) {
			// One damaged manifest must not hide the other checkpoints: list it with its error.
			if (!StateError.is(err, 'corrupt')) throw err;
			out.push({ name, createdAt: st.mtimeMs, files: 0, dirs: 0, absent: 0, bytes: 0, skipped: [], error: err.message });
		}
	}
	return out.sort((a, b) => a.createdAt - b.createdAt || (a.name < b.name ? -1 : 1));
}

/** Delete a checkpoint (a damaged one too). */
export async function deleteCheckpoint(ctx: { workspace: string; stateDir?: string }, name: string): Promise<void> {
	const stateDir = ctx.stateDir ?? stateDirFor(ctx.workspace);
	assertSafeName('checkpoint name', name);
	const dir = path.join(checkpointsDir(stateDir), name);
	if (!(await lstatOrUndefined(dir))) throw new StateError('not-found', `no checkpoint named "${name}"`);
	const aside = path.join(checkpointsDir(stateDir), `.old-${name}-${randomBytes(4).toString('hex')}`);
	await rename(dir, aside);
	await fsyncDir(checkpointsDir(stateDir));
	await rm(aside, { recursive: true, force: true });
}

function sameAsEntry(e: CheckpointEntry, now: PathState): boolean {
	if (e.kind === 'absent') return now.kind === 'absent';
	if (e.kind === 'dir') return now.kind === 'dir';
	return now.kind === 'file' && now.hash === e.blob && now.mode === e.mode;
}

/**
 * Put the checkpoint's paths back, as a new journaled run (returned, so the restore can be rolled back). A path
 * whose current content was never seen by any run (edited by hand since) is a conflict and left alone unless
 * `force`; even then its content is journaled, so rolling the restore back brings it back.
 */
export async function restoreCheckpoint(
	ctx: CheckpointContext,
	name: string,
	opts: { force?: boolean } = {},
): Promise<CheckpointRestoreResult> {
	const stateDir = ctx.stateDir ?? stateDirFor(ctx.workspace);
	const manifest = await readManifest(stateDir, name);
	const known = await collectTouchedPaths(stateDir);
	const blobs = new BlobStore(path.join(checkpointsDir(stateDir), name, 'blobs'));
	const runId = newRunId();
	const paths = await createRunDir(stateDir, runId);
	const release = await acquireRunLock(paths.dir);
	const journal = await Journal.open(paths.journal);
	const startedAt = Date.now();
	const result: CheckpointRestoreResult = { runId, restored: 0, removed: 0, unchanged: 0, conflicts: [], skipped: manifest.skipped };
	const tx = createTransaction({ runId, workspace: ctx.workspace, stateDir, sandbox: ctx.sandbox, journal });
	try {
		const workflow = { name: `restore checkpoint ${name}`, checkpoint: name, instructions: [{ id: STEP_ID }] };
		journal.append({ t: 'run', runId, startedAt, workspace: ctx.workspace, name: workflow.name, steps: 1, variables: {}, undo: {}, workflow, options: { concurrency: 1, mode: 'sequential', onFailure: 'stop' } });
		journal.append({ t: 'step-start', id: STEP_ID, attempt: 1, at: startedAt });
		await journal.flush();
		const fs = tx.fsFor(STEP_ID);

		const work: { e: CheckpointEntry; now: PathState }[] = [];
		for (const e of manifest.entries) {
			const now = await inspectPath(path.join(ctx.sandbox.root, ...e.path.split('/')));
			if (sameAsEntry(e, now)) {
				result.unchanged++;
				continue;
			}
			const seen = known.get(e.path);
			const key = now.kind === 'file' ? `file:${now.hash}` : now.kind;
			if (!opts.force && !seen?.has(key)) {
				result.conflicts.push({ path: e.path, reason: 'changed outside any run since it was journaled; not overwritten (force to restore it)' });
				continue;
			}
			work.push({ e, now });
		}
		const attempt = async (rel: string, fn: () => Promise<void>): Promise<boolean> => {
			try {
				await fn();
				return true;
			} catch (err) {
				if (!(err instanceof StepError) && !(err instanceof SandboxError)) throw err;
				if (err instanceof StepError && err.code === 'disk-full') throw err;
				result.conflicts.push({ path: rel, reason: err.message });
				return false;
			}
		};
		const depth = (p: string) => p.split('/').length;
		// Removals deepest first, then directories shallowest first, then files.
		for (const { e, now } of [...work].sort((a, b) => depth(b.e.path) - depth(a.e.path))) {
			const clash = e.kind === 'absent' || (e.kind === 'dir' && now.kind !== 'dir' && now.kind !== 'absent') || (e.kind === 'file' && now.kind === 'dir');
			if (clash && now.kind !== 'absent' && (await attempt(e.path, () => fs.remove(e.path))) && e.kind === 'absent') result.removed++;
		}
		for (const { e } of work.filter((w) => w.e.kind === 'dir').sort((a, b) => depth(a.e.path) - depth(b.e.path))) {
			if (await attempt(e.path, () => fs.mkdir(e.path))) result.restored++;
		}
		for (const { e } of work.filter((w) => w.e.kind === 'file')) {
			const ok = await attempt(e.path, async () => fs.writeFile(e.path, await blobs.get(e.blob as string), { mode: e.mode }));
			if (ok) result.restored++;
		}
		const at = Date.now();
		journal.append({ t: 'step-end', id: STEP_ID, status: 'succeeded', attempt: 1, at, durationMs: at - startedAt, output: { ...result } });
		journal.append({ t: 'run-end', status: 'succeeded', at, durationMs: at - startedAt });
		// Not committed: the restore stays a run that `qo rollback` can undo.
		await journal.flush();
		await writeRunSummary(stateDir, {
			runId,
			workflow: workflow.name,
			status: 'succeeded',
			startedAt,
			durationMs: at - startedAt,
			steps: { total: 1, succeeded: 1, failed: 0, skipped: 0, cancelled: 0 },
			committed: false,
		});
		return result;
	} catch (err) {
		const at = Date.now();
		const error = err instanceof Error ? err.message : String(err);
		journal.append({ t: 'step-end', id: STEP_ID, status: 'failed', attempt: 1, at, durationMs: at - startedAt, error });
		journal.append({ t: 'run-end', status: 'failed', at, durationMs: at - startedAt });
		await journal.flush().catch(() => undefined);
		throw err;
	} finally {
		tx.dispose();
		await journal.close().catch(() => undefined);
		await release();
	}
}

/** Checkpoint folder names gc may consider (complete ones and leftovers of interrupted creations). */
export async function checkpointFolders(stateDir: string): Promise<string[]> {
	try {
		return (await readdir(checkpointsDir(stateDir), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
	} catch (err) {
		if (isMissing(err)) return [];
		throw err;
	}
}
