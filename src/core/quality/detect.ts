// What a project has, for choosing its quality tools: package.json scripts, config files, and executables in
// node_modules/.bin (from the working directory up to the workspace root) or on PATH.
import { constants } from 'node:fs';
import { access, readdir, readFile } from 'node:fs/promises';
import { delimiter, dirname, join, relative } from 'node:path';

export interface ProjectFacts {
	root: string;
	cwd: string;
	/** package.json `scripts` of the working directory (empty without one). */
	scripts: Record<string, string>;
	/** Names in the working directory. */
	files: ReadonlySet<string>;
	/** Text of a small file in the working directory, or undefined. */
	text(name: string): Promise<string | undefined>;
	/** Whether any directory from the working directory up to the workspace root holds one of these names. */
	hasUp(names: readonly string[]): Promise<boolean>;
	/** An executable: node_modules/.bin/NAME from the working directory up to the root first, then PATH. */
	bin(name: string): Promise<string | undefined>;
}

/** npm init's placeholder test script fails on purpose: it is not a test suite. */
const NPM_PLACEHOLDER = /no test specified/;

async function isExecutable(path: string): Promise<boolean> {
	return access(path, constants.X_OK).then(
		() => true,
		() => false,
	);
}

/** Directories from `cwd` up to `root`, innermost first. */
function upTo(root: string, cwd: string): string[] {
	const dirs: string[] = [];
	let dir = cwd;
	for (;;) {
		dirs.push(dir);
		const rel = relative(root, dir);
		if (rel === '' || rel.startsWith('..')) break;
		const parent = dirname(dir);
		if (parent === dir) break;
		dir = parent;
	}
	return dirs;
}

export async function projectFacts(root: string, cwd: string, env: NodeJS.ProcessEnv): Promise<ProjectFacts> {
	const names = new Set(await readdir(cwd).catch(() => [] as string[]));
	let scripts: Record<string, string> = {};
	if (names.has('package.json')) {
		try {
			const pkg = JSON.parse(await readFile(join(cwd, 'package.json'), 'utf8')) as { scripts?: unknown };
			if (pkg.scripts && typeof pkg.scripts === 'object') {
				scripts = Object.fromEntries(Object.entries(pkg.scripts).filter((e): e is [string, string] => typeof e[1] === 'string'));
			}
		} catch {
			// An unreadable package.json has no scripts to offer; the tools may still be found.
		}
	}
	if (scripts.test !== undefined && NPM_PLACEHOLDER.test(scripts.test)) delete scripts.test;
	const dirs = upTo(root, cwd);
	const listings = new Map<string, Promise<Set<string>>>();
	const list = (dir: string) => {
		let l = listings.get(dir);
		if (!l) listings.set(dir, (l = readdir(dir).then((n) => new Set(n), () => new Set<string>())));
		return l;
	};
	listings.set(cwd, Promise.resolve(names));
	return {
		root,
		cwd,
		scripts,
		files: names,
		text: (name) => (names.has(name) ? readFile(join(cwd, name), 'utf8').catch(() => undefined) : Promise.resolve(undefined)),
		async hasUp(wanted) {
			for (const dir of dirs) {
				const here = await list(dir);
				if (wanted.some((n) => here.has(n))) return true;
			}
			return false;
		},
		async bin(name) {
			for (const dir of dirs) {
				const p = join(dir, 'node_modules', '.bin', name);
				if (await isExecutable(p)) return p;
			}
			for (const dir of (env.PATH ?? '').split(delimiter)) {
				if (!dir) continue;
				const p = join(dir, name);
				if (await isExecutable(p)) return p;
			}
			return undefined;
		},
	};
}

export const ESLINT_CONFIGS = [
	'eslint.config.js',
	'eslint.config.mjs',
	'eslint.config.cjs',
	'eslint.config.ts',
	'eslint.config.mts',
	'eslint.config.cts',
	'.eslintrc',
	'.eslintrc.js',
	'.eslintrc.cjs',
	'.eslintrc.json',
	'.eslintrc.yml',
	'.eslintrc.yaml',
] as const;

export const PRETTIER_CONFIGS = [
	'.prettierrc',
	'.prettierrc.json',
	'.prettierrc.yml',
	'.prettierrc.yaml',
	'.prettierrc.json5',
	'.prettierrc.js',
	'.prettierrc.mjs',
	'.prettierrc.cjs',
	'.prettierrc.toml',
	'prettier.config.js',
	'prettier.config.mjs',
	'prettier.config.cjs',
] as const;

/** A Python project that configures ruff (ruff.toml, .ruff.toml, or [tool.ruff] in pyproject.toml). */
export async function usesRuff(facts: ProjectFacts): Promise<boolean> {
	if (facts.files.has('ruff.toml') || facts.files.has('.ruff.toml')) return true;
	return /^\[tool\.ruff/m.test((await facts.text('pyproject.toml')) ?? '');
}

/** A Python project with pytest configured or conventional test files (pytest.ini, conftest.py, [tool.pytest…], tests/). */
export async function usesPytest(facts: ProjectFacts): Promise<boolean> {
	if (facts.files.has('pytest.ini') || facts.files.has('conftest.py')) return true;
	if (/^\[tool\.pytest/m.test((await facts.text('pyproject.toml')) ?? '')) return true;
	if (/^\[(tool:)?pytest\]/m.test(((await facts.text('setup.cfg')) ?? '') + ((await facts.text('tox.ini')) ?? ''))) return true;
	return (facts.files.has('pyproject.toml') || facts.files.has('setup.py')) && (facts.files.has('tests') || facts.files.has('test'));
}
