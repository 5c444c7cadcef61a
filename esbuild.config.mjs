// One build for the three targets: extension (node, cjs, vscode external), CLI (node, cjs), webview (browser, esm).
import * as esbuild from 'esbuild';
import { existsSync } from 'node:fs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const common = {
	bundle: true,
	sourcemap: !production,
	minify: production,
	logLevel: 'warning',
	legalComments: 'none',
};

const targets = [
	{
		...common,
		entryPoints: ['src/cli/main.ts'],
		outfile: 'dist/cli.js',
		platform: 'node',
		format: 'cjs',
		target: 'node20',
		// `vscode` is deliberately NOT external here: a stray import into the core fails this build.
	},
];
if (existsSync('src/vscode/extension.ts')) {
	targets.push({
		...common,
		entryPoints: ['src/vscode/extension.ts'],
		outfile: 'dist/extension.js',
		platform: 'node',
		format: 'cjs',
		target: 'node20',
		external: ['vscode'],
	});
}
if (existsSync('webview-ui/src/main.ts')) {
	targets.push({
		...common,
		entryPoints: ['webview-ui/src/main.ts'],
		outfile: 'dist/webview/main.js',
		platform: 'browser',
		format: 'esm',
		target: 'es2022',
	});
}

if (watch) {
	for (const t of targets) await (await esbuild.context(t)).watch();
} else {
	await Promise.all(targets.map((t) => esbuild.build(t)));
}
