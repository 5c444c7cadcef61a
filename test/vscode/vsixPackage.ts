// Packages the extension with vsce into QO_VSCODE_DIR, as a user would install it (run `npm run build` first).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { installation, REPO_ROOT } from './installation';

export function packageVsix(): string {
	const out = join(installation().dir, 'quantum-orchestrator.vsix');
	const args = ['package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--no-rewrite-relative-links', '-o', out];
	const res = spawnSync(join(REPO_ROOT, 'node_modules', '.bin', 'vsce'), args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
	if (res.status !== 0) throw new Error(`vsce package failed (exit ${res.status}):\n${res.stdout}\n${res.stderr}`);
	return out;
}
