// Crash-safe state files: a reader sees the old bytes or the new ones, never a mix, and a full disk is named as such.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fchmodSync, openSync, renameSync } from 'node:fs';
import { open, readFile, unlink, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { StateError } from '../errors';
import { errnoCode, isDiskFull, isMissing, stateIo, SYNC_IO_LIMIT } from './io';

/** The error for a full disk while writing state: what was being written and where. */
export function diskFullError(what: string, file: string): StateError {
	return new StateError('disk-full', `no space left on device while writing ${what} ${file}; free some space and retry`);
}

/** A state-layer error for an unexpected I/O failure, naming the file. */
export function ioError(what: string, file: string, err: unknown): StateError {
	if (err instanceof StateError) return err;
	if (isDiskFull(err)) return diskFullError(what, file);
	const reason = err instanceof Error ? err.message : String(err);
	return new StateError('io', `cannot write ${what} ${file}: ${reason}`);
}

/**
 * fsync a directory so entries created, renamed or removed in it survive a power cut. Opening and closing it are
 * synchronous (see io.ts): only the fsync waits for the device, one trip through the event loop.
 */
export async function fsyncDir(dir: string): Promise<void> {
	let fd: number;
	try {
		fd = openSync(dir, 'r');
	} catch (err) {
		// Windows cannot open directories; its metadata journaling makes the rename durable enough.
		if (errnoCode(err) === 'EISDIR' || errnoCode(err) === 'EPERM' || errnoCode(err) === 'EACCES') return;
		throw err;
	}
	try {
		await stateIo.sync(fd, dir);
	} catch (err) {
		// Some file systems (and Windows) refuse fsync on a directory handle; nothing more can be done there.
		if (errnoCode(err) !== 'EINVAL' && errnoCode(err) !== 'EPERM' && errnoCode(err) !== 'EBADF') throw err;
	} finally {
		closeSync(fd);
	}
}

/** A temporary name next to `file` (same folder, so the rename is atomic), hidden and unique per writer. */
export function tempNameFor(file: string): string {
	return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Write `file` atomically: temp file in the same folder, fsync, rename over the target, fsync the folder.
 * `what` names the file in errors ("run summary"). A full disk gives StateError 'disk-full'; the temp file is removed.
 * `syncFolder: false` leaves the folder's fsync to a caller that syncs it once for several entries. With `after`, the
 * new content goes to the disk at once but replaces the file only once `after` resolves (state that must not be seen
 * before something else is durable); if it rejects, the file is left as it was and that error is thrown.
 */
export async function writeFileAtomic(
	file: string,
	data: string | Uint8Array,
	opts: { mode?: number; what?: string; syncFolder?: boolean; after?: Promise<unknown> } = {},
): Promise<void> {
	const what = opts.what ?? 'state file';
	const temp = tempNameFor(file);
	const bytes = typeof data === 'string' ? utf8(data) : data;
	let created = false;
	try {
		if (bytes.length <= SYNC_IO_LIMIT) {
			// Small contents are written synchronously (see io.ts): only the fsyncs wait for the device.
			const fd = openSync(temp, 'wx', opts.mode ?? 0o644);
			created = true;
			try {
				stateIo.writeAllSync(fd, bytes, 0, temp);
				if (opts.mode !== undefined) fchmodSync(fd, opts.mode);
				await stateIo.sync(fd, temp);
			} finally {
				closeSync(fd);
			}
		} else {
			const fh = await open(temp, 'wx', opts.mode ?? 0o644);
			created = true;
			try {
				await stateIo.writeAll(fh, bytes, 0, temp);
				if (opts.mode !== undefined) await fh.chmod(opts.mode);
				await stateIo.sync(fh, temp);
			} finally {
				await fh.close();
			}
		}
		if (opts.after) await opts.after;
		renameSync(temp, file);
		created = false;
		if (opts.syncFolder !== false) await fsyncDir(path.dirname(file));
	} catch (err) {
		if (created) await unlink(temp).catch(() => undefined);
		throw ioError(what, file, err);
	}
}

/**
 * Largest content publishFile writes synchronously; larger ones (a 10,000-step workflow is ~1 MB) are copied to
 * the page cache by the thread pool while the main thread goes on planning and running.
 */
const PUBLISH_SYNC_LIMIT = 256 * 1024;

/** A file renamed into place before it is durable (see publishFile). */
export interface PublishedFile {
	/** fsync the file's content (the folder's fsync is the caller's), then close it. */
	sync(): Promise<void>;
	/** Close it without waiting for the disk (when what was to name it will not be written). */
	close(): void;
}

/**
 * Writes `file` (temp file, renamed into place at once) and returns what makes its content durable. Only for a
 * file nothing reads before a durable record names it — a run's workflow snapshot, which only its run's header
 * names: the caller makes the header durable only once sync() and the folder's fsync are done, so a crash before
 * leaves at worst an unnamed, incomplete file, never one a reader follows.
 */
export async function publishFile(file: string, data: string | Uint8Array, what: string): Promise<PublishedFile> {
	const temp = tempNameFor(file);
	const bytes = typeof data === 'string' ? utf8(data) : data;
	let fd: number | undefined;
	let fh: FileHandle | undefined;
	try {
		if (bytes.length <= PUBLISH_SYNC_LIMIT) {
			fd = openSync(temp, 'wx', 0o644);
			stateIo.writeAllSync(fd, bytes, 0, temp);
		} else {
			fh = await open(temp, 'wx', 0o644);
			await stateIo.writeAll(fh, bytes, 0, temp);
		}
		renameSync(temp, file);
	} catch (err) {
		if (fd !== undefined) closeSync(fd);
		await fh?.close().catch(() => undefined);
		if (fd !== undefined || fh) await unlink(temp).catch(() => undefined);
		throw ioError(what, file, err);
	}
	const handle = fd ?? (fh as FileHandle);
	const close = () => {
		if (typeof handle === 'number') closeSync(handle);
		else void handle.close().catch(() => undefined);
	};
	return {
		async sync() {
			try {
				await stateIo.sync(handle, file);
			} catch (err) {
				throw ioError(what, file, err);
			} finally {
				close();
			}
		},
		close,
	};
}

/**
 * A string's UTF-8 bytes. An ASCII string (UTF-8 as long as the string) is copied as Latin-1 instead, the same
 * bytes without the encoder: several milliseconds less for a 10 MB workflow snapshot.
 */
function utf8(text: string): Buffer {
	return Buffer.byteLength(text) === text.length ? Buffer.from(text, 'latin1') : Buffer.from(text);
}

/** Serialize `value` as JSON (tab-indented, like the rest of the repository) and write it atomically. */
export async function writeJsonAtomic(file: string, value: unknown, what = 'state file', opts: { after?: Promise<unknown> } = {}): Promise<void> {
	await writeFileAtomic(file, `${JSON.stringify(value, null, '\t')}\n`, { what, after: opts.after });
}

/**
 * Read and parse a JSON state file. Bad JSON gives StateError 'corrupt' naming the file (never a SyntaxError stack);
 * a missing file gives StateError 'not-found'. `describe` says what the file is ("checkpoint manifest").
 */
export async function readJsonFile<T = unknown>(file: string, describe: string): Promise<T> {
	let text: string;
	try {
		text = await readFile(file, 'utf8');
	} catch (err) {
		if (isMissing(err)) throw new StateError('not-found', `${describe} ${file} does not exist`);
		throw new StateError('io', `cannot read ${describe} ${file}: ${err instanceof Error ? err.message : String(err)}`);
	}
	try {
		return JSON.parse(text) as T;
	} catch (err) {
		const reason = err instanceof Error ? err.message : String(err);
		throw new StateError('corrupt', `${describe} ${file} is corrupt (not valid JSON: ${reason})`);
	}
}

/** As readJsonFile, but a missing file gives undefined. */
export async function readJsonFileIfExists<T = unknown>(file: string, describe: string): Promise<T | undefined> {
	// The common case of a new workspace, without the cost of an ENOENT error (a failed read still says not-found).
	if (!existsSync(file)) return undefined;
	try {
		return await readJsonFile<T>(file, describe);
	} catch (err) {
		if (StateError.is(err, 'not-found')) return undefined;
		throw err;
	}
}
