// The few write primitives the state layer goes through: one seam, so tests can inject ENOSPC and count fsyncs.
//
// Why some calls are synchronous: for small, page-cached files a synchronous open/read/write/close costs a fraction
// of a thread-pool round trip (and Node has only 4 pool threads), so metadata calls and I/O on payloads up to
// SYNC_IO_LIMIT run on the main thread; anything that waits for the device (fsync, fdatasync) stays asynchronous.
import { closeSync, fchmodSync, fdatasync, fstatSync, fsync, openSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

/** Largest payload read or written with synchronous calls (see above); larger ones use the async API. */
export const SYNC_IO_LIMIT = 1024 * 1024;

/** Errno code of a Node error, or undefined. */
export function errnoCode(err: unknown): string | undefined {
	const code = (err as NodeJS.ErrnoException | undefined)?.code;
	return typeof code === 'string' ? code : undefined;
}

/** ENOSPC, or EDQUOT (a quota is as full as a disk, for the user). */
export function isDiskFull(err: unknown): boolean {
	const code = errnoCode(err);
	return code === 'ENOSPC' || code === 'EDQUOT';
}

export function isMissing(err: unknown): boolean {
	const code = errnoCode(err);
	return code === 'ENOENT' || code === 'ENOTDIR';
}

function promiseFd(fn: typeof fsync, fd: number): Promise<void> {
	return new Promise((resolve, reject) => fn(fd, (err) => (err ? reject(err) : resolve())));
}

/**
 * Every durable write of the state layer (journal, blobs, state files, journaled workspace writes) goes through
 * these functions. Tests replace them to simulate a full disk or to count fsyncs; the `file` argument says which.
 */
export const stateIo = {
	/** Write all of `data` at `position` (null: the current position), looping over short writes. */
	async writeAll(fh: FileHandle, data: Uint8Array, position: number | null, _file: string): Promise<void> {
		let done = 0;
		while (done < data.length) {
			const { bytesWritten } = await fh.write(data, done, data.length - done, position === null ? null : position + done);
			done += bytesWritten;
		}
	},
	/** writeAll for a small payload on a raw descriptor, synchronously (see the note at the top). */
	writeAllSync(fd: number, data: Uint8Array, position: number, _file: string): void {
		let done = 0;
		while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
	},
	/** fsync: data and metadata (mode), as a plain durable write does. */
	async sync(fh: FileHandle | number, _file: string): Promise<void> {
		if (typeof fh === 'number') await promiseFd(fsync, fh);
		else await fh.sync();
	},
	/** fdatasync: enough for files whose metadata besides the size does not matter (blobs). */
	async datasync(fh: FileHandle | number, _file: string): Promise<void> {
		if (typeof fh === 'number') await promiseFd(fdatasync, fh);
		else await fh.datasync();
	},
};

export interface DurableWriteOptions {
	/** 'w' truncates in place (same inode) or creates; 'wx' only creates. */
	flags: 'w' | 'wx';
	/** Mode a created file starts with (less the umask). */
	createMode: number;
	/** Set these permission bits after writing (undefined: leave the mode alone). */
	chmod?: number;
	/** 'full' = fsync (data + metadata, as a plain durable write); 'data' = fdatasync; 'none' = page cache only. */
	sync: 'full' | 'data' | 'none';
	/** Return the file's permission bits after the write (costs an fstat). */
	statMode?: boolean;
}

/**
 * Write a whole file and make it durable: open, write, optional chmod, fsync/fdatasync, close. Payloads up to
 * SYNC_IO_LIMIT use synchronous calls except for the sync itself (see the note at the top).
 */
export async function writeDurably(file: string, data: Uint8Array, opts: DurableWriteOptions): Promise<number | undefined> {
	if (data.length > SYNC_IO_LIMIT) {
		const fh = await open(file, opts.flags, opts.createMode);
		try {
			await stateIo.writeAll(fh, data, 0, file);
			if (opts.chmod !== undefined) await fh.chmod(opts.chmod);
			if (opts.sync !== 'none') await (opts.sync === 'full' ? stateIo.sync(fh, file) : stateIo.datasync(fh, file));
			return opts.statMode ? (await fh.stat()).mode & 0o7777 : undefined;
		} finally {
			await fh.close();
		}
	}
	return writeToFd(openSync(file, opts.flags, opts.createMode), file, data, opts);
}

/** Writes a small file through an open descriptor (then closed): the synchronous half of a durable write. */
export async function writeToFd(fd: number, file: string, data: Uint8Array, opts: DurableWriteOptions): Promise<number | undefined> {
	try {
		stateIo.writeAllSync(fd, data, 0, file);
		if (opts.chmod !== undefined) fchmodSync(fd, opts.chmod);
		if (opts.sync !== 'none') await (opts.sync === 'full' ? stateIo.sync(fd, file) : stateIo.datasync(fd, file));
		return opts.statMode ? fstatSync(fd).mode & 0o7777 : undefined;
	} finally {
		closeSync(fd);
	}
}
