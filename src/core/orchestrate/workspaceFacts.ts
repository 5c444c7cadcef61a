// What a goal's plan can rest on, found cheaply: the files it names, the project's check scripts, its languages.
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { compileGlob, type Glob } from '../sandbox/glob';
import type { CheckKind, WorkspaceFacts } from './types';

/** Folders never worth walking: dependencies, build output, VCS and our own state. */
const SKIP_DIRS = new Set([
	'node_modules', '.git', '.quantum', 'dist', 'out', 'build', 'coverage', '.vscode-test', '.next', '.nuxt', 'target',
	'__pycache__', '.venv', 'venv', '.tox', '.cache', '.turbo', '.parcel-cache', 'vendor', 'bower_components',
]);
/** The walk stops after this many entries (and says so in the facts). */
const MAX_ENTRIES = 20_000;
const MAX_DEPTH = 12;
const MAX_FILES = 8;

const LANGUAGES: Record<string, string> = {
	ts: 'TypeScript', tsx: 'TypeScript', mts: 'TypeScript', cts: 'TypeScript', js: 'JavaScript', jsx: 'JavaScript',
	mjs: 'JavaScript', cjs: 'JavaScript', py: 'Python', go: 'Go', rs: 'Rust', java: 'Java', kt: 'Kotlin', rb: 'Ruby',
	php: 'PHP', cs: 'C#', c: 'C', h: 'C', cpp: 'C++', cc: 'C++', hpp: 'C++', swift: 'Swift', scala: 'Scala',
	vue: 'Vue', svelte: 'Svelte', sh: 'Shell', css: 'CSS', scss: 'CSS', html: 'HTML',
};

/** Extensions that make a token of a goal a file name. */
const FILE_EXTENSIONS = new Set([
	...Object.keys(LANGUAGES), 'md', 'mdx', 'json', 'jsonc', 'yaml', 'yml', 'txt', 'toml', 'xml', 'csv', 'env', 'lock',
	'cfg', 'ini', 'sql', 'graphql', 'proto', 'gradle', 'svg', 'png', 'jpg', 'gif', 'log', 'conf', 'rst', 'properties',
]);

/** Words that say what kind of thing, not which one: they never pick a file on their own. */
const GENERIC = new Set([
	'handler', 'handlers', 'component', 'components', 'service', 'services', 'module', 'modules', 'function', 'functions',
	'class', 'classes', 'file', 'files', 'code', 'test', 'tests', 'spec', 'specs', 'util', 'utils', 'helper', 'helpers',
	'index', 'main', 'page', 'pages', 'model', 'models', 'controller', 'controllers', 'route', 'routes', 'config', 'src',
	'source', 'unit', 'input', 'output', 'validation', 'error', 'errors', 'type', 'types', 'docs', 'readme', 'script',
]);
const STOP = new Set([
	'the', 'and', 'for', 'with', 'from', 'into', 'that', 'this', 'then', 'them', 'they', 'their', 'there', 'some', 'all',
	'every', 'each', 'make', 'sure', 'add', 'write', 'create', 'update', 'change', 'modify', 'fix', 'remove', 'delete',
	'rename', 'refactor', 'document', 'review', 'analyze', 'analyse', 'deploy', 'release', 'run', 'new', 'when', 'should',
	'must', 'also', 'its', 'our', 'your', 'about', 'failing', 'broken', 'please', 'using', 'use', 'more', 'less', 'than',
	'have', 'has', 'does', 'not', 'but', 'any', 'way', 'better', 'good', 'onto', 'over', 'under', 'project', 'why',
	'what', 'how', 'which', 'where', 'who', 'are', 'was', 'were', 'can', 'could', 'would', 'slow', 'fast', 'it', 'is',
]);

export interface FactsOptions {
	/** Stop the walk after this many entries (default 20,000). */
	maxEntries?: number;
}

/** Facts about `workspace` relevant to `goal`; never throws for unreadable folders (they are skipped). */
export async function gatherFacts(workspace: string, goal: string, opts: FactsOptions = {}): Promise<WorkspaceFacts> {
	const root = path.resolve(workspace);
	const [walk, pkg, make, pyTests] = await Promise.all([
		walkWorkspace(root, opts.maxEntries ?? MAX_ENTRIES),
		readJson(path.join(root, 'package.json')),
		readText(path.join(root, 'Makefile')),
		pytestConfigured(root),
	]);
	const packageManager = pkg ? detectPackageManager(root) : undefined;
	const { checks, deploy } = projectChecks(pkg, packageManager, make, pyTests);
	const { files, missing } = await filesOfGoal(root, goal, walk.files);
	return {
		files,
		missing,
		checks,
		...(deploy ? { deploy } : {}),
		...(packageManager ? { packageManager } : {}),
		languages: walk.languages,
		git: hasGit(root),
		scanned: walk.scanned,
		truncated: walk.truncated,
	};
}

