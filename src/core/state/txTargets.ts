// Planning of a transaction's writes, apart from journaling them: targets, path locks, tree walks and checks.
import { lstat, readdir } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import * as path from 'node:path';
import { SandboxError, StepError } from '../errors';
import type { Sandbox } from '../sandbox/types';
import { writeFileDurably } from './fsState';
import { forEachLimit } from './pool';
import type { JournalRecord } from './records';

/** Parallel file operations inside one step (blob captures, tree copies). */
export const STEP_IO_PARALLELISM = 8;

export interface Target {
	/** Workspace-relative, `/`-separated (the journal's key). */
	rel: string;
	abs: string;
	/** lstat result at planning time; undefined = absent. */
	st: Stats | undefined;
	/** Absolute paths of the ancestors that do not exist (a write creates them), outermost first. */
	missing?: string[];
	/** An open descriptor of the (regular, small) file, when the operation reads and rewrites it through one open. */
	fd?: number;
}

/** What a first touch captured, kept for undoing a failed effect. */
export interface Image {
	kind: 'absent' | 'file' | 'dir';
	data?: Buffer;
	hash?: string;
	mode?: number;
	/** Resolves once the blob is durable under its name (the folder entry needs blobs.sync()). */
	stored?: Promise<void>;
}

export type BeforeRecord = Extract<JournalRecord, { t: 'before' }>;
export type AfterRecord = Extract<JournalRecord, { t: 'after' }>;

export function kindOf(st: Stats | undefined): 'absent' | 'file' | 'dir' {
	return !st ? 'absent' : st.isDirectory() ? 'dir' : 'file';
}

/** Options of a journaled file write (see WorkspaceFs.writeFile). */
export type WriteOptions = { mode?: number; exclusive?: boolean; mustExist?: boolean };

/** Mode a new file gets without an explicit one (0o666 less the umask), learned from the first such file. */
let defaultFileMode: number | undefined;

/**
 * Write bytes into a file in place (same inode), set the mode if given, fsync; returns the resulting mode.
 * `existingMode` is the mode of the file being overwritten (kept), undefined when it is created.
 */
export async function writeInPlace(
	abs: string,
	data: Uint8Array,
	mode: number | undefined,
	existingMode: number | undefined,
	exclusive = false,
): Promise<number> {
	const learn = mode === undefined && existingMode === undefined && defaultFileMode === undefined;
	const statted = await writeFileDurably(abs, data, {
		flags: exclusive ? 'wx' : 'w',
		createMode: mode ?? 0o666,
		chmod: mode !== undefined && mode !== existingMode ? mode : undefined,
		sync: 'full',
		statMode: learn,
	}, true); // the open on the main thread: this run's journal and pack commits queue for the pool's threads
	if (learn) defaultFileMode = statted;
	return mode ?? existingMode ?? defaultFileMode ?? (statted as number);
}

/** Everything under `root` (itself first, then pre-order), never following symlinks. */
export async function walkTree(root: string, rootSt: Stats): Promise<{ abs: string; st: Stats }[]> {
	const out = [{ abs: root, st: rootSt }];
	for (let i = 0; i < out.length; i++) {
		if (!out[i].st.isDirectory()) continue;
		const names = (await readdir(out[i].abs)).sort();
		for (const name of names) {
			const abs = path.join(out[i].abs, name);
			out.push({ abs, st: await lstat(abs) });
		}
	}
	return out;
}

export function isInsideOrSame(parent: string, child: string): boolean {
	const rel = path.relative(parent, child);
	return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Resolve paths for writing and hold them for the whole operation: two steps writing the same path at once are
 * serialized, so effects and their 'after' records land in the same order. (Overlapping trees — one step
 * removing a folder while another writes inside it — are for the workflow's dependencies to order.)
 *
 * The sandbox check, the lstat the before-image uses and the lock are taken in one synchronous stretch, so no
 * other step of this run can change the paths in between. A caller that has to wait for a lock resolves (and
 * checks) its paths again once it holds it: what it saw before waiting is stale, and a symlink swapped in
 * meanwhile must still be refused.
 */
export async function withTargets<T>(
	sandbox: Sandbox,
	pathLocks: Map<string, Promise<void>>,
	rels: string[], fn: (...targets: Target[]) => Promise<T>): Promise<T> {
	let targets = rels.map((rel) => resolveTarget(sandbox, rel));
	for (;;) {
		const keys = targets.length === 1 ? [targets[0].rel] : [...new Set(targets.map((t) => t.rel))].sort();
		const releases: (() => void)[] = [];
		const waits: Promise<void>[] = [];
		// All of an operation's locks are queued at once (synchronously): queue order is one global order, no deadlock.
		for (const key of keys) {
			const lock = lockPath(pathLocks, key);
			releases.push(lock.release);
			if (lock.ready) waits.push(lock.ready);
		}
		let ok = true;
		try {
			if (waits.length > 0) {
				await Promise.all(waits);
				const fresh = rels.map((rel) => resolveTarget(sandbox, rel));
				ok = fresh.every((t, i) => t.rel === targets[i].rel);
				targets = fresh;
			}
			if (ok) return await fn(...targets);
		} finally {
			for (const release of releases) release();
		}
	}
}

/** One path checked by the sandbox for writing, with the lstat the check took and the parents a write creates. */
export function resolveTarget(sandbox: Sandbox, rel: string): Target {
	const w = sandbox.resolveWriteTarget(rel);
	return { rel: sandbox.relative(w.abs), abs: w.abs, st: w.st, missing: w.missingParents };
}

/** Queue on a path's lock; `ready` is undefined when it is free (then it is held on return, synchronously). */
export function lockPath(pathLocks: Map<string, Promise<void>>, key: string): { release: () => void; ready?: Promise<void> } {
	const previous = pathLocks.get(key);
	let release!: () => void;
	const mine = new Promise<void>((resolve) => (release = resolve));
	const tail = previous ? previous.then(() => mine) : mine;
	pathLocks.set(key, tail);
	return {
		release: () => {
			release();
			if (pathLocks.get(key) === tail) pathLocks.delete(key);
		},
		ready: previous,
	};
}

/** Ancestors of a target that do not exist (they will be created, so they are journaled), outermost first. */
export function missingParents(sandbox: Sandbox, t: Target): Target[] {
	return (t.missing ?? []).map((abs) => ({ rel: sandbox.relative(abs), abs, st: undefined }));
}

/**
 * Every path inside a tree an operation writes or removes goes through the sandbox too, so a folder holding
 * `.git` or a hard-linked file cannot be used to reach what a direct write would be refused. Removing a name of
 * a hard-linked file does not change the other names, so removals allow it.
 */
export async function checkTree(sandbox: Sandbox, targets: Target[], removal: boolean): Promise<void> {
	await forEachLimit(targets.slice(1), STEP_IO_PARALLELISM, async (t) => {
		try {
			await sandbox.resolveWrite(t.rel);
		} catch (err) {
			if (!(removal && SandboxError.is(err, 'hardlink'))) throw err;
		}
	});
}

export function checkReplace(from: string, to: string, srcSt: Stats, dstSt: Stats | undefined, overwrite?: boolean): void {
	if (!dstSt) return;
	if (!overwrite) throw new StepError('exists', `${to} already exists (set overwrite to replace it)`, { permanent: true });
	if (dstSt.isDirectory() !== srcSt.isDirectory()) {
		const what = dstSt.isDirectory() ? 'a directory with a file' : 'a file with a directory';
		throw new StepError('exists', `cannot replace ${what}: ${from} → ${to}`, { permanent: true });
	}
}
