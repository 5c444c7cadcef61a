// The tree-shaped operations (remove, mkdir, copy, move) of a transaction, planned here and journaled through it.
import { chmod, cp, mkdir, readlink, rename, rm, symlink, unlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import * as path from 'node:path';
import { StepError } from '../errors';
import type { Sandbox } from '../sandbox/types';
import { inspectPath, lstatOrUndefined, modeOf, readFileFast, sha256 } from './fsState';
import type { PathState } from './fsState';
import { errnoCode } from './io';
import { forEachLimit } from './pool';
import { STEP_IO_PARALLELISM, checkReplace, checkTree, isInsideOrSame, walkTree, writeInPlace } from './txTargets';
import type { Target } from './txTargets';

/** What of a run's transaction the tree operations use to journal their effects. */
export interface TreeOpsContext {
	readonly sandbox: Sandbox;
	missingParents(t: Target): Target[];
	apply(step: string, rel: string, targets: Target[], effect: () => Promise<void>): Promise<void>;
	after(step: string, rel: string, state: PathState): void;
	afterDirs(step: string, dirs: Target[]): Promise<void>;
}

export async function removeLocked(ctx: TreeOpsContext, step: string, rel: string, t: Target): Promise<void> {
	if (!t.st) throw new StepError('not-found', `${rel} does not exist`);
	const entries = await walkTree(t.abs, t.st);
	const targets = entries.map((e) => ({ rel: ctx.sandbox.relative(e.abs), abs: e.abs, st: e.st }));
	await checkTree(ctx.sandbox, targets, true);
	await ctx.apply(step, rel, targets, async () => {
		await rm(t.abs, { recursive: true });
		for (const x of [...targets].reverse()) ctx.after(step, x.rel, { kind: 'absent' });
	});
}

export async function mkdirLocked(ctx: TreeOpsContext, step: string, rel: string, t: Target): Promise<void> {
	if (t.st?.isDirectory()) return;
	if (t.st) throw new StepError('exists', `cannot create directory ${rel}: a file is in the way`, { permanent: true });
	const created = [...ctx.missingParents(t), t];
	await ctx.apply(step, rel, created, async () => {
		await mkdir(t.abs, { recursive: true });
		await ctx.afterDirs(step, created);
	});
}

export async function copyLocked(
	ctx: TreeOpsContext,
	step: string,
	from: string,
	to: string,
	opts: { overwrite?: boolean },
	src: string,
	srcSt: Stats,
	dst: Target,
): Promise<void> {
	checkReplace(from, to, srcSt, dst.st, opts.overwrite);
	if (srcSt.isDirectory() && isInsideOrSame(src, dst.abs)) {
		throw new StepError('parameters', `cannot copy ${from} into itself (${to})`);
	}
	const entries = await walkTree(src, srcSt);
	const plan: { from: { abs: string; st: Stats }; to: Target }[] = [];
	for (const e of entries) {
		const abs = path.join(dst.abs, path.relative(src, e.abs));
		const st = abs === dst.abs ? dst.st : await lstatOrUndefined(abs);
		if (st && st.isDirectory() !== e.st.isDirectory()) {
			throw new StepError('exists', `cannot copy ${from} to ${to}: ${ctx.sandbox.relative(abs)} is in the way`, {
				permanent: true,
			});
		}
		plan.push({ from: e, to: { rel: ctx.sandbox.relative(abs), abs, st } });
	}
	await checkTree(ctx.sandbox, plan.map((p) => p.to), false);
	const parents = ctx.missingParents(dst);
	await ctx.apply(step, to, [...parents, ...plan.map((p) => p.to)], async () => {
		if (parents.length > 0) await mkdir(path.dirname(dst.abs), { recursive: true });
		await ctx.afterDirs(step, parents);
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
					ctx.after(step, p.to.rel, await inspectPath(p.to.abs));
					return;
				}
				if (!p.from.st.isFile()) throw new StepError('io', `${from}: ${ctx.sandbox.relative(p.from.abs)} is not a regular file`);
				const data = await readFileFast(p.from.abs);
				// Like cp: a new file gets the source's mode, an overwritten one keeps its own.
				const mode = await writeInPlace(p.to.abs, data, p.to.st ? undefined : modeOf(p.from.st), p.to.st ? modeOf(p.to.st) : undefined);
				ctx.after(step, p.to.rel, { kind: 'file', hash: sha256(data), mode, size: data.length });
			},
		);
		// Directory modes last, so a read-only source folder does not block writing its own files.
		const dirs = plan.filter((p) => p.from.st.isDirectory());
		for (const p of [...dirs].reverse()) if (!p.to.st) await chmod(p.to.abs, modeOf(p.from.st));
		await ctx.afterDirs(step, dirs.map((p) => p.to));
	});
}

export async function moveLocked(ctx: TreeOpsContext, step: string, from: string, to: string, opts: { overwrite?: boolean }, src: Target, dst: Target): Promise<void> {
	if (!src.st) throw new StepError('not-found', `${from} does not exist`);
	if (src.abs === dst.abs) return;
	if (src.st.isDirectory() && isInsideOrSame(src.abs, dst.abs)) {
		throw new StepError('parameters', `cannot move ${from} into itself (${to})`);
	}
	checkReplace(from, to, src.st, dst.st, opts.overwrite);
	const srcEntries = await walkTree(src.abs, src.st);
	const dstEntries = dst.st ? await walkTree(dst.abs, dst.st) : [];
	const srcTargets = srcEntries.map((e) => ({ rel: ctx.sandbox.relative(e.abs), abs: e.abs, st: e.st }));
	const dstTargets = new Map<string, Target>();
	for (const e of dstEntries) dstTargets.set(e.abs, { rel: ctx.sandbox.relative(e.abs), abs: e.abs, st: e.st });
	for (const e of srcEntries) {
		const abs = path.join(dst.abs, path.relative(src.abs, e.abs));
		if (!dstTargets.has(abs)) dstTargets.set(abs, { rel: ctx.sandbox.relative(abs), abs, st: undefined });
	}
	await checkTree(ctx.sandbox, srcTargets, true);
	await checkTree(ctx.sandbox, [dst, ...dstTargets.values()], false);
	const parents = ctx.missingParents(dst);
	const targets = [...srcTargets, ...parents, ...dstTargets.values()];
	await ctx.apply(step, to, targets, async () => {
		if (parents.length > 0) await mkdir(path.dirname(dst.abs), { recursive: true });
		if (dst.st) await rm(dst.abs, { recursive: true });
		try {
			await rename(src.abs, dst.abs);
		} catch (err) {
			if (errnoCode(err) !== 'EXDEV') throw err;
			await cp(src.abs, dst.abs, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
			await rm(src.abs, { recursive: true });
		}
		for (const x of [...srcTargets].reverse()) ctx.after(step, x.rel, { kind: 'absent' });
		await ctx.afterDirs(step, parents);
		for (const x of dstTargets.values()) ctx.after(step, x.rel, await inspectPath(x.abs));
	});
}
