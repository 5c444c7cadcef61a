// Bundles test/integration/*.ts for the extension host: one CJS file per suite plus index.js (vscode and mocha external).
import { build } from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './installation';

export const INTEGRATION_OUT = join(REPO_ROOT, 'dist', 'test', 'integration');
const SOURCE = join(REPO_ROOT, 'test', 'integration');

/** Builds the suites and returns the path of the entry the extension host loads (it exports run()). */
export async function buildIntegrationTests(): Promise<string> {
	rmSync(INTEGRATION_OUT, { recursive: true, force: true });
	const entries = readdirSync(SOURCE).filter((f) => f === 'index.ts' || f.endsWith('.test.ts'));
	await build({
		entryPoints: entries.map((f) => join(SOURCE, f)),
		outdir: INTEGRATION_OUT,
		bundle: true,
		platform: 'node',
		format: 'cjs',
		target: 'node20',
		sourcemap: 'inline',
		external: ['vscode', 'mocha'],
		logLevel: 'warning',
		// A suite may eval('require') on purpose, to load a file fresh rather than bundle it.
		logOverride: { 'direct-eval': 'silent' },
	});
	return join(INTEGRATION_OUT, 'index.js');
}
