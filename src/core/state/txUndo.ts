// Undoing a step a crash interrupted, so it can be re-run from its own starting state: kept apart from the write path.
import { chmod, mkdir, rmdir, symlink, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { StepError } from '../errors';
import type { BlobStore } from './blobs';
import { inspectPath, isLinkMode, lstatSyncOrUndefined } from './fsState';
import type { PathState } from './fsState';
import { errnoCode } from './io';
import { writeInPlace } from './txTargets';
import type { AfterRecord, BeforeRecord, Target } from './txTargets';

/** What of a run's transaction the undo reads and drives. */
export interface UndoContext {
	readonly sandbox: { readonly root: string };
	readonly blobs: BlobStore;
	readonly stepImages: Map<string, Map<string, BeforeRecord>>;
	readonly lastRecord: Map<string, BeforeRecord | AfterRecord>;
	readonly interrupted: Set<string>;
	withTargets<T>(rels: string[], fn: (...targets: Target[]) => Promise<T>): Promise<T>;
	apply(step: string, rel: string, targets: Target[], effect: () => Promise<void>): Promise<void>;
	after(step: string, rel: string, state: PathState): void;
}

/** Whether a path is in the state a step's before-image recorded. */
export function isAsImaged(image: BeforeRecord, now: PathState): boolean {
	if (image.kind === 'absent') return now.kind === 'absent';
	if (image.kind === 'dir') return now.kind === 'dir' && now.mode === image.mode;
	return (now.kind === 'file' || now.kind === 'symlink') && now.hash === image.blob && now.mode === image.mode;
}

/** Restore each path `step` touched to the state recorded before the step touched it (see undoInterrupted). */
export function undoStep(ctx: UndoContext, step: string): Promise<void> {
	return undoSteps(ctx, [step], `cannot re-run ${step} after the crash`);
}

/**
 * Restore each path a group of steps touched (in the order given: an agent's tool steps) to its state before the
 * first of them touched it. A path another step changed since stops the undo with `failure` and the reason.
 */
export async function undoSteps(ctx: UndoContext, steps: readonly string[], failure: string): Promise<void> {
	const group = new Set(steps);
	const first = new Map<string, BeforeRecord>();
	for (const s of steps) for (const image of ctx.stepImages.get(s)?.values() ?? []) if (!first.has(image.path)) first.set(image.path, image);
	const images: BeforeRecord[] = [];
	for (const image of first.values()) {
		const last = ctx.lastRecord.get(image.path);
		if (last === undefined || group.has(last.step)) {
			images.push(image);
			continue;
		}
		if (isSharedFolder(ctx, image, last)) continue;
		// Nothing to undo when the path is as this step found it (the crash came before the step's effect on it).
		if (isAsImaged(image, await inspectPath(path.join(ctx.sandbox.root, ...image.path.split('/'))))) continue;
		throw new StepError('io', `${failure}: ${image.path} was changed by step ${last.step} since; roll the run back instead`, {
			permanent: true,
		});
	}
	const depth = (p: string) => p.split('/').length;
	// Removals deepest first, then directories shallowest first, then files and links.
	const order = (i: BeforeRecord) => (i.kind === 'absent' ? 0 : i.kind === 'dir' ? 1 : 2);
	images.sort((a, b) => order(a) - order(b) || (order(a) === 0 ? depth(b.path) - depth(a.path) : depth(a.path) - depth(b.path)));
	for (const image of images) await ctx.withTargets([image.path], (t) => restoreStepImage(ctx, image.step, t, image));
}

/**
 * A folder this step found missing (or there) that another step made sure of too (concurrent writes into a new
 * folder) is shared, not this step's to undo: the re-run finds it there. It is one when it is a directory now and
 * the other step's last record about it says so, or is the in-flight marker of a step the crash interrupted too
 * (undone in turn). Anything else another step did to the path since is that step's work, and stops the undo.
 */
function isSharedFolder(ctx: UndoContext, image: BeforeRecord, last: BeforeRecord | AfterRecord): boolean {
	if (image.kind === 'file') return false;
	if (last.t === 'after' ? last.kind !== 'dir' : !ctx.interrupted.has(last.step)) return false;
	return lstatSyncOrUndefined(path.join(ctx.sandbox.root, ...image.path.split('/')))?.isDirectory() === true;
}

async function restoreStepImage(ctx: UndoContext, step: string, t: Target, image: BeforeRecord): Promise<void> {
	const now = await inspectPath(t.abs);
	const link = isLinkMode(image.mode);
	if (isAsImaged(image, now)) return;
	let data: Buffer | undefined;
	if (image.kind === 'file') {
		if (image.blob === undefined) throw new StepError('io', `cannot re-run ${step} after the crash: no starting content of ${t.rel} was recorded`, { permanent: true });
		try {
			data = await ctx.blobs.get(image.blob);
		} catch {
			throw new StepError('io', `cannot re-run ${step} after the crash: the saved starting content of ${t.rel} was lost (power cut?); roll the run back instead`, {
				permanent: true,
			});
		}
	}
	await ctx.apply(step, t.rel, [t], async () => {
		if (now.kind === 'dir' && image.kind !== 'dir') {
			try {
				await rmdir(t.abs);
			} catch (err) {
				// A folder the step made that others have put files in since: leave it, the re-run finds it there.
				if (errnoCode(err) !== 'ENOTEMPTY' && errnoCode(err) !== 'EEXIST') throw err;
				ctx.after(step, t.rel, now);
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
		ctx.after(step, t.rel, await inspectPath(t.abs));
	});
}
