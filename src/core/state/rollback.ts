// Rollback: put every path a run touched back to its first before-image, newest first, never over later work.
import { chmodSync, mkdirSync, rmdirSync } from 'node:fs';
import { access, mkdir, open, readdir, rm, symlink, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { SandboxError, StateError } from '../errors';
import type { Sandbox } from '../sandbox/types';
import { fsyncDir } from './atomicFs';
import { BlobStore } from './blobs';
import { inspectPath, isLinkMode, writeFileDurably } from './fsState';
import type { PathState } from './fsState';
import { errnoCode, isMissing } from './io';
import { Journal, readJournal, salvageJournal } from './journal';
import { forEachLimit } from './pool';
import type { JournalRecord } from './records';
import { acquireRunLock } from './runLock';
import type { ReleaseLock } from './runLock';
import { runPaths, stateDirFor, updateRunSummary } from './runStore';

/** Restores in flight at once: enough to overlap fsyncs (libuv runs 4 by default), few enough to stay polite. */
const DEFAULT_ROLLBACK_PARALLELISM = 16;

export interface CompensationResult {
	step: string;
	ok: boolean;
	error?: string;
}

export interface RollbackOptions {
	runId: string;
	workspace: string;
	/** Default: <workspace>/.quantum */
	stateDir?: string;
	sandbox: Sandbox;
	/** Restore paths changed since the run too (the sandbox is still enforced). */
	force?: boolean;
	/**
	 * Run the `undo` compensations of these steps (succeeded steps, and steps in doubt: started, never ended, so a
	 * crash may have come after their effect; newest first) and report each. Called before files are restored; steps
	 * already compensated successfully by an earlier, interrupted rollback are not passed.
	 */
	compensate?: (stepIds: string[]) => Promise<CompensationResult[]>;
	/** The run's open journal, when the caller (the engine, on_failure: rollback) already holds the run lock. */
	journal?: Journal;
	concurrency?: number;
}

export interface RollbackResult {
	/** Paths brought back to a prior file or directory. */
	restored: number;
	/** Paths the run had created, removed. */
	removed: number;
	/** Paths already at their before-image (e.g. restored by an interrupted rollback). */
	unchanged: number;
	/** Paths left alone, with the reason (changed since the run, sandbox refusal, missing before-image...). */
	conflicts: { path: string; reason: string }[];
	compensations: CompensationResult[];
}

type Before = Extract<JournalRecord, { t: 'before' }>;
type After = Extract<JournalRecord, { t: 'after' }>;

/** The state a before-image or an after record describes. */
type Wanted =
	| { kind: 'absent' }
	| { kind: 'dir'; mode?: number }
	| { kind: 'file'; hash: string; mode?: number }
	| { kind: 'symlink'; hash: string; mode?: number };

interface Entry {
	path: string;
	image: Before;
	last?: After;
	/** A 'before' came after the last 'after': an effect was interrupted, the current state is the run's. */
	inFlight: boolean;
	restored: boolean;
	/** Order of the last record touching the path (newest first = highest). */
	seq: number;
}

type Action = 'none' | 'write' | 'unlink-write' | 'unlink' | 'rmdir' | 'rmdir-write' | 'mkdir' | 'chmod' | 'unlink-mkdir';

interface Planned {
	entry: Entry;
	abs: string;
	target: Wanted;
	/** What was there when inspected. */
	now: PathState;
	action: Action;
	done?: boolean;
}

function wanted(rec: Before | After): Wanted | undefined {
	if (rec.kind === 'absent') return { kind: 'absent' };
	if (rec.kind === 'dir') return { kind: 'dir', mode: rec.mode };
	const hash = rec.t === 'before' ? rec.blob : rec.hash;
	if (hash === undefined) return undefined;
	return isLinkMode(rec.mode) ? { kind: 'symlink', hash, mode: rec.mode } : { kind: 'file', hash, mode: rec.mode };
}

function matches(w: Wanted, s: PathState, withDirMode: boolean): boolean {
	switch (w.kind) {
		case 'absent':
			return s.kind === 'absent';
		case 'dir':
			return s.kind === 'dir' && (!withDirMode || w.mode === undefined || w.mode === s.mode);
		case 'file':
		case 'symlink':
			return s.kind === w.kind && s.hash === w.hash && (w.mode === undefined || w.mode === s.mode);
	}
}

function octal(mode: number): string {
	return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** Why the current state is not what the run left there, in words. */
function changeReason(expected: Wanted, now: PathState): string {
	if (now.kind === 'other') return 'is now a socket, FIFO or device';
	if (expected.kind === 'absent') return `was created since the run (now a ${now.kind === 'symlink' ? 'symlink' : now.kind === 'dir' ? 'directory' : 'file'})`;
	if (now.kind === 'absent') return 'was deleted since the run';
	if (expected.kind !== now.kind) return `is now a ${now.kind === 'dir' ? 'directory' : now.kind}, the run left a ${expected.kind === 'dir' ? 'directory' : expected.kind}`;
	if (expected.kind !== 'dir' && 'hash' in now && expected.hash !== now.hash) return 'was changed since the run (content differs)';
	if ('mode' in now && expected.mode !== undefined) return `mode was changed since the run (${octal(expected.mode)} → ${octal(now.mode)})`;
	return 'was changed since the run';
}

/** Read the journal into one entry per path, plus the steps to compensate (succeeded or in doubt, newest first). */
function analyse(records: readonly JournalRecord[]): {
	entries: Entry[];
	steps: string[];
	interruptedRollback: boolean;
} {
	const byPath = new Map<string, Entry>();
	/** step → position of its last step-start / step-end (and whether that end was a success). */
	const lastStart = new Map<string, number>();
	const lastEnd = new Map<string, { seq: number; succeeded: boolean }>();
	const compensated = new Set<string>();
	let rollbackOpen = false;
	records.forEach((rec, seq) => {
		switch (rec.t) {
			case 'before': {
				const e = byPath.get(rec.path);
				if (!e) byPath.set(rec.path, { path: rec.path, image: rec, inFlight: true, restored: false, seq });
				else Object.assign(e, { inFlight: true, restored: false, seq });
				break;
			}
			case 'after': {
				const e = byPath.get(rec.path);
				if (e) Object.assign(e, { last: rec, inFlight: false, seq });
				break;
			}
			case 'restored': {
				const e = byPath.get(rec.path);
				if (e) e.restored = true;
				break;
			}
			case 'step-start':
				lastStart.set(rec.id, seq);
				break;
			case 'step-end':
				lastEnd.set(rec.id, { seq, succeeded: rec.status === 'succeeded' });
				break;
			case 'compensated':
				if (rec.ok) compensated.add(rec.step);
				break;
			case 'rollback-start':
				rollbackOpen = true;
				break;
			case 'rollback-end':
				rollbackOpen = false;
				break;
		}
	});
	// A step is compensated when it succeeded, or when it is in doubt: started (the engine journals step-start,
	// durably, before an external effect) and never ended, so the crash may have come after its effect. Its undo
	// must then cope with an effect that may not have happened, as a saga's compensations do.
	const due: [id: string, at: number][] = [];
	for (const [id, end] of lastEnd) if (end.succeeded && (lastStart.get(id) ?? -1) < end.seq) due.push([id, end.seq]);
	for (const [id, start] of lastStart) if (start > (lastEnd.get(id)?.seq ?? -1)) due.push([id, start]);
	const steps = due
		.filter(([id]) => !compensated.has(id))
		.sort((a, b) => b[1] - a[1])
		.map(([id]) => id);
	const entries = [...byPath.values()].sort((a, b) => b.seq - a.seq);
	return { entries, steps, interruptedRollback: rollbackOpen };
}

function choose(target: Wanted, now: PathState): Action {
	if (matches(target, now, true)) return 'none';
	switch (target.kind) {
		case 'absent':
			return now.kind === 'dir' ? 'rmdir' : 'unlink';
		case 'dir':
			return now.kind === 'dir' ? 'chmod' : now.kind === 'absent' ? 'mkdir' : 'unlink-mkdir';
		case 'file':
			return now.kind === 'dir' ? 'rmdir-write' : now.kind === 'file' || now.kind === 'absent' ? 'write' : 'unlink-write';
		case 'symlink':
			return now.kind === 'dir' ? 'rmdir-write' : now.kind === 'absent' ? 'write' : 'unlink-write';
	}
}

function depth(p: string): number {
	let n = 0;
	for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) === 0x2f) n++;
	return n;
}

