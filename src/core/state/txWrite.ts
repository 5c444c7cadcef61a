// A journaled file write (the general path and the one-descriptor rewrite of a small file), apart from the transaction.
import { mkdir } from 'node:fs/promises';
import { closeSync, fstatSync } from 'node:fs';
import * as path from 'node:path';
import { SandboxError, StepError } from '../errors';
import { modeOf, openForUpdate, rewriteOpenFile, sha256 } from './fsState';
import { SYNC_IO_LIMIT, errnoCode } from './io';
import type { TreeOpsContext } from './txTreeOps';
import { resolveTarget, writeInPlace } from './txTargets';
import type { Target, WriteOptions } from './txTargets';

/** What of a run's transaction a file write uses (the same as the tree operations). */
export type WriteContext = TreeOpsContext;

export async function writeFileLocked(ctx: WriteContext, step: string, rel: string, t: Target, bytes: Buffer, opts: WriteOptions): Promise<void> {
	if (t.st?.isDirectory()) throw new StepError('exists', `cannot write ${rel}: it is a directory`, { permanent: true });
	if (t.st && opts.exclusive) throw new StepError('exists', `${rel} already exists`, { permanent: true });
	if (t.st?.isFile() && t.st.size <= SYNC_IO_LIMIT && bytes.length <= SYNC_IO_LIMIT) {
		const fresh = await rewriteSmallFile(ctx, step, rel, t, bytes, opts);
		if (!fresh) return;
		t = fresh; // it changed between the check and the open: start over from what is there now
		if (t.st?.isDirectory()) throw new StepError('exists', `cannot write ${rel}: it is a directory`, { permanent: true });
		if (t.st && opts.exclusive) throw new StepError('exists', `${rel} already exists`, { permanent: true });
	}
	if (!t.st && opts.mustExist) throw new StepError('not-found', `${rel} does not exist`, { permanent: true });
	const existingMode = t.st ? modeOf(t.st) : undefined;
	for (let attempt = 0; ; attempt++) {
		const parents = ctx.missingParents(t);
		try {
			await ctx.apply(step, rel, [...parents, t], async () => {
				if (parents.length > 0) await mkdir(path.dirname(t.abs), { recursive: true });
				const mode = await writeInPlace(t.abs, bytes, opts.mode, existingMode, opts.exclusive);
				await ctx.afterDirs(step, parents);
				ctx.after(step, t.rel, { kind: 'file', hash: sha256(bytes), mode, size: bytes.length });
			});
			return;
		} catch (err) {
			// A folder that was there when the path was checked has been removed since: journal its re-creation, retry once.
			if (attempt > 0 || t.st || parents.length > 0 || !StepError.is(err, 'not-found')) throw err;
			const fresh = resolveTarget(ctx.sandbox, rel);
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
async function rewriteSmallFile(ctx: WriteContext, step: string, rel: string, t: Target, bytes: Buffer, opts: WriteOptions): Promise<Target | undefined> {
	let fd: number;
	try {
		fd = openForUpdate(t.abs);
	} catch (err) {
		const code = errnoCode(err);
		if (code !== 'ENOENT' && code !== 'ELOOP' && code !== 'EISDIR' && code !== 'ENXIO') throw err;
		return retarget(ctx, rel, t);
	}
	try {
		const st = fstatSync(fd);
		if (!st.isFile()) return retarget(ctx, rel, t);
		if (st.nlink > 1) {
			throw new SandboxError('hardlink', `"${rel}" has ${st.nlink} hard links; writing it would change the other names too (possibly outside the workspace)`);
		}
		const target: Target = { ...t, st, fd };
		const existingMode = modeOf(st);
		await ctx.apply(step, rel, [target], async () => {
			await rewriteOpenFile(fd, t.abs, bytes, st.size, opts.mode !== undefined && opts.mode !== existingMode ? opts.mode : undefined);
			ctx.after(step, t.rel, { kind: 'file', hash: sha256(bytes), mode: opts.mode ?? existingMode, size: bytes.length });
		});
		return undefined;
	} finally {
		closeSync(fd);
	}
}

/** The path resolved again for an operation that holds its lock; it must still be the same path. */
function retarget(ctx: WriteContext, rel: string, t: Target): Target {
	const fresh = resolveTarget(ctx.sandbox, rel);
	if (fresh.rel !== t.rel) throw new StepError('io', `${rel} changed while it was being written (it now leads to ${fresh.rel}); try again`);
	return fresh;
}
