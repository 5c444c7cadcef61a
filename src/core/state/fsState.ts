// What is at a workspace path right now, in the terms the journal records (kind, content hash, mode).
import { createHash } from 'node:crypto';
import { closeSync, constants, createReadStream, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { lstat, readFile, readlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { SYNC_IO_LIMIT, errnoCode, isMissing } from './io';

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

/** lstat as a cheap synchronous metadata call (see io.ts), undefined when nothing is there (no exception built). */
export function lstatSyncOrUndefined(abs: string): Stats | undefined {
	try {
		return lstatSync(abs, { throwIfNoEntry: false });
	} catch (err) {
		if (isMissing(err)) return undefined; // ENOTDIR: a parent is a file
		throw err;
	}
}

/** O_NOFOLLOW where the platform has it: open a path without following a final symlink (saves an lstat). */
const OPEN_NOFOLLOW =
	constants.O_NOFOLLOW === undefined ? undefined : constants.O_RDONLY | constants.O_NOFOLLOW | (constants.O_NONBLOCK ?? 0);

/** Read `size` bytes from the start of an open descriptor (fewer if the file shrank meanwhile). */
function readFdSync(fd: number, size: number): Buffer {
	const buf = Buffer.allocUnsafe(size);
	let done = 0;
	while (done < size) {
		const n = readSync(fd, buf, done, size - done, done);
		if (n === 0) break;
		done += n;
	}
	return done < size ? buf.subarray(0, done) : buf;
}

/** Read a whole file: synchronously when small (see io.ts), else asynchronously. */
export async function readFileFast(abs: string): Promise<Buffer> {
	const fd = openSync(abs, 'r');
	let handedOver = false;
	try {
		const { size } = fstatSync(fd);
		if (size <= SYNC_IO_LIMIT) return readFdSync(fd, size);
		handedOver = true;
		closeSync(fd);
		return await readFile(abs);
	} finally {
		if (!handedOver) closeSync(fd);
	}
}

/** The state at `abs` (never following a final symlink), with the content hash of files and links. */
export async function inspectPath(abs: string, known?: Stats): Promise<PathState> {
	if (!known && OPEN_NOFOLLOW !== undefined) {
		// Common case, a small regular file: open + fstat + read + close, no separate lstat.
		let fd: number | undefined;
		try {
			fd = openSync(abs, OPEN_NOFOLLOW);
		} catch (err) {
			if (isMissing(err)) return { kind: 'absent' };
			if (errnoCode(err) !== 'ELOOP' && errnoCode(err) !== 'ENXIO' && errnoCode(err) !== 'EACCES') throw err;
		}
		if (fd !== undefined) {
			try {
				const st = fstatSync(fd);
				if (st.isFile() && st.size <= SYNC_IO_LIMIT) {
					const data = readFdSync(fd, st.size);
					return { kind: 'file', hash: sha256(data), mode: modeOf(st), size: data.length };
				}
				if (st.isDirectory()) return { kind: 'dir', mode: modeOf(st) };
			} finally {
				closeSync(fd);
			}
		}
	}
	const st = known ?? (await lstatOrUndefined(abs));
	if (!st) return { kind: 'absent' };
	if (st.isDirectory()) return { kind: 'dir', mode: modeOf(st) };
	if (st.isSymbolicLink()) {
		const target = await readlink(abs);
		return { kind: 'symlink', hash: sha256(target), mode: S_IFLNK | (st.mode & 0o777), target };
	}
	if (!st.isFile()) return { kind: 'other', mode: st.mode };
	const hash = st.size <= IN_MEMORY_LIMIT ? sha256(await readFileFast(abs)) : await hashFile(abs);
	return { kind: 'file', hash, mode: modeOf(st), size: st.size };
}