/** Write a file's before-image bytes in place (same inode when it exists) with its mode, and fsync it. */
async function restoreFile(abs: string, data: Buffer, mode: number | undefined, now: PathState): Promise<void> {
	const perm = mode === undefined ? 0o644 : mode & 0o7777;
	const chmod = now.kind === 'file' && now.mode === perm ? undefined : perm;
	const write = () => writeFileDurably(abs, data, { flags: 'w', createMode: perm, chmod, sync: 'full' });
	try {
		await write();
	} catch (err) {
		const code = errnoCode(err);
		if (code === 'ENOENT') mkdirSync(path.dirname(abs), { recursive: true });
		else if (code === 'EACCES') chmodSync(abs, 0o600); // the run made it read-only
		else throw err;
		await writeFileDurably(abs, data, { flags: 'w', createMode: perm, chmod: perm, sync: 'full' });
	}
}

/**
 * A crash in the middle of an earlier rollback can leave a path absent (between unlink and write) or holding a
 * prefix of its before-image (mid-write). Only when resuming such a rollback are these read as ours, not the user's.
 */
async function isRestoreIntermediate(now: PathState, target: Wanted, abs: string, blobs: BlobStore): Promise<boolean> {
	if (target.kind === 'absent') return false;
	if (now.kind === 'absent') return true;
	if (target.kind !== 'file' || now.kind !== 'file') return false;
	try {
		const want = await blobs.get(target.hash);
		if (now.size > want.length) return false;
		const fh = await open(abs, 'r');
		try {
			const have = Buffer.alloc(now.size);
			await fh.read(have, 0, now.size, 0);
			return want.subarray(0, now.size).equals(have);
		} finally {
			await fh.close();
		}
	} catch {
		return false;
	}
}

