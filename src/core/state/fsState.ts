// What is at a workspace path right now, in the terms the journal records (kind, content hash, mode).
import { createHash } from 'node:crypto';
import { closeSync, constants, createReadStream, fchmodSync, fstatSync, ftruncateSync, lstatSync, open, openSync, readSync } from 'node:fs';
import { lstat, readFile, readlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { SYNC_IO_LIMIT, errnoCode, isMissing, stateIo, writeDurably, writeToFd } from './io';
import type { DurableWriteOptions } from './io';

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

function openOffThread(file: string, flags: string | number, mode: number): Promise<number> {
	return new Promise((resolve, reject) => open(file, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd))));
}

/**
 * writeDurably for workspace files and before-images: the same calls, with a choice of where the open runs. Creating
 * or truncating a file can wait for the file system's journal commit (which concurrent fsyncs keep busy): on the
 * thread pool (the default) that wait does not stall the event loop, but it occupies one of the pool's few threads,
 * which the journal's and the other steps' syncs queue for. `openOnMainThread` is for callers whose syncs queue
 * behind it (a run's own writes); the small write and the close are synchronous either way.
 */
export async function writeFileDurably(
	file: string,
	data: Uint8Array,
	opts: DurableWriteOptions,
	openOnMainThread = false,
): Promise<number | undefined> {
	if (data.length > SYNC_IO_LIMIT) return writeDurably(file, data, opts);
	const fd = openOnMainThread ? openSync(file, opts.flags, opts.createMode) : await openOffThread(file, opts.flags, opts.createMode);
	return writeToFd(fd, file, data, opts);
}

/** O_RDWR without following a final symlink, never blocking (a FIFO swapped in); where the platform has them. */
const OPEN_UPDATE = constants.O_RDWR | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/**
 * Open an existing file for reading and rewriting in place. Opening has no effect on the file (no create, no
 * truncate), so it can happen before the change is journaled, and it is a cheap synchronous call (nothing for the
 * file system's journal to wait on). A final symlink is not followed (ELOOP).
 */
export function openForUpdate(abs: string): number {
	return openSync(abs, OPEN_UPDATE);
}

/** The whole content of an open file from its start; `sizeHint` (its size when statted) makes it one read. */
export function readOpenFile(fd: number, sizeHint: number): Buffer {
	let buf = Buffer.allocUnsafe(sizeHint + 1);
	let done = 0;
	for (;;) {
		const n = readSync(fd, buf, done, buf.length - done, done);
		done += n;
		if (n === 0 || done < buf.length) return buf.subarray(0, done);
		// It grew since it was statted: read on.
		const bigger = Buffer.allocUnsafe(buf.length * 2);
		buf.copy(bigger, 0, 0, done);
		buf = bigger;
	}
}

/**
 * Rewrite an open file in place (same inode) with `data`, set the mode if given, and fsync it. A crash midway
 * leaves a mix of old and new bytes, which the journal treats like any interrupted effect.
 */
export async function rewriteOpenFile(fd: number, file: string, data: Uint8Array, oldSize: number, chmod: number | undefined): Promise<void> {
	// Small payloads only (SYNC_IO_LIMIT): the write is synchronous, like writeFileDurably's.
	stateIo.writeAllSync(fd, data, 0, file);
	if (data.length < oldSize) ftruncateSync(fd, data.length);
	if (chmod !== undefined) fchmodSync(fd, chmod);
	await stateIo.sync(fd, file);
}
