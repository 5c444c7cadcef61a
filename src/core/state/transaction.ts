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
import { readFile, rmdir, unlink } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { SandboxError, StateError, StepError } from '../errors';
import type { WorkspaceFs } from '../handlers/types';
import type { Sandbox } from '../sandbox/types';
import { BlobStore } from './blobs';
import {
	inspectPath,
	lstatOrUndefined,
	lstatSyncOrUndefined,
	modeOf,
} from './fsState';
import type { PathState } from './fsState';
import { errnoCode, isDiskFull, isMissing } from './io';
import type { Journal } from './journal';
import { forEachLimit } from './pool';
import type { JournalRecord } from './records';
import { runPaths, stateDirFor } from './runStore';
import { STEP_IO_PARALLELISM, kindOf, missingParents, withTargets, writeInPlace } from './txTargets';
import type { AfterRecord, BeforeRecord, Image, Target, WriteOptions } from './txTargets';
import { copyLocked, mkdirLocked, moveLocked, removeLocked } from './txTreeOps';
import { capture as captureImage, captureStepImage } from './txImages';
import { undoStep, undoSteps } from './txUndo';
import { writeFileLocked } from './txWrite';

export { rollback } from './rollback';
export type { RollbackOptions, RollbackResult, CompensationResult } from './rollback';

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
	/**
	 * Put every path these steps touched (an agent's tool steps, in order) back to its state before the first of
	 * them touched it: compensating a failed step. A path another step changed since stops it with a StepError.
	 */
	undoSteps(stepIds: readonly string[], what: string): Promise<void>;
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

class RunTransaction implements Transaction {
	readonly runId: string;
	readonly sandbox: Sandbox;
	private readonly journal: Journal;
	readonly blobs: BlobStore;
	/** Paths imaged by this run: resolves true once the 'before' record is appended, false if the capture failed. */
	private readonly imaged = new Map<string, Promise<boolean>>();
	/** Per-path operation locks (tail of each path's queue). */
	private readonly pathLocks = new Map<string, Promise<void>>();
	/** step → path → the first 'before' that step wrote for the path: the state undoInterrupted restores. */
	readonly stepImages = new Map<string, Map<string, BeforeRecord>>();
	/** path → the last record about it (an undo must not undo another step's later work). */
	readonly lastRecord = new Map<string, BeforeRecord | AfterRecord>();
	/** Steps a previous process started and never ended. */
	readonly interrupted = new Set<string>();
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
			done = this.interrupted.has(stepId) ? this.guard(stepId, () => undoStep(this, stepId)) : Promise.resolve();
			this.undone.set(stepId, done);
		}
		return done;
	}

	undoSteps(stepIds: readonly string[], what: string): Promise<void> {
		return stepIds.length ? this.guard(what, () => undoSteps(this, stepIds, `cannot undo ${what}`)) : Promise.resolve();
	}

	/** Keep the in-memory indexes (per-step images, last writer) in step with a record, and append it. */
	record(rec: BeforeRecord | AfterRecord): void {
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

	/** See withTargets in txTargets.ts: resolve paths for writing and hold their locks for the whole operation. */
	withTargets<T>(rels: string[], fn: (...targets: Target[]) => Promise<T>): Promise<T> {
		return withTargets(this.sandbox, this.pathLocks, rels, fn);
	}

	missingParents(t: Target): Target[] {
		return missingParents(this.sandbox, t);
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
				else await captureStepImage(this, step, t);
				return undefined;
			}
			const capture = captureImage(this, step, t);
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

	after(step: string, rel: string, state: PathState): void {
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

	async afterDirs(step: string, dirs: Target[]): Promise<void> {
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
	async apply(step: string, rel: string, targets: Target[], effect: () => Promise<void>): Promise<void> {
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
		await this.withTargets([rel], (t) => writeFileLocked(this, step, rel, t, bytes, opts));
	}

	private async remove(step: string, rel: string): Promise<void> {
		await this.withTargets([rel], (t) => removeLocked(this, step, rel, t));
	}

	private async mkdir(step: string, rel: string): Promise<void> {
		await this.withTargets([rel], (t) => mkdirLocked(this, step, rel, t));
	}

	private async copy(step: string, from: string, to: string, opts: { overwrite?: boolean }): Promise<void> {
		const src = await this.sandbox.resolveRead(from);
		const srcSt = await lstatOrUndefined(src);
		if (!srcSt) throw new StepError('not-found', `${from} does not exist`);
		await this.withTargets([to], (dst) => copyLocked(this, step, from, to, opts, src, srcSt, dst));
	}

	private async move(step: string, from: string, to: string, opts: { overwrite?: boolean }): Promise<void> {
		await this.withTargets([from, to], (src, dst) => moveLocked(this, step, from, to, opts, src, dst));
	}
}
