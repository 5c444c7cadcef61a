// Capturing the before-images a transaction journals (the run's first one of a path, and each step's own).
import { readlink } from 'node:fs/promises';
import { StepError } from '../errors';
import type { BlobStore } from './blobs';
import { IN_MEMORY_LIMIT, S_IFLNK, modeOf, readFileFast, readOpenFile, sha256 } from './fsState';
import { kindOf } from './txTargets';
import type { AfterRecord, BeforeRecord, Image, Target } from './txTargets';

/** What of a run's transaction a capture uses: where blobs go and how records are appended. */
export interface ImageContext {
	readonly blobs: BlobStore;
	record(rec: BeforeRecord | AfterRecord): void;
}

async function storeDurably(ctx: ImageContext, hash: string, data: Buffer): Promise<void> {
	await ctx.blobs.write(hash, data);
	await ctx.blobs.sync();
}

export async function capture(ctx: ImageContext, step: string, t: Target): Promise<Image> {
	const st = t.st;
	if (!st) {
		ctx.record({ t: 'before', step, path: t.rel, kind: 'absent' });
		return { kind: 'absent' };
	}
	if (st.isDirectory()) {
		ctx.record({ t: 'before', step, path: t.rel, kind: 'dir', mode: modeOf(st) });
		return { kind: 'dir', mode: modeOf(st) };
	}
	if (st.isSymbolicLink()) {
		const mode = S_IFLNK | (st.mode & 0o777);
		const data = Buffer.from(await readlink(t.abs));
		const hash = sha256(data);
		await storeDurably(ctx, hash, data);
		ctx.record({ t: 'before', step, path: t.rel, kind: 'file', blob: hash, mode });
		return { kind: 'file', hash, mode };
	}
	if (!st.isFile()) {
		throw new StepError('io', `${t.rel} is a socket, FIFO or device: it cannot be journaled, so it is not changed`, {
			permanent: true,
		});
	}
	const mode = modeOf(st);
	if (st.size > IN_MEMORY_LIMIT) {
		const hash = await ctx.blobs.putLargeFile(t.abs);
		ctx.record({ t: 'before', step, path: t.rel, kind: 'file', blob: hash, mode });
		return { kind: 'file', hash, mode };
	}
	// Write-ahead rule: the record naming a blob is appended only once the blob is durable. Any other step's
	// group commit may write the journal out at any moment, and a record must never name a missing blob.
	const data = t.fd === undefined ? await readFileFast(t.abs) : readOpenFile(t.fd, st.size);
	const hash = sha256(data);
	await storeDurably(ctx, hash, data);
	ctx.record({ t: 'before', step, path: t.rel, kind: 'file', blob: hash, mode });
	return { kind: 'file', hash, data, mode };
}

/**
 * A step's first touch of a path the run already imaged: save what is there now, so the step can be undone and
 * re-run after a crash. The blob skips fsync (a page-cache copy survives a killed process; after a power cut
 * undoInterrupted reports it missing and the run can still be rolled back from the run's own images).
 */
export async function captureStepImage(ctx: ImageContext, step: string, t: Target): Promise<void> {
	const st = t.st;
	if (!st || st.isDirectory()) {
		ctx.record({ t: 'before', step, path: t.rel, kind: kindOf(st), ...(st ? { mode: modeOf(st) } : {}) });
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
		await ctx.blobs.write(hash, data, false);
	} else if (st.size > IN_MEMORY_LIMIT) {
		hash = await ctx.blobs.putLargeFile(t.abs);
	} else {
		const data = t.fd === undefined ? await readFileFast(t.abs) : readOpenFile(t.fd, st.size);
		hash = sha256(data);
		await ctx.blobs.write(hash, data, false);
	}
	ctx.record({ t: 'before', step, path: t.rel, kind: 'file', blob: hash, mode });
}
