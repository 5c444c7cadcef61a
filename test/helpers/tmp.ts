// Real temporary workspaces for tests, removed after each test file.
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/** A fresh empty directory (real path, symlinks resolved); removed when the mocha process ends. */
export function tempDir(prefix = 'qo-test-'): string {
	const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
	made.push(dir);
	return dir;
}

process.on('exit', () => {
	for (const dir of made) {
		try {
			rmSync(dir, { recursive: true, force: true });
		} catch {
			// best effort
		}
	}
});
