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

export function copyFixtureWorkspace(prefix = 'qo-workspace-'): WorkspaceCopy {
	const path = join(realpathSync(mkdtempSync(join(tmpdir(), prefix))), 'workspace');
	cpSync(FIXTURE_WORKSPACE, path, { recursive: true });
	return { path, remove: () => rmSync(join(path, '..'), { recursive: true, force: true }) };
}