/**
 * Roll a run back. Takes the run lock unless `journal` is given (the caller holds it). Reads the journal; a
 * corrupt one is refused unless forced (then the readable records are used and the damaged file is kept aside).
 * Journals 'rollback-start', 'restored' per path and 'rollback-end', so it can be re-run after an interruption
 * and finishes idempotently.
 */
export async function rollback(opts: RollbackOptions): Promise<RollbackResult> {
	const stateDir = opts.stateDir ?? stateDirFor(opts.workspace);
	const paths = runPaths(stateDir, opts.runId);
	let release: ReleaseLock | undefined;
	let journal = opts.journal;
	try {
		if (!journal) {
			try {
				await access(paths.journal);
			} catch {
				throw new StateError('not-found', `run ${opts.runId} has no journal (${paths.journal})`);
			}
			release = await acquireRunLock(paths.dir);
		} else {
			await journal.flush();
		}
		const contents = await readJournal(paths.journal);
		let records = contents.records;
		if (contents.error) {
			if (!opts.force || opts.journal) {
				throw new StateError('corrupt', `${contents.error.message}; roll back with force to use the readable records`);
			}
			records = [...contents.records, ...contents.afterCorruption];
			await salvageJournal(paths.journal, records);
		}
		journal ??= await Journal.open(paths.journal);
		const result = await runRollback(opts, journal, records, new BlobStore(paths.blobs));
		if (result.conflicts.length === 0) await updateRunSummary(stateDir, opts.runId, { status: 'rolled_back' });
		return result;
	} finally {
		if (!opts.journal) await journal?.close();
		await release?.();
	}
}

