// Small real projects for the quality tests: files on disk, and this repository's eslint/tsc/mocha linked into the
// project's node_modules/.bin the way an installed project has them.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tempDir } from '../../helpers/tmp';

const REPO = join(__dirname, '..', '..', '..');

export function write(ws: string, rel: string, text: string | Buffer): void {
	mkdirSync(dirname(join(ws, rel)), { recursive: true });
	writeFileSync(join(ws, rel), text);
}

/** node_modules/.bin/NAME in `ws` → this repository's installed tool. */
export function linkBin(ws: string, ...names: string[]): void {
	mkdirSync(join(ws, 'node_modules', '.bin'), { recursive: true });
	for (const name of names) symlinkSync(join(REPO, 'node_modules', '.bin', name), join(ws, 'node_modules', '.bin', name));
}

/** A flat eslint config without plugins: no-undef and semi are errors, no-unused-vars and quotes warnings. */
export const ESLINT_CONFIG = `export default [
	{
		files: ['**/*.js'],
		languageOptions: { sourceType: 'module', globals: { console: 'readonly' } },
		rules: { 'no-undef': 'error', semi: ['error', 'always'], 'no-unused-vars': 'warn', quotes: ['warn', 'single'] },
	},
];
`;

/** src/a.js: 2 errors (no-undef 3:10, semi 3:15) and 2 warnings (no-unused-vars 1:7, quotes 5:18); src/ok.js is clean. */
export const A_JS = 'const unused = 1;\nexport function f(x) {\n  return y + x\n}\nexport const s = "dq";\n';
export const OK_JS = "export const ok = 1;\n";

export function eslintProject(files: Record<string, string> = { 'src/a.js': A_JS, 'src/ok.js': OK_JS }): string {
	const ws = tempDir('qo-quality-');
	write(ws, 'eslint.config.mjs', ESLINT_CONFIG);
	for (const [rel, text] of Object.entries(files)) write(ws, rel, text);
	linkBin(ws, 'eslint');
	return ws;
}

export const TSCONFIG = JSON.stringify({ compilerOptions: { strict: true, noEmit: true, target: 'ES2022', module: 'ES2022', types: [] }, include: ['src'] }, null, 2);

/** src/t.ts: TS2322 at 1:14 and a TS2322 at 4:14 whose message is a chain over three lines; src/fine.ts is clean. */
export const T_TS = 'export const n: number = "s";\ninterface A { a: { b: number } }\nconst bad = { a: "x" };\nexport const w: A = bad;\n';
export const FINE_TS = 'export const fine: string = "ok";\n';

export function tscProject(files: Record<string, string> = { 'src/t.ts': T_TS, 'src/fine.ts': FINE_TS }): string {
	const ws = tempDir('qo-quality-tsc-');
	write(ws, 'tsconfig.json', TSCONFIG);
	for (const [rel, text] of Object.entries(files)) write(ws, rel, text);
	linkBin(ws, 'tsc');
	return ws;
}
