// A fresh temporary copy of the fixture workspace for each run, so runs never see each other's files or .quantum/.
import { cpSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './installation';

export const FIXTURE_WORKSPACE = join(REPO_ROOT, 'test', 'fixtures', 'workspace');

export interface WorkspaceCopy {
	path: string;
	remove(): void;
}

/** `keep`: leave the copy behind when the process ends (remove() still removes it). */
export function copyFixtureWorkspace(prefix = 'qo-workspace-', keep = false): WorkspaceCopy {
	const path = join(realpathSync(mkdtempSync(join(tmpdir(), prefix))), 'workspace');
	cpSync(FIXTURE_WORKSPACE, path, { recursive: true });
	const remove = (): void => {
		process.off('exit', remove);
		rmSync(join(path, '..'), { recursive: true, force: true });
	};
	if (!keep) process.on('exit', remove); // also when a signal ends the run early
	return { path, remove };
}
