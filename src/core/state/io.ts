// The few write primitives the state layer goes through: one seam, so tests can inject ENOSPC and count fsyncs.
import type { FileHandle } from 'node:fs/promises';

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
	/** fsync: data and metadata (mode), as a plain durable write does. */
	async sync(fh: FileHandle, _file: string): Promise<void> {
		await fh.sync();
	},
	/** fdatasync: enough for append-only files whose metadata besides the size does not matter (journal, blobs). */
	async datasync(fh: FileHandle, _file: string): Promise<void> {
		await fh.datasync();
	},
};
