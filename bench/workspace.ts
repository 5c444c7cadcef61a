// Temporary workspaces for the engine and the file-write runners, removed after the sample.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export interface TempDir {
	dir: string;
	dispose(): Promise<void>;
}

export async function tempWorkspace(prefix = 'qo-bench-'): Promise<TempDir> {
	const dir = await mkdtemp(path.join(tmpdir(), prefix));
	return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}

/** Flush the page cache before a timed I/O phase, so set-up writes are not paid for by the measured ones. */
export function syncDisks(): void {
	try {
		execFileSync('sync');
	} catch {
		// no sync(1): the timed phase pays for whatever set-up left dirty
	}
}
