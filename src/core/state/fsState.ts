// What is at a workspace path right now, in the terms the journal records (kind, content hash, mode).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readFile, readlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { isMissing } from './io';

/** Files up to this size are read whole; larger ones are streamed so a huge file never sits in memory. */
export const IN_MEMORY_LIMIT = 8 * 1024 * 1024;

/** st_mode type bits of a symbolic link: a 'file' record whose mode carries them is a symlink (blob = target). */
export const S_IFLNK = 0o120000;

export type PathState =
	| { kind: 'absent' }
	| { kind: 'file'; hash: string; mode: number; size: number }
	| { kind: 'dir'; mode: number }
	| { kind: 'symlink'; hash: string; mode: number; target: string }
	/** Sockets, FIFOs, devices: never journaled. */
	| { kind: 'other'; mode: number };

export function sha256(data: Uint8Array | string): string {
	return createHash('sha256').update(data).digest('hex');
}

/** sha256 of a file, streamed. */
export async function hashFile(abs: string): Promise<string> {
	const hash = createHash('sha256');
	for await (const chunk of createReadStream(abs)) hash.update(chunk as Buffer);
	return hash.digest('hex');
}

/** Permission bits of a regular file or directory as the journal stores them. */
export function modeOf(st: Stats): number {
	return st.mode & 0o7777;
}

export function isLinkMode(mode: number | undefined): boolean {
	return mode !== undefined && (mode & 0o170000) === S_IFLNK;
}

export async function lstatOrUndefined(abs: string): Promise<Stats | undefined> {
	try {
		return await lstat(abs);
	} catch (err) {
		if (isMissing(err)) return undefined;
		throw err;
	}
}

/** The state at `abs` (never following a final symlink), with the content hash of files and links. */
export async function inspectPath(abs: string, known?: Stats): Promise<PathState> {
	const st = known ?? (await lstatOrUndefined(abs));
	if (!st) return { kind: 'absent' };
	if (st.isDirectory()) return { kind: 'dir', mode: modeOf(st) };
	if (st.isSymbolicLink()) {
		const target = await readlink(abs);
		return { kind: 'symlink', hash: sha256(target), mode: S_IFLNK | (st.mode & 0o777), target };
	}
	if (!st.isFile()) return { kind: 'other', mode: st.mode };
	const hash = st.size <= IN_MEMORY_LIMIT ? sha256(await readFile(abs)) : await hashFile(abs);
	return { kind: 'file', hash, mode: modeOf(st), size: st.size };
}

/** The state a journal 'after' or 'before' record describes, comparable with inspectPath's result. */
export function sameState(a: PathState, b: PathState): boolean {
	switch (a.kind) {
		case 'absent':
			return b.kind === 'absent';
		case 'dir':
			return b.kind === 'dir';
		case 'file':
		case 'symlink':
			return b.kind === a.kind && b.hash === a.hash && b.mode === a.mode;
		case 'other':
			return false;
	}
}