/** The words of a goal that could name a file or symbol: at least 3 letters, not filler or a verb of the request. */
export function goalKeywords(goal: string): string[] {
	const words = goal.toLowerCase().match(/[a-z][a-z0-9_-]{2,}/g) ?? [];
	return [...new Set(words.filter((w) => !STOP.has(w) && !GENERIC.has(w) && !/^(test|spec)s?$/.test(w)))];
}

/** Path-like tokens of a goal: `src/a.ts`, `README.md`, `lib/` (quotes and trailing punctuation dropped). */
export function pathTokens(goal: string): string[] {
	const out: string[] = [];
	for (const raw of goal.split(/[\s,;()]+/)) {
		const t = raw.replace(/^[`'"]+|[`'"]+$/g, '').replace(/[.:!?]+$/, '');
		if (!t || t.startsWith('http') || t.includes('..')) continue;
		const ext = /^[\w@./-]*[\w-]\.([A-Za-z][A-Za-z0-9]{0,7})$/.exec(t)?.[1];
		const hasSlash = /^[\w@.-]+(\/[\w@.-]+)+\/?$|^[\w@.-]+\/$/.test(t);
		// "Node.js", "e.g": product names and abbreviations, not files.
		const fileLike = ext !== undefined && FILE_EXTENSIONS.has(ext.toLowerCase()) && !/^[A-Z][a-z]+\.js$/.test(t);
		if (fileLike || hasSlash) out.push(t.replace(/^\.\//, '').replace(/\/$/, ''));
	}
	return [...new Set(out)];
}

interface Walk {
	files: string[];
	languages: string[];
	scanned: number;
	truncated: boolean;
}

async function walkWorkspace(root: string, limit: number): Promise<Walk> {
	const ignore = await gitignoreGlobs(root);
	const files: string[] = [];
	const counts = new Map<string, number>();
	let scanned = 0;
	let truncated = false;
	const queue: [string, number][] = [['', 0]];
	while (queue.length) {
		const [dir, depth] = queue.shift() as [string, number];
		let entries;
		try {
			entries = await readdir(path.join(root, dir), { withFileTypes: true });
		} catch {
			continue;
		}
		entries.sort((a, b) => a.name.localeCompare(b.name));
		for (const e of entries) {
			if (scanned >= limit) {
				truncated = true;
				break;
			}
			scanned++;
			const rel = dir ? `${dir}/${e.name}` : e.name;
			if (ignored(ignore, rel, e.name)) continue;
			if (e.isDirectory()) {
				if (SKIP_DIRS.has(e.name) || (e.name.startsWith('.') && e.name !== '.github')) continue;
				if (depth < MAX_DEPTH) queue.push([rel, depth + 1]);
			} else if (e.isFile()) {
				files.push(rel);
				const lang = LANGUAGES[path.extname(e.name).slice(1).toLowerCase()];
				if (lang) counts.set(lang, (counts.get(lang) ?? 0) + 1);
			}
		}
		if (truncated) break;
	}
	const languages = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([l]) => l);
	return { files, languages, scanned, truncated };
}

/** The root .gitignore's plain patterns (no negations): a name anywhere, or a path from the root. */
async function gitignoreGlobs(root: string): Promise<{ name: Glob[]; rooted: Glob[] }> {
	const name: Glob[] = [];
	const rooted: Glob[] = [];
	for (const line of ((await readText(path.join(root, '.gitignore'))) ?? '').split('\n')) {
		const p = line.trim();
		if (!p || p.startsWith('#') || p.startsWith('!')) continue;
		const bare = p.replace(/\/+$/, '');
		if (!bare) continue;
		if (bare.replace(/^\//, '').includes('/') || bare.startsWith('/')) rooted.push(compileGlob(bare.replace(/^\//, '')));
		else name.push(compileGlob(bare));
	}
	return { name, rooted };
}

function ignored(ignore: { name: Glob[]; rooted: Glob[] }, rel: string, name: string): boolean {
	return ignore.name.some((g) => g.test(name)) || ignore.rooted.some((g) => g.test(rel));
}

/** Existing files the goal names (exact paths first, then by base name, then by its keywords); missing named paths. */
async function filesOfGoal(root: string, goal: string, all: string[]): Promise<{ files: string[]; missing: string[] }> {
	const found: string[] = [];
	const missing: string[] = [];
	const add = (f: string) => {
		if (!found.includes(f) && found.length < MAX_FILES) found.push(f);
	};
	for (const token of pathTokens(goal)) {
		const exact = await isFileInside(root, token);
		if (exact) {
			add(token);
			continue;
		}
		const base = token.split('/').pop() as string;
		const byName = all.filter((f) => f === token || f.endsWith(`/${token}`) || (!token.includes('/') && f.split('/').pop() === base));
		if (byName.length) byName.slice(0, 3).forEach(add);
		else if (!existsSync(path.join(root, token))) missing.push(token);
	}
	if (found.length === 0) {
		const words = goalKeywords(goal);
		const scored = all
			.map((f) => ({ f, score: keywordScore(f, words) }))
			.filter((s) => s.score > 0)
			.sort((a, b) => b.score - a.score || a.f.length - b.f.length || a.f.localeCompare(b.f));
		const best = scored[0]?.score ?? 0;
		for (const s of scored) if (s.score === best) add(s.f);
	}
	return { files: found, missing };
}

/** How well a path matches the goal's keywords: 2 per keyword in the file's own name, 1 per keyword in a folder name. */
function keywordScore(file: string, words: string[]): number {
	const parts = file.split('/');
	const base = pieces(parts.pop() as string);
	const dirs = new Set(parts.flatMap((p) => [...pieces(p)]));
	let score = 0;
	let named = false;
	for (const w of words) {
		if (base.has(w)) {
			score += 2;
			named = true;
		} else if (dirs.has(w)) score += 1;
	}
	return named ? score : 0;
}

/** `signupHandler.test.ts` → signup, handler, test, ts, signuphandler (lowercase). */
function pieces(name: string): Set<string> {
	const stem = name.replace(/\.[^.]+$/, '');
	const words = stem
		.replace(/([a-z0-9])([A-Z])/g, '$1 $2')
		.toLowerCase()
		.split(/[\s._-]+/)
		.filter(Boolean);
	return new Set([...words, stem.toLowerCase().replace(/[._-]/g, '')]);
}

async function isFileInside(root: string, rel: string): Promise<boolean> {
	const abs = path.resolve(root, rel);
	if (abs !== root && !abs.startsWith(root + path.sep)) return false;
	return stat(abs).then((s) => s.isFile(), () => false);
}

type PackageJson = { scripts?: Record<string, unknown> };

const SCRIPT_NAMES: Record<CheckKind, string[]> = {
	test: ['test'],
	lint: ['lint'],
	typecheck: ['typecheck', 'type-check', 'check-types', 'types', 'tsc'],
	build: ['build'],
};
const DEPLOY_SCRIPTS = ['deploy', 'release', 'publish'];

function projectChecks(
	pkg: PackageJson | undefined,
	pm: WorkspaceFacts['packageManager'],
	make: string | undefined,
	pyTests: boolean,
): { checks: WorkspaceFacts['checks']; deploy?: string } {
	const checks: WorkspaceFacts['checks'] = {};
	let deploy: string | undefined;
	const scripts = pkg?.scripts ?? {};
	const has = (name: string) => typeof scripts[name] === 'string' && !/no test specified/.test(scripts[name] as string);
	const runner = pm ?? 'npm';
	const run = (name: string) => (name === 'test' ? `${runner} test` : runner === 'yarn' ? `yarn ${name}` : `${runner} run ${name}`);
	for (const kind of Object.keys(SCRIPT_NAMES) as CheckKind[]) {
		const name = SCRIPT_NAMES[kind].find(has);
		if (name) checks[kind] = run(name);
	}
	const deployName = DEPLOY_SCRIPTS.find(has);
	if (deployName) deploy = run(deployName);
	const targets = new Set([...(make ?? '').matchAll(/^([A-Za-z][\w-]*)\s*:(?!=)/gm)].map((m) => m[1]));
	for (const kind of Object.keys(SCRIPT_NAMES) as CheckKind[]) if (!checks[kind] && targets.has(kind)) checks[kind] = `make ${kind}`;
	const deployTarget = DEPLOY_SCRIPTS.find((t) => targets.has(t));
	if (!deploy && deployTarget) deploy = `make ${deployTarget}`;
	if (!checks.test && pyTests) checks.test = 'python -m pytest';
	return { checks, deploy };
}

function detectPackageManager(root: string): 'npm' | 'yarn' | 'pnpm' {
	if (existsSync(path.join(root, 'pnpm-lock.yaml'))) return 'pnpm';
	if (existsSync(path.join(root, 'yarn.lock'))) return 'yarn';
	return 'npm';
}

async function pytestConfigured(root: string): Promise<boolean> {
	if (existsSync(path.join(root, 'pytest.ini')) || existsSync(path.join(root, 'conftest.py'))) return true;
	for (const f of ['pyproject.toml', 'setup.cfg', 'requirements.txt', 'requirements-dev.txt', 'tox.ini']) {
		if (/\bpytest\b/.test((await readText(path.join(root, f))) ?? '')) return true;
	}
	return false;
}

function hasGit(root: string): boolean {
	for (let dir = root; ; dir = path.dirname(dir)) {
		if (existsSync(path.join(dir, '.git'))) return true;
		if (path.dirname(dir) === dir) return false;
	}
}

async function readText(file: string): Promise<string | undefined> {
	return readFile(file, 'utf8').catch(() => undefined);
}

async function readJson(file: string): Promise<PackageJson | undefined> {
	const text = await readText(file);
	if (text === undefined) return undefined;
	try {
		const v = JSON.parse(text) as unknown;
		return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as PackageJson) : undefined;
	} catch {
		return undefined;
	}
}
