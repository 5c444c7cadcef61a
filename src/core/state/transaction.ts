// A run as a transaction: every workspace write is journaled (before-image durable first), so rollback is exact.
//
// Record protocol per path (see records.ts):
//   - the FIRST 'before' record of a path in a run is its before-image: 'absent', 'dir' + mode, or 'file' + blob +
//     mode, where a mode carrying S_IFLNK type bits (0o120000) marks a symlink whose blob holds its target;
//   - the first touch of a path by each further step appends that step's own before-image (its blob is written
//     without fsync: it only serves to re-run the step after a crash, see undoInterrupted; rollback never needs it);
//   - later effects on a path the step already touched append a light 'before' (no blob); every 'before' after the
//     first marks an effect in flight, so a crash between it and the 'after' reads as "the current state is the run's";
//   - each completed effect appends an 'after' (kind, sha256, mode) that rides the next group commit.
// Durability per journaled file write: one shared journal commit (fdatasync, amortized over concurrent steps), the
// file itself (fsync, exactly as a plain durable write) and, on the first change of an existing file only, its blob:
// a small one is appended to the run's pack file by a shared group commit (large ones get a file, fdatasync and a
// shared folder fsync), durable before the record naming it is appended; the effect starts once the journal commit
// holding the record is done.
import { chmod, cp, lstat, mkdir, readFile, readdir, readlink, rename, rm, rmdir, symlink, unlink } from 'node:fs/promises';
import { closeSync, fstatSync, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import * as path from 'node:path';
import { SandboxError, StateError, StepError } from '../errors';
import type { WorkspaceFs } from '../handlers/types';
import type { Sandbox } from '../sandbox/types';
import { BlobStore } from './blobs';
import {
	IN_MEMORY_LIMIT,
	S_IFLNK,
	inspectPath,
	isLinkMode,
	lstatOrUndefined,
	lstatSyncOrUndefined,
	modeOf,
	openForUpdate,
	readFileFast,
	readOpenFile,
	rewriteOpenFile,
	sha256,
	writeFileDurably,
} from './fsState';
import type { PathState } from './fsState';
import { SYNC_IO_LIMIT, errnoCode, isDiskFull, isMissing } from './io';
import type { Journal } from './journal';
import { forEachLimit } from './pool';
import type { JournalRecord } from './records';
import { runPaths, stateDirFor } from './runStore';

export { rollback } from './rollback';
export type { RollbackOptions, RollbackResult, CompensationResult } from './rollback';

/** Parallel file operations inside one step (blob captures, tree copies). */
const STEP_IO_PARALLELISM = 8;

export interface TransactionOptions {
	runId: string;
	workspace: string;
	/** Default: <workspace>/.quantum */
	stateDir?: string;
	sandbox: Sandbox;
	/** The run's open journal; the transaction appends to it and flushes it, its owner closes it. */
	journal: Journal;
	/** Records already in this run's journal (a resumed run), so imaged paths are not imaged again. */
	previous?: readonly JournalRecord[];
}

export interface Transaction {
	readonly runId: string;
	/** The workspace as one step sees it: every write journaled under that step's id. */
	fsFor(stepId: string): WorkspaceFs;
	/** Workspace-relative paths the run has touched, in first-touch order. */
	touchedPaths(): string[];
	/**
	 * Put every path a step interrupted by a crash (in `previous`: wrote, never ended) had touched back to its
	 * state before the step, so the step can be re-run from scratch. Runs by itself before the first operation of
	 * such a step through fsFor(); calling it again is a no-op. A path changed by another step since, or whose
	 * saved content was lost in a power cut, fails with a StepError saying so (roll the run back instead).
	 */
	undoInterrupted(stepId: string): Promise<void>;
	/** Steps `previous` shows were interrupted (wrote, never ended): what a resume undoes before re-running them. */
	interruptedSteps(): string[];
	/** Append 'commit' and make it durable: the run's effects are final (rollback stays possible). */
	commit(): Promise<void>;
	/** Release what the transaction holds (nothing on disk); the journal stays open for its owner to close. */
	dispose(): void;
}

/** Create the transaction of a run whose journal is already open. */
export function createTransaction(opts: TransactionOptions): Transaction {
	return new RunTransaction(opts);
}

interface Target {
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
interface Image {
	kind: 'absent' | 'file' | 'dir';
	data?: Buffer;
	hash?: string;
	mode?: number;
	/** Resolves once the blob is durable under its name (the folder entry needs blobs.sync()). */
	stored?: Promise<void>;
}

type BeforeRecord = Extract<JournalRecord, { t: 'before' }>;
type AfterRecord = Extract<JournalRecord, { t: 'after' }>;

/** Whether a path is in the state a step's before-image recorded. */
function isAsImaged(image: BeforeRecord, now: PathState): boolean {
	if (image.kind === 'absent') return now.kind === 'absent';
	if (image.kind === 'dir') return now.kind === 'dir' && now.mode === image.mode;
	return (now.kind === 'file' || now.kind === 'symlink') && now.hash === image.blob && now.mode === image.mode;
}

function kindOf(st: Stats | undefined): 'absent' | 'file' | 'dir' {
	return !st ? 'absent' : st.isDirectory() ? 'dir' : 'file';
}

/** Turn whatever an effect threw into the StepError a handler reports (sandbox and state errors pass through). */
export function toStepError(err: unknown, rel: string): Error {
	if (err instanceof StepError || err instanceof SandboxError) return err;
	if (err instanceof StateError) {
		return err.code === 'disk-full' ? new StepError('disk-full', `${err.message} (step stopped at ${rel})`) : err;
	}
	if (isDiskFull(err)) {
		return new StepError('disk-full', `no space left on device while writing ${rel}; the change is journaled and can be rolled back`);
	}
	const code = errnoCode(err);
	const reason = err instanceof Error ? err.message : String(err);
	if (code === 'ENOENT') return new StepError('not-found', `${rel}: no such file or directory`);
	if (code === 'EEXIST') return new StepError('exists', `${rel} already exists`, { permanent: true });
	if (code === 'EACCES' || code === 'EPERM') return new StepError('io', `${rel}: permission denied`, { permanent: true });
	if (code === 'EISDIR') return new StepError('io', `${rel} is a directory`, { permanent: true });
	if (code === 'ENOTDIR') return new StepError('io', `${rel}: a parent is not a directory`, { permanent: true });
	if (code === 'ENOTEMPTY') return new StepError('io', `${rel}: directory not empty`, { permanent: true });
	return new StepError('io', `${rel}: ${reason}`);
}

/** Options of a journaled file write (see WorkspaceFs.writeFile). */
type WriteOptions = { mode?: number; exclusive?: boolean; mustExist?: boolean };

/** Mode a new file gets without an explicit one (0o666 less the umask), learned from the first such file. */
let defaultFileMode: number | undefined;

/**
 * Write bytes into a file in place (same inode), set the mode if given, fsync; returns the resulting mode.
 * `existingMode` is the mode of the file being overwritten (kept), undefined when it is created.
 */
async function writeInPlace(
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
async function walkTree(root: string, rootSt: Stats): Promise<{ abs: string; st: Stats }[]> {
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

function isInsideOrSame(parent: string, child: string): boolean {
	const rel = path.relative(parent, child);
	return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

class RunTransaction implements Transaction {
	readonly runId: string;
	private readonly sandbox: Sandbox;
	private readonly journal: Journal;
	private readonly blobs: BlobStore;
	/** Paths imaged by this run: resolves true once the 'before' record is appended, false if the capture failed. */
	private readonly imaged = new Map<string, Promise<boolean>>();
	/** Per-path operation locks (tail of each path's queue). */
	private readonly pathLocks = new Map<string, Promise<void>>();
	/** step → path → the first 'before' that step wrote for the path: the state undoInterrupted restores. */
	private readonly stepImages = new Map<string, Map<string, BeforeRecord>>();
	/** path → the last record about it (an undo must not undo another step's later work). */
	private readonly lastRecord = new Map<string, BeforeRecord | AfterRecord>();
	/** Steps a previous process started and never ended. */
	private readonly interrupted = new Set<string>();
	private readonly undone = new Map<string, Promise<void>>();

	constructor(opts: TransactionOptions) {
		this.runId = opts.runId;
		this.sandbox = opts.sandbox;
		this.journal = opts.journal;
		// The run's durable before-images go to a pack file, written by group commits (see blobs.ts).
		this.blobs = new BlobStore(runPaths(opts.stateDir ?? stateDirFor(opts.workspace), opts.runId).blobs, { pack: true });
		// A step is interrupted when it wrote (or started) after its last step-end: the engine journals step-start
		// only for external effects, so a file step's own records are what show it was running.
		const open = new Set<string>();
		for (const rec of opts.previous ?? []) {
			if (rec.t === 'before' || rec.t === 'after') {
				this.note(rec);
				open.add(rec.step);
				if (rec.t === 'before' && !this.imaged.has(rec.path)) this.imaged.set(rec.path, Promise.resolve(true));
			} else if (rec.t === 'step-start') open.add(rec.id);
			else if (rec.t === 'step-end') open.delete(rec.id);
		}
		for (const id of open) if (this.stepImages.has(id)) this.interrupted.add(id);
	}

	fsFor(stepId: string): WorkspaceFs {
		const fs: WorkspaceFs = {
			readFile: (rel) => this.readFile(rel),
			writeFile: (rel, data, o) => this.guard(rel, () => this.writeFile(stepId, rel, data, o ?? {})),
			remove: (rel) => this.guard(rel, () => this.remove(stepId, rel)),
			mkdir: (rel) => this.guard(rel, () => this.mkdir(stepId, rel)),
			copy: (from, to, o) => this.guard(to, () => this.copy(stepId, from, to, o ?? {})),
			move: (from, to, o) => this.guard(to, () => this.move(stepId, from, to, o ?? {})),
			exists: (rel) => this.exists(rel),
		};
		if (!this.interrupted.has(stepId)) return fs;
		// A step re-run after a crash starts from its own starting state: its first operation undoes the old attempt.
		const first = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) => async (...args: A): Promise<R> => {
			await this.undoInterrupted(stepId);
			return fn(...args);
		};
		return {
			readFile: first(fs.readFile),
			writeFile: first(fs.writeFile),
			remove: first(fs.remove),
			mkdir: first(fs.mkdir),
			copy: first(fs.copy),
			move: first(fs.move),
			exists: first(fs.exists),
		};
	}

	interruptedSteps(): string[] {
		return [...this.interrupted];
	}

	undoInterrupted(stepId: string): Promise<void> {
		let done = this.undone.get(stepId);
		if (!done) {
			done = this.interrupted.has(stepId) ? this.guard(stepId, () => this.undoStep(stepId)) : Promise.resolve();
			this.undone.set(stepId, done);
		}
		return done;
	}

	/** Keep the in-memory indexes (per-step images, last writer) in step with a record, and append it. */
	private record(rec: BeforeRecord | AfterRecord): void {
		this.note(rec);
		this.journal.append(rec);
	}

	private note(rec: BeforeRecord | AfterRecord): void {
		this.lastRecord.set(rec.path, rec);
		if (rec.t !== 'before') return;
		let images = this.stepImages.get(rec.step);
		if (!images) this.stepImages.set(rec.step, (images = new Map()));
		if (!images.has(rec.path)) images.set(rec.path, rec);
	}

	touchedPaths(): string[] {
		return [...this.imaged.keys()];
	}

	async commit(): Promise<void> {
		this.journal.append({ t: 'commit', at: Date.now() });
		await this.journal.flush();
	}

	dispose(): void {
		this.blobs.close();
	}

	private async guard<T>(rel: string, fn: () => Promise<T>): Promise<T> {
		try {
			return await fn();
		} catch (err) {
			throw toStepError(err, rel);
		}
	}

	private async readFile(rel: string): Promise<Buffer> {
		const abs = await this.sandbox.resolveRead(rel);
		try {
			return await readFile(abs);
		} catch (err) {
			throw toStepError(err, rel);
		}
	}

	private async exists(rel: string): Promise<boolean> {
		const abs = await this.sandbox.resolveRead(rel);
		try {
			// A synchronous stat that returns undefined for a missing path: no thread-pool hop, no exception built.
			return statSync(abs, { throwIfNoEntry: false }) !== undefined;
		} catch (err) {
			if (isMissing(err)) return false;
			throw toStepError(err, rel);
		}
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
	private async withTargets<T>(rels: string[], fn: (...targets: Target[]) => Promise<T>): Promise<T> {
		let targets = rels.map((rel) => this.target(rel));
		for (;;) {
			const keys = targets.length === 1 ? [targets[0].rel] : [...new Set(targets.map((t) => t.rel))].sort();
			const releases: (() => void)[] = [];
			const waits: Promise<void>[] = [];
			// All of an operation's locks are queued at once (synchronously): queue order is one global order, no deadlock.
			for (const key of keys) {
				const lock = this.lockPath(key);
				releases.push(lock.release);
				if (lock.ready) waits.push(lock.ready);
			}
			let ok = true;
			try {
				if (waits.length > 0) {
					await Promise.all(waits);
					const fresh = rels.map((rel) => this.target(rel));
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
	private target(rel: string): Target {
		const w = this.sandbox.resolveWriteTarget(rel);
		return { rel: this.sandbox.relative(w.abs), abs: w.abs, st: w.st, missing: w.missingParents };
	}

	/** Queue on a path's lock; `ready` is undefined when it is free (then it is held on return, synchronously). */
	private lockPath(key: string): { release: () => void; ready?: Promise<void> } {
		const previous = this.pathLocks.get(key);
		let release!: () => void;
		const mine = new Promise<void>((resolve) => (release = resolve));
		const tail = previous ? previous.then(() => mine) : mine;
		this.pathLocks.set(key, tail);
		return {
			release: () => {
				release();
				if (this.pathLocks.get(key) === tail) this.pathLocks.delete(key);
			},
			ready: previous,
		};
	}

	/** Ancestors of a target that do not exist (they will be created, so they are journaled), outermost first. */
	private missingParents(t: Target): Target[] {
		return (t.missing ?? []).map((abs) => ({ rel: this.sandbox.relative(abs), abs, st: undefined }));
	}

	/**
	 * Journal the targets before an effect: the before-image of paths this run has not touched yet, an in-flight
	 * marker for the others; then make it all durable (one shared group commit).
	 */
	private async prepare(step: string, targets: Target[]): Promise<Map<string, Image>> {
		const images = new Map<string, Image>();
		if (targets.length === 1) {
			const image = await this.imageOnce(step, targets[0]);
			if (image) images.set(targets[0].rel, image);
		} else {
			await forEachLimit(targets, STEP_IO_PARALLELISM, async (t) => {
				const image = await this.imageOnce(step, t);
				if (image) images.set(t.rel, image);
			});
		}
		// Blobs are already durable (capture); one shared group commit makes the records durable before the effect.
		await this.journal.flush();
		return images;
	}

	private async imageOnce(step: string, t: Target): Promise<Image | undefined> {
		for (;;) {
			const existing = this.imaged.get(t.rel);
			if (existing) {
				if (!(await existing)) continue; // that capture failed (and removed itself): try ours
				if (this.stepImages.get(step)?.has(t.rel)) this.record({ t: 'before', step, path: t.rel, kind: kindOf(t.st) });
				else await this.captureStepImage(step, t);
				return undefined;
			}
			const capture = this.capture(step, t);
			// Others touching the path wait until its before-image is appended and its blob stored.
			const settled = capture.then((image) => image.stored).then(
				() => true,
				() => {
					if (this.imaged.get(t.rel) === settled) this.imaged.delete(t.rel);
					return false;
				},
			);
			this.imaged.set(t.rel, settled);
			return await capture;
		}
	}

	private async storeDurably(hash: string, data: Buffer): Promise<void> {
		await this.blobs.write(hash, data);
		await this.blobs.sync();
	}

	private async capture(step: string, t: Target): Promise<Image> {
		const st = t.st;
		if (!st) {
			this.record({ t: 'before', step, path: t.rel, kind: 'absent' });
			return { kind: 'absent' };
		}
		if (st.isDirectory()) {
			this.record({ t: 'before', step, path: t.rel, kind: 'dir', mode: modeOf(st) });
			return { kind: 'dir', mode: modeOf(st) };
		}
		if (st.isSymbolicLink()) {
			const mode = S_IFLNK | (st.mode & 0o777);
			const data = Buffer.from(await readlink(t.abs));
			const hash = sha256(data);
			await this.storeDurably(hash, data);
			this.record({ t: 'before', step, path: t.rel, kind: 'file', blob: hash, mode });
			return { kind: 'file', hash, mode };
		}
		if (!st.isFile()) {
			throw new StepError('io', `${t.rel} is a socket, FIFO or device: it cannot be journaled, so it is not changed`, {
				permanent: true,
			});
		}
		const mode = modeOf(st);
		if (st.size > IN_MEMORY_LIMIT) {
			const hash = await this.blobs.putLargeFile(t.abs);
			this.record({ t: 'before', step, path: t.rel, kind: 'file', blob: hash, mode });
			return { kind: 'file', hash, mode };
		}
		// Write-ahead rule: the record naming a blob is appended only once the blob is durable. Any other step's
		// group commit may write the journal out at any moment, and a record must never name a missing blob.
		const data = t.fd === undefined ? await readFileFast(t.abs) : readOpenFile(t.fd, st.size);
		const hash = sha256(data);
		await this.storeDurably(hash, data);
		this.record({ t: 'before', step, path: t.rel, kind: 'file', blob: hash, mode });
		return { kind: 'file', hash, data, mode };
	}

	/**
	 * A step's first touch of a path the run already imaged: save what is there now, so the step can be undone and
	 * re-run after a crash. The blob skips fsync (a page-cache copy survives a killed process; after a power cut
	 * undoInterrupted reports it missing and the run can still be rolled back from the run's own images).
	 */
	private async captureStepImage(step: string, t: Target): Promise<void> {
		const st = t.st;
		if (!st || st.isDirectory()) {
			this.record({ t: 'before', step, path: t.rel, kind: kindOf(st), ...(st ? { mode: modeOf(st) } : {}) });
			return;
		}
		if (!st.isFile() && !st.isSymbolicLink()) {
			throw new StepError('io', `${t.rel} is a socket, FIFO or device: it cannot be journaled, so it is not changed`, {
				permanent: true,
			});
		}
		let hash: string;
		let mode = modeOf(st);
		if (st.isSymbolicLink()) {
			const data = Buffer.from(await readlink(t.abs));
			hash = sha256(data);
			mode = S_IFLNK | (st.mode & 0o777);
			await this.blobs.write(hash, data, false);
		} else if (st.size > IN_MEMORY_LIMIT) {
			hash = await this.blobs.putLargeFile(t.abs);
		} else {
			const data = t.fd === undefined ? await readFileFast(t.abs) : readOpenFile(t.fd, st.size);
			hash = sha256(data);
			await this.blobs.write(hash, data, false);
		}
		this.record({ t: 'before', step, path: t.rel, kind: 'file', blob: hash, mode });
	}

	private after(step: string, rel: string, state: PathState): void {
		switch (state.kind) {
			case 'absent':
				this.record({ t: 'after', step, path: rel, kind: 'absent' });
				return;
			case 'dir':
				this.record({ t: 'after', step, path: rel, kind: 'dir', mode: state.mode });
				return;
			case 'file':
			case 'symlink':
				this.record({ t: 'after', step, path: rel, kind: 'file', hash: state.hash, mode: state.mode });
				return;
			case 'other':
				return; // never produced by an effect; leave the path "in flight"
		}
	}

	private async afterDirs(step: string, dirs: Target[]): Promise<void> {
		for (const d of dirs) {
			const st = lstatSyncOrUndefined(d.abs);
			this.after(step, d.rel, st?.isDirectory() ? { kind: 'dir', mode: modeOf(st) } : { kind: 'absent' });
		}
	}

	/**
	 * An effect failed (a full disk, a permission): undo what this operation created or overwrote on first touch,
	 * best effort, then record what is really there, so the journal never describes a half-applied change wrongly.
	 */
	private async afterFailure(step: string, targets: Target[], images: Map<string, Image>): Promise<void> {
		for (const t of [...targets].reverse()) {
			try {
				const image = images.get(t.rel);
				let now = await inspectPath(t.abs);
				if (image?.kind === 'absent' && now.kind !== 'absent') {
					if (now.kind === 'dir') await rmdir(t.abs).catch(() => undefined);
					else await unlink(t.abs).catch(() => undefined);
					now = await inspectPath(t.abs);
				} else if (image?.kind === 'file' && image.data && now.kind === 'file' && now.hash !== image.hash) {
					await writeInPlace(t.abs, image.data, image.mode, now.mode).catch(() => undefined);
					now = await inspectPath(t.abs);
				}
				this.after(step, t.rel, now);
			} catch {
				// leave the path "in flight": rollback then treats whatever is there as the run's
			}
		}
	}

	/** prepare → effect → after records; on failure, afterFailure and the error mapped for the step. */
	private async apply(step: string, rel: string, targets: Target[], effect: () => Promise<void>): Promise<void> {
		let images = new Map<string, Image>();
		try {
			images = await this.prepare(step, targets);
			await effect();
		} catch (err) {
			await this.afterFailure(step, targets, images);
			throw toStepError(err, rel);
		}
	}

	private async writeFile(
		step: string,
		rel: string,
		data: Buffer | string,
		opts: WriteOptions,
	): Promise<void> {
		const bytes = typeof data === 'string' ? Buffer.from(data) : data;
		await this.withTargets([rel], (t) => this.writeFileLocked(step, rel, t, bytes, opts));
	}

	private async writeFileLocked(step: string, rel: string, t: Target, bytes: Buffer, opts: WriteOptions): Promise<void> {
		if (t.st?.isDirectory()) throw new StepError('exists', `cannot write ${rel}: it is a directory`, { permanent: true });
		if (t.st && opts.exclusive) throw new StepError('exists', `${rel} already exists`, { permanent: true });
		if (t.st?.isFile() && t.st.size <= SYNC_IO_LIMIT && bytes.length <= SYNC_IO_LIMIT) {
			const fresh = await this.rewriteSmallFile(step, rel, t, bytes, opts);
			if (!fresh) return;
			t = fresh; // it changed between the check and the open: start over from what is there now
			if (t.st?.isDirectory()) throw new StepError('exists', `cannot write ${rel}: it is a directory`, { permanent: true });
			if (t.st && opts.exclusive) throw new StepError('exists', `${rel} already exists`, { permanent: true });
		}
		if (!t.st && opts.mustExist) throw new StepError('not-found', `${rel} does not exist`, { permanent: true });
		const existingMode = t.st ? modeOf(t.st) : undefined;
		for (let attempt = 0; ; attempt++) {
			const parents = this.missingParents(t);
			try {
				await this.apply(step, rel, [...parents, t], async () => {
					if (parents.length > 0) await mkdir(path.dirname(t.abs), { recursive: true });
					const mode = await writeInPlace(t.abs, bytes, opts.mode, existingMode, opts.exclusive);
					await this.afterDirs(step, parents);
					this.after(step, t.rel, { kind: 'file', hash: sha256(bytes), mode, size: bytes.length });
				});
				return;
			} catch (err) {
				// A folder that was there when the path was checked has been removed since: journal its re-creation, retry once.
				if (attempt > 0 || t.st || parents.length > 0 || !StepError.is(err, 'not-found')) throw err;
				const fresh = this.target(rel);
				if (fresh.rel !== t.rel || fresh.st || (fresh.missing ?? []).length === 0) throw err;
				t = fresh;
			}
		}
	}

	/**
	 * Overwrite an existing small file through one descriptor: opened first (opening changes nothing), its
	 * before-image read from it, then rewritten in place once the journal allows. Saves the second open, and the
	 * open does not follow a symlink swapped in after the check. Returns the path checked afresh when what is there
	 * is no longer a regular file (the caller goes the general way), else undefined once written.
	 */
	private async rewriteSmallFile(step: string, rel: string, t: Target, bytes: Buffer, opts: WriteOptions): Promise<Target | undefined> {
		let fd: number;
		try {
			fd = openForUpdate(t.abs);
		} catch (err) {
			const code = errnoCode(err);
			if (code !== 'ENOENT' && code !== 'ELOOP' && code !== 'EISDIR' && code !== 'ENXIO') throw err;
			return this.retarget(rel, t);
		}
		try {
			const st = fstatSync(fd);
			if (!st.isFile()) return this.retarget(rel, t);
			if (st.nlink > 1) {
				throw new SandboxError('hardlink', `"${rel}" has ${st.nlink} hard links; writing it would change the other names too (possibly outside the workspace)`);
			}
			const target: Target = { ...t, st, fd };
			const existingMode = modeOf(st);
			await this.apply(step, rel, [target], async () => {
				await rewriteOpenFile(fd, t.abs, bytes, st.size, opts.mode !== undefined && opts.mode !== existingMode ? opts.mode : undefined);
				this.after(step, t.rel, { kind: 'file', hash: sha256(bytes), mode: opts.mode ?? existingMode, size: bytes.length });
			});
			return undefined;
		} finally {
			closeSync(fd);
		}
	}

	/** The path resolved again for an operation that holds its lock; it must still be the same path. */
	private retarget(rel: string, t: Target): Target {
		const fresh = this.target(rel);
		if (fresh.rel !== t.rel) throw new StepError('io', `${rel} changed while it was being written (it now leads to ${fresh.rel}); try again`);
		return fresh;
	}

	private async remove(step: string, rel: string): Promise<void> {
		await this.withTargets([rel], (t) => this.removeLocked(step, rel, t));
	}

	private async removeLocked(step: string, rel: string, t: Target): Promise<void> {
		if (!t.st) throw new StepError('not-found', `${rel} does not exist`);
		const entries = await walkTree(t.abs, t.st);
		const targets = entries.map((e) => ({ rel: this.sandbox.relative(e.abs), abs: e.abs, st: e.st }));
		await this.checkTree(targets, true);
		await this.apply(step, rel, targets, async () => {
			await rm(t.abs, { recursive: true });
			for (const x of [...targets].reverse()) this.after(step, x.rel, { kind: 'absent' });
		});
	}

	private async mkdir(step: string, rel: string): Promise<void> {
		await this.withTargets([rel], (t) => this.mkdirLocked(step, rel, t));
	}

	private async mkdirLocked(step: string, rel: string, t: Target): Promise<void> {
		if (t.st?.isDirectory()) return;
		if (t.st) throw new StepError('exists', `cannot create directory ${rel}: a file is in the way`, { permanent: true });
		const created = [...this.missingParents(t), t];
		await this.apply(step, rel, created, async () => {
			await mkdir(t.abs, { recursive: true });
			await this.afterDirs(step, created);
		});
	}

	private async copy(step: string, from: string, to: string, opts: { overwrite?: boolean }): Promise<void> {
		const src = await this.sandbox.resolveRead(from);
		const srcSt = await lstatOrUndefined(src);
		if (!srcSt) throw new StepError('not-found', `${from} does not exist`);
		await this.withTargets([to], (dst) => this.copyLocked(step, from, to, opts, src, srcSt, dst));
	}

	private async copyLocked(
		step: string,
		from: string,
		to: string,
		opts: { overwrite?: boolean },
		src: string,
		srcSt: Stats,
		dst: Target,
	): Promise<void> {
		this.checkReplace(from, to, srcSt, dst.st, opts.overwrite);
		if (srcSt.isDirectory() && isInsideOrSame(src, dst.abs)) {
			throw new StepError('parameters', `cannot copy ${from} into itself (${to})`);
		}
		const entries = await walkTree(src, srcSt);
		const plan: { from: { abs: string; st: Stats }; to: Target }[] = [];
		for (const e of entries) {
			const abs = path.join(dst.abs, path.relative(src, e.abs));
			const st = abs === dst.abs ? dst.st : await lstatOrUndefined(abs);
			if (st && st.isDirectory() !== e.st.isDirectory()) {
				throw new StepError('exists', `cannot copy ${from} to ${to}: ${this.sandbox.relative(abs)} is in the way`, {
					permanent: true,
				});
			}
			plan.push({ from: e, to: { rel: this.sandbox.relative(abs), abs, st } });
		}
		await this.checkTree(plan.map((p) => p.to), false);
		const parents = this.missingParents(dst);
		await this.apply(step, to, [...parents, ...plan.map((p) => p.to)], async () => {
			if (parents.length > 0) await mkdir(path.dirname(dst.abs), { recursive: true });
			await this.afterDirs(step, parents);
			for (const p of plan) {
				if (p.from.st.isDirectory() && !p.to.st) await mkdir(p.to.abs, { mode: modeOf(p.from.st) | 0o700 });
			}
			await forEachLimit(
				plan.filter((p) => !p.from.st.isDirectory()),
				STEP_IO_PARALLELISM,
				async (p) => {
					if (p.from.st.isSymbolicLink()) {
						if (p.to.st) await unlink(p.to.abs);
						await symlink(await readlink(p.from.abs), p.to.abs);
						this.after(step, p.to.rel, await inspectPath(p.to.abs));
						return;
					}
					if (!p.from.st.isFile()) throw new StepError('io', `${from}: ${this.sandbox.relative(p.from.abs)} is not a regular file`);
					const data = await readFileFast(p.from.abs);
					// Like cp: a new file gets the source's mode, an overwritten one keeps its own.
					const mode = await writeInPlace(p.to.abs, data, p.to.st ? undefined : modeOf(p.from.st), p.to.st ? modeOf(p.to.st) : undefined);
					this.after(step, p.to.rel, { kind: 'file', hash: sha256(data), mode, size: data.length });
				},
			);
			// Directory modes last, so a read-only source folder does not block writing its own files.
			const dirs = plan.filter((p) => p.from.st.isDirectory());
			for (const p of [...dirs].reverse()) if (!p.to.st) await chmod(p.to.abs, modeOf(p.from.st));
			await this.afterDirs(step, dirs.map((p) => p.to));
		});
	}

	private async move(step: string, from: string, to: string, opts: { overwrite?: boolean }): Promise<void> {
		await this.withTargets([from, to], (src, dst) => this.moveLocked(step, from, to, opts, src, dst));
	}

	private async moveLocked(step: string, from: string, to: string, opts: { overwrite?: boolean }, src: Target, dst: Target): Promise<void> {
		if (!src.st) throw new StepError('not-found', `${from} does not exist`);
		if (src.abs === dst.abs) return;
		if (src.st.isDirectory() && isInsideOrSame(src.abs, dst.abs)) {
			throw new StepError('parameters', `cannot move ${from} into itself (${to})`);
		}
		this.checkReplace(from, to, src.st, dst.st, opts.overwrite);
		const srcEntries = await walkTree(src.abs, src.st);
		const dstEntries = dst.st ? await walkTree(dst.abs, dst.st) : [];
		const srcTargets = srcEntries.map((e) => ({ rel: this.sandbox.relative(e.abs), abs: e.abs, st: e.st }));
		const dstTargets = new Map<string, Target>();
		for (const e of dstEntries) dstTargets.set(e.abs, { rel: this.sandbox.relative(e.abs), abs: e.abs, st: e.st });
		for (const e of srcEntries) {
			const abs = path.join(dst.abs, path.relative(src.abs, e.abs));
			if (!dstTargets.has(abs)) dstTargets.set(abs, { rel: this.sandbox.relative(abs), abs, st: undefined });
		}
		await this.checkTree(srcTargets, true);
		await this.checkTree([dst, ...dstTargets.values()], false);
		const parents = this.missingParents(dst);
		const targets = [...srcTargets, ...parents, ...dstTargets.values()];
		await this.apply(step, to, targets, async () => {
			if (parents.length > 0) await mkdir(path.dirname(dst.abs), { recursive: true });
			if (dst.st) await rm(dst.abs, { recursive: true });
			try {
				await rename(src.abs, dst.abs);
			} catch (err) {
				if (errnoCode(err) !== 'EXDEV') throw err;
				await cp(src.abs, dst.abs, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
				await rm(src.abs, { recursive: true });
			}
			for (const x of [...srcTargets].reverse()) this.after(step, x.rel, { kind: 'absent' });
			await this.afterDirs(step, parents);
			for (const x of dstTargets.values()) this.after(step, x.rel, await inspectPath(x.abs));
		});
	}

	/** Restore each path `step` touched to the state recorded before the step touched it (see undoInterrupted). */
	private async undoStep(step: string): Promise<void> {
		const images: BeforeRecord[] = [];
		for (const image of this.stepImages.get(step)?.values() ?? []) {
			const last = this.lastRecord.get(image.path);
			if (last === undefined || last.step === step) {
				images.push(image);
				continue;
			}
			if (this.isSharedFolder(image, last)) continue;
			// Nothing to undo when the path is as this step found it (the crash came before the step's effect on it).
			if (isAsImaged(image, await inspectPath(path.join(this.sandbox.root, ...image.path.split('/'))))) continue;
			throw new StepError('io', `cannot re-run ${step} after the crash: ${image.path} was changed by step ${last.step} since; roll the run back instead`, {
				permanent: true,
			});
		}
		const depth = (p: string) => p.split('/').length;
		// Removals deepest first, then directories shallowest first, then files and links.
		const order = (i: BeforeRecord) => (i.kind === 'absent' ? 0 : i.kind === 'dir' ? 1 : 2);
		images.sort((a, b) => order(a) - order(b) || (order(a) === 0 ? depth(b.path) - depth(a.path) : depth(a.path) - depth(b.path)));
		for (const image of images) await this.withTargets([image.path], (t) => this.restoreStepImage(step, t, image));
	}

	/**
	 * A folder this step found missing (or there) that another step made sure of too (concurrent writes into a new
	 * folder) is shared, not this step's to undo: the re-run finds it there. It is one when it is a directory now and
	 * the other step's last record about it says so, or is the in-flight marker of a step the crash interrupted too
	 * (undone in turn). Anything else another step did to the path since is that step's work, and stops the undo.
	 */
	private isSharedFolder(image: BeforeRecord, last: BeforeRecord | AfterRecord): boolean {
		if (image.kind === 'file') return false;
		if (last.t === 'after' ? last.kind !== 'dir' : !this.interrupted.has(last.step)) return false;
		return lstatSyncOrUndefined(path.join(this.sandbox.root, ...image.path.split('/')))?.isDirectory() === true;
	}

	private async restoreStepImage(step: string, t: Target, image: BeforeRecord): Promise<void> {
		const now = await inspectPath(t.abs);
		const link = isLinkMode(image.mode);
		if (isAsImaged(image, now)) return;
		let data: Buffer | undefined;
		if (image.kind === 'file') {
			if (image.blob === undefined) throw new StepError('io', `cannot re-run ${step} after the crash: no starting content of ${t.rel} was recorded`, { permanent: true });
			try {
				data = await this.blobs.get(image.blob);
			} catch {
				throw new StepError('io', `cannot re-run ${step} after the crash: the saved starting content of ${t.rel} was lost (power cut?); roll the run back instead`, {
					permanent: true,
				});
			}
		}
		await this.apply(step, t.rel, [t], async () => {
			if (now.kind === 'dir' && image.kind !== 'dir') {
				try {
					await rmdir(t.abs);
				} catch (err) {
					// A folder the step made that others have put files in since: leave it, the re-run finds it there.
					if (errnoCode(err) !== 'ENOTEMPTY' && errnoCode(err) !== 'EEXIST') throw err;
					this.after(step, t.rel, now);
					return;
				}
			} else if (now.kind !== 'absent' && now.kind !== 'dir' && (image.kind !== 'file' || link || now.kind === 'symlink')) await unlink(t.abs);
			if (image.kind === 'dir') {
				if (now.kind !== 'dir') await mkdir(t.abs);
				if (image.mode !== undefined) await chmod(t.abs, image.mode);
			} else if (image.kind === 'file' && data) {
				if (link) await symlink(data.toString(), t.abs);
				else await writeInPlace(t.abs, data, image.mode, now.kind === 'file' ? now.mode : undefined);
			}
			this.after(step, t.rel, await inspectPath(t.abs));
		});
	}

	/**
	 * Every path inside a tree an operation writes or removes goes through the sandbox too, so a folder holding
	 * `.git` or a hard-linked file cannot be used to reach what a direct write would be refused. Removing a name of
	 * a hard-linked file does not change the other names, so removals allow it.
	 */
	private async checkTree(targets: Target[], removal: boolean): Promise<void> {
		await forEachLimit(targets.slice(1), STEP_IO_PARALLELISM, async (t) => {
			try {
				await this.sandbox.resolveWrite(t.rel);
			} catch (err) {
				if (!(removal && SandboxError.is(err, 'hardlink'))) throw err;
			}
		});
	}

	private checkReplace(from: string, to: string, srcSt: Stats, dstSt: Stats | undefined, overwrite?: boolean): void {
		if (!dstSt) return;
		if (!overwrite) throw new StepError('exists', `${to} already exists (set overwrite to replace it)`, { permanent: true });
		if (dstSt.isDirectory() !== srcSt.isDirectory()) {
			const what = dstSt.isDirectory() ? 'a directory with a file' : 'a file with a directory';
			throw new StepError('exists', `cannot replace ${what}: ${from} → ${to}`, { permanent: true });
		}
	}
}
