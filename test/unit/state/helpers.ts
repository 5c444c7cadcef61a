// Seams shared by the state tests: intercept the state layer's writes (full disk, crash mid-write, ordering checks).
import { stateIo } from '../../../src/core/state/io';

/** What a write hook decides: let the write through (undefined), or write `partial` bytes and fail with `error`. */
export type WriteVerdict = { partial: number; error: Error } | undefined;

/** Run `fn` with every state-layer write (async and sync paths) passed through `hook` first. */
export async function withWriteHook<T>(hook: (file: string, data: Uint8Array) => WriteVerdict | Promise<WriteVerdict>, fn: () => Promise<T>): Promise<T> {
	const writeAll = stateIo.writeAll;
	const writeAllSync = stateIo.writeAllSync;
	stateIo.writeAll = async (fh, data, position, file) => {
		const verdict = await hook(file, data);
		if (!verdict) return writeAll(fh, data, position, file);
		await writeAll(fh, data.subarray(0, Math.min(verdict.partial, data.length)), position, file);
		throw verdict.error;
	};
	stateIo.writeAllSync = (fd, data, position, file) => {
		const verdict = hook(file, data);
		if (verdict instanceof Promise) throw new Error('async write hooks cannot intercept synchronous writes');
		if (!verdict) return writeAllSync(fd, data, position, file);
		writeAllSync(fd, data.subarray(0, Math.min(verdict.partial, data.length)), position, file);
		throw verdict.error;
	};
	try {
		return await fn();
	} finally {
		stateIo.writeAll = writeAll;
		stateIo.writeAllSync = writeAllSync;
	}
}

export function errno(code: string, message = code): Error {
	return Object.assign(new Error(`${code}: ${message}`), { code });
}

/** Make writes matching `match` fail with ENOSPC (after writing a few bytes, as a real full disk does). */
export function withFullDisk<T>(fn: () => Promise<T>, match: (file: string) => boolean = () => true): Promise<T> {
	return withWriteHook((file) => (match(file) ? { partial: 3, error: errno('ENOSPC', 'no space left on device, write') } : undefined), fn);
}
