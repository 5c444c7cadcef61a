// Seams shared by the state tests.
import { stateIo } from '../../../src/core/state/io';

/** Make stateIo.writeAll fail with ENOSPC while `fn` runs. */
export async function withFullDisk<T>(fn: () => Promise<T>, match: (file: string) => boolean = () => true): Promise<T> {
	const original = stateIo.writeAll;
	stateIo.writeAll = async (fh, data, position, file) => {
		if (!match(file)) return original(fh, data, position, file);
		// Write a little first, as a real full disk does, so partial data must be cleaned up.
		await original(fh, data.subarray(0, Math.min(3, data.length)), position, file);
		throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC' });
	};
	try {
		return await fn();
	} finally {
		stateIo.writeAll = original;
	}
}

