// `npm run test:e2e`: the integration suites in the extension host, then the browser e2e suite, against a real VS Code.
// Skips (exit 0) when code-server is not installed, unless QO_E2E_REQUIRED=1 makes that a failure.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { missingPieces, REPO_ROOT } from './installation';
import { parseArgs, runIntegration } from './runIntegration';

async function main(): Promise<number> {
	const missing = missingPieces();
	if (missing.length) {
		const required = process.env.QO_E2E_REQUIRED === '1' || process.env.QO_E2E_REQUIRED === 'true';
		console.error(`${required ? 'FAILED' : 'SKIPPED'}: the VS Code tests need ${missing.join(', ')}. Install with: npm run test:vscode:setup`);
		return required ? 1 : 0;
	}
	const t0 = Date.now();
	console.log('== integration: mocha suites inside the real extension host');
	const integration = await runIntegration(parseArgs([]));
	const t1 = Date.now();
	console.log('\n== e2e: the real workbench in headless chromium');
	const mocha = join(REPO_ROOT, 'node_modules', '.bin', 'mocha');
	const browser = spawnSync(mocha, ['--config', join('test', 'e2e', 'mocharc.json')], { cwd: REPO_ROOT, stdio: 'inherit' }).status ?? 1;
	const seconds = (from: number, to = Date.now()) => `${((to - from) / 1000).toFixed(0)} s`;
	console.log(`\nintegration: ${integration === 0 ? 'passed' : 'FAILED'} (${seconds(t0, t1)}); e2e: ${browser === 0 ? 'passed' : 'FAILED'} (${seconds(t1)})`);
	return integration === 0 && browser === 0 ? 0 : 1;
}

main().then(
	(code) => process.exit(code),
	(err: unknown) => {
		console.error('test:e2e failed to run:', err);
		process.exit(2);
	},
);