async function runRollback(
	opts: RollbackOptions,
	journal: Journal,
	records: readonly JournalRecord[],
	blobs: BlobStore,
): Promise<RollbackResult> {
	const { sandbox } = opts;
	const force = opts.force ?? false;
	const limit = opts.concurrency ?? DEFAULT_ROLLBACK_PARALLELISM;
	const result: RollbackResult = { restored: 0, removed: 0, unchanged: 0, conflicts: [], compensations: [] };
	const { entries, steps, interruptedRollback } = analyse(records);

	journal.append({ t: 'rollback-start', at: Date.now(), force });
	await journal.flush();

	if (opts.compensate && steps.length > 0) {
		result.compensations = await opts.compensate(steps);
		for (const c of result.compensations) journal.append({ t: 'compensated', step: c.step, ok: c.ok, ...(c.error ? { error: c.error } : {}) });
		await journal.flush();
	}

	const conflict = (p: string, reason: string): void => {
		result.conflicts.push({ path: p, reason });
	};
	const planned: Planned[] = [];
	const todo = entries.filter((e) => !e.restored);

	// 1. Inspect (in parallel): what is there now, is it still what the run left, what must be done.
	const inspected: (Planned | undefined)[] = new Array(todo.length);
	await forEachLimit(todo, limit, async (entry, i) => {
		const target = wanted(entry.image);
		if (!target) return conflict(entry.path, 'no before-image was recorded for it');
		const lexical = path.join(sandbox.root, ...entry.path.split('/'));
		const now = await inspectPath(lexical);
		try {
			// The path must still be reached without symlinks; a symlink at the path itself is replaced, not followed.
			const parent = path.posix.dirname(entry.path);
			const checked = now.kind === 'symlink' ? (parent === '.' ? sandbox.root : await sandbox.resolveWrite(parent)) : await sandbox.resolveWrite(entry.path);
			const expectedAt = now.kind === 'symlink' ? path.dirname(lexical) : lexical;
			if (checked !== expectedAt) return conflict(entry.path, `now leads through a symlink to ${sandbox.relative(checked)}`);
		} catch (err) {
			if (err instanceof SandboxError) return conflict(entry.path, err.message);
			throw err;
		}
		const action = choose(target, now);
		if (action !== 'none' && !force && !entry.inFlight && entry.last) {
			const expected = wanted(entry.last);
			if (expected && !matches(expected, now, false)) {
				const ours = interruptedRollback && (await isRestoreIntermediate(now, target, lexical, blobs));
				if (!ours) return conflict(entry.path, changeReason(expected, now));
			}
		}
		if (now.kind === 'other' && !force) return conflict(entry.path, changeReason(target, now));
		inspected[i] = { entry, abs: lexical, target, now, action };
	});
	for (const p of inspected) if (p) planned.push(p);

	const finish = (p: Planned) => {
		p.done = true;
		journal.append({ t: 'restored', path: p.entry.path });
		if (p.action === 'none') result.unchanged++;
		else if (p.target.kind === 'absent') result.removed++;
		else result.restored++;
	};
	const fail = (p: Planned, err: unknown) => {
		p.done = true;
		conflict(p.entry.path, err instanceof Error ? err.message : String(err));
	};
	const touchedDirs = new Set<string>();
	const changed = (p: Planned) => touchedDirs.add(path.dirname(p.abs));

	for (const p of planned) if (p.action === 'none') finish(p);

	// 2. Remove what must go: files and links (parallel), then directories deepest first.
	await forEachLimit(
		planned.filter((p) => p.action === 'unlink' || p.action === 'unlink-write' || p.action === 'unlink-mkdir'),
		limit,
		async (p) => {
			try {
				await unlink(p.abs);
				changed(p);
				if (p.action === 'unlink') finish(p);
			} catch (err) {
				if (isMissing(err) && p.action === 'unlink') finish(p);
				else fail(p, err);
			}
		},
	);
	const dirRemovals = planned.filter((p) => p.action === 'rmdir' || p.action === 'rmdir-write');
	dirRemovals.sort((a, b) => depth(b.entry.path) - depth(a.entry.path));
	for (const p of dirRemovals) {
		try {
			rmdirSync(p.abs);
		} catch (err) {
			const code = errnoCode(err);
			if (code === 'ENOTEMPTY' || code === 'EEXIST') {
				if (!force) {
					const extra = await readdir(p.abs).then((names) => names.slice(0, 3).join(', '), () => '');
					fail(p, new Error(`directory is not empty: it holds entries the run did not leave there (${extra})`));
					continue;
				}
				await rm(p.abs, { recursive: true, force: true });
			} else if (!isMissing(err)) {
				fail(p, err);
				continue;
			}
		}
		changed(p);
		if (p.action === 'rmdir') finish(p);
	}

	// 3. Recreate directories, shallowest first (their modes are set last, so read-only ones can be filled).
	const dirs = planned.filter((p) => !p.done && (p.action === 'mkdir' || p.action === 'unlink-mkdir'));
	dirs.sort((a, b) => depth(a.entry.path) - depth(b.entry.path));
	for (const p of dirs) {
		try {
			mkdirSync(p.abs, { recursive: true });
			changed(p);
		} catch (err) {
			fail(p, err);
		}
	}

	// 4. Write files and links back from their blobs (parallel, each fsynced).
	await forEachLimit(
		planned.filter((p) => !p.done && (p.action === 'write' || p.action === 'unlink-write' || p.action === 'rmdir-write')),
		limit,
		async (p) => {
			try {
				if (p.target.kind !== 'file' && p.target.kind !== 'symlink') return;
				const data = await blobs.get(p.target.hash);
				if (p.target.kind === 'symlink') {
					await mkdir(path.dirname(p.abs), { recursive: true });
					await symlink(data.toString(), p.abs);
				} else {
					await restoreFile(p.abs, data, p.target.mode, p.now);
				}
				changed(p);
				finish(p);
			} catch (err) {
				fail(p, err);
			}
		},
	);

	// 5. Directory modes, deepest first.
	const modes = planned.filter((p) => !p.done && (p.action === 'mkdir' || p.action === 'unlink-mkdir' || p.action === 'chmod'));
	modes.sort((a, b) => depth(b.entry.path) - depth(a.entry.path));
	for (const p of modes) {
		try {
			if (p.target.kind === 'dir' && p.target.mode !== undefined) chmodSync(p.abs, p.target.mode);
			finish(p);
		} catch (err) {
			fail(p, err);
		}
	}

	// Make the removals and re-creations themselves durable.
	await forEachLimit([...touchedDirs], limit, async (dir) => {
		await fsyncDir(dir).catch(() => undefined);
	});

	result.conflicts.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
	journal.append({ t: 'rollback-end', at: Date.now(), conflicts: result.conflicts });
	await journal.flush();
	return result;
}
