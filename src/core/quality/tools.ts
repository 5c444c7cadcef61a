// Which command a quality check runs and how its output is read: a named tool, a named command, or the tool
// detected from the project (order documented in the README, "Detection").
import { basename, join } from 'node:path';
import { StepError } from '../errors';
import { ESLINT_CONFIGS, PRETTIER_CONFIGS, usesPytest, usesRuff, type ProjectFacts } from './detect';
import type { Severity } from './findings';
import { finding, parseEslintJson, parseFileList, parseRuffJson, parseTextFindings, parseTsc, type ParsedReport } from './parseLint';
import { parseMochaJson, parsePytest, parseTap, parseTestText } from './parseTests';
import { workspacePath, type PathContext } from './paths';

export const CHECK_KINDS = ['lint', 'typecheck', 'test', 'format'] as const;
export type CheckKind = (typeof CHECK_KINDS)[number];

/** Tools qo knows how to run and read; any other name needs `command`, and its output is read as text. */
export const KNOWN_TOOLS = ['eslint', 'ruff', 'tsc', 'prettier', 'pytest', 'mocha', 'node', 'script'] as const;

export interface ToolRequest {
	kind: CheckKind;
	tool?: string;
	command?: string;
	args?: string[];
	script?: string;
	/** Absolute paths, already checked by the sandbox; empty: the tool's default. */
	paths: string[];
	/** format: change the files (through the journal). */
	write: boolean;
	/** A private folder outside the workspace for report files. */
	reportDir: string;
}

export interface ToolOutput {
	stdout: string;
	stderr: string;
	/** The report file's text, when the tool wrote one. */
	report: string | undefined;
	exitCode: number | null;
}

export interface ToolPlan {
	/** Name in outputs, events and diagnostics: `eslint`, `npm run lint`, a command's name. */
	tool: string;
	command: string;
	args?: string[];
	shell?: boolean;
	env?: Record<string, string>;
	/** Where the tool writes its machine-readable report (outside the workspace), read instead of stdout. */
	reportFile?: string;
	/** Exit codes that mean the tool ran (with or without findings); any other is the tool failing. Unset: judge by findings. */
	okExit?: readonly number[];
	/** Stream output to the step (off for reports that are only noise to a person). */
	stream: boolean;
	parse(out: ToolOutput, paths: PathContext): ParsedReport & { fixed?: Map<string, string> };
	/** format: the command that prints one file's formatted text, the file's bytes given on stdin. */
	formatStdin?(abs: string): { command: string; args: string[] };
}

const FORMAT_CHECK_SCRIPTS = ['format:check', 'check-format', 'format-check', 'check:format', 'prettier:check'];
const TYPECHECK_SCRIPTS = ['typecheck', 'type-check', 'check-types', 'types', 'tsc'];
const NEEDS_FORMAT = 'needs formatting';
/** The rule of a "this file needs formatting" finding: format write rewrites exactly those files. */
export const FORMAT_RULE = 'format';

function notFound(what: string, facts: ProjectFacts, looked: string): StepError {
	const where = workspacePath(facts, facts.cwd);
	return new StepError('not-found', `no ${what} found in ${where}: looked for ${looked}; name one with \`tool\`, \`script\` or \`command\``, { permanent: true });
}

async function requireBin(facts: ProjectFacts, name: string, tool = name): Promise<string> {
	const bin = await facts.bin(name);
	if (!bin) {
		throw new StepError('not-found', `${tool} is not installed: no node_modules/.bin/${name} from ${workspacePath(facts, facts.cwd)} up to the workspace root, and none on PATH`, {
			permanent: true,
		});
	}
	return bin;
}

function orDefault(paths: string[]): string[] {
	return paths.length ? paths : ['.'];
}

function combined(out: ToolOutput): string {
	return out.stderr ? `${out.stdout}\n${out.stderr}` : out.stdout;
}

/** Decides what to run for a check. Throws StepError 'not-found' (naming what was looked for) or 'parameters'. */
export async function planTool(req: ToolRequest, facts: ProjectFacts): Promise<ToolPlan> {
	if (req.command !== undefined) return commandPlan(req);
	if (req.tool !== undefined) return namedPlan(req.tool, req, facts);
	if (req.script !== undefined) return namedPlan('script', req, facts);
	const tool = await detect(req.kind, facts);
	return namedPlan(tool, req, facts);
}

/** The documented detection order, per kind. */
export async function detect(kind: CheckKind, facts: ProjectFacts): Promise<string> {
	switch (kind) {
		case 'lint':
			if ((await facts.hasUp(ESLINT_CONFIGS)) && (await facts.bin('eslint'))) return 'eslint';
			if ((await usesRuff(facts)) && (await facts.bin('ruff'))) return 'ruff';
			if (facts.scripts.lint !== undefined) return 'script';
			throw notFound('linter', facts, 'an eslint config with eslint installed, a ruff config with ruff installed, or a package.json "lint" script');
		case 'typecheck':
			if (facts.files.has('tsconfig.json') && (await facts.bin('tsc'))) return 'tsc';
			if (TYPECHECK_SCRIPTS.some((s) => facts.scripts[s] !== undefined)) return 'script';
			throw notFound('type checker', facts, `tsconfig.json with typescript installed, or a package.json script (${TYPECHECK_SCRIPTS.join(', ')})`);
		case 'test':
			if (facts.scripts.test !== undefined) return 'script';
			if (await usesPytest(facts)) return 'pytest';
			if ((await facts.hasUp(['.mocharc.json', '.mocharc.js', '.mocharc.cjs', '.mocharc.yml', '.mocharc.yaml'])) && (await facts.bin('mocha'))) return 'mocha';
			throw notFound('test runner', facts, 'a package.json "test" script, a pytest project (pytest.ini, conftest.py, [tool.pytest] or tests/), or a .mocharc with mocha installed');
		case 'format': {
			const localPrettier = await facts.bin('prettier');
			if (localPrettier && (localPrettier.includes('node_modules') || (await facts.hasUp(PRETTIER_CONFIGS)))) return 'prettier';
			if ((await usesRuff(facts)) && (await facts.bin('ruff'))) return 'ruff';
			if (FORMAT_CHECK_SCRIPTS.some((s) => facts.scripts[s] !== undefined)) return 'script';
			throw notFound('formatter', facts, `prettier installed, a ruff config with ruff installed, or a package.json check script (${FORMAT_CHECK_SCRIPTS.join(', ')})`);
		}
	}
}

async function namedPlan(tool: string, req: ToolRequest, facts: ProjectFacts): Promise<ToolPlan> {
	const { kind, paths } = req;
	const report = (name: string) => join(req.reportDir, name);
	switch (`${kind}:${tool}`) {
		case 'lint:eslint': {
			const reportFile = report('eslint.json');
			return {
				tool: 'eslint',
				command: await requireBin(facts, 'eslint'),
				args: ['-f', 'json', '-o', reportFile, '--no-warn-ignored', ...orDefault(paths)],
				reportFile,
				okExit: [0, 1],
				stream: true,
				parse: (out, p) => parseEslintJson(out.report ?? out.stdout, p),
			};
		}
		case 'format:eslint': {
			const reportFile = report('eslint-fix.json');
			return {
				tool: 'eslint',
				command: await requireBin(facts, 'eslint'),
				// --fix-dry-run reports each file's fixed text without writing it: qo writes it through the journal.
				args: ['--fix-dry-run', '-f', 'json', '-o', reportFile, '--no-warn-ignored', ...orDefault(paths)],
				reportFile,
				okExit: [0, 1],
				stream: true,
				parse: (out, p) => {
					const r = parseEslintJson(out.report ?? out.stdout, p);
					const findings = [...r.fixed.keys()].map((file) => finding(file, 0, undefined, 'error', `${NEEDS_FORMAT} (eslint --fix would change it)`, FORMAT_RULE, 'eslint'));
					return { findings, files: r.files, fixed: r.fixed };
				},
			};
		}
		case 'lint:ruff':
			return {
				tool: 'ruff',
				command: await requireBin(facts, 'ruff'),
				args: ['check', '--output-format', 'json', '--no-fix', '--no-cache', ...orDefault(paths)],
				okExit: [0, 1],
				stream: false,
				parse: (out, p) => parseRuffJson(out.stdout, p),
			};
		case 'format:ruff': {
			const bin = await requireBin(facts, 'ruff');
			return {
				tool: 'ruff',
				command: bin,
				args: ['format', '--check', '--no-cache', ...orDefault(paths)],
				okExit: [0, 1],
				stream: true,
				parse: (out, p) => parseFileList(combined(out), p, 'ruff', NEEDS_FORMAT, 'error', FORMAT_RULE),
				formatStdin: (abs) => ({ command: bin, args: ['format', '--no-cache', '--stdin-filename', abs, '-'] }),
			};
		}
		case 'format:prettier': {
			const bin = await requireBin(facts, 'prettier');
			return {
				tool: 'prettier',
				command: bin,
				args: ['--list-different', ...orDefault(paths)],
				// 2: prettier met an error, such as a file it cannot parse (reported as a finding).
				okExit: [0, 1, 2],
				stream: true,
				parse: (out, p) => parseFileList(combined(out), p, 'prettier', NEEDS_FORMAT, 'error', FORMAT_RULE),
				formatStdin: (abs) => ({ command: bin, args: ['--stdin-filepath', abs] }),
			};
		}
		case 'typecheck:tsc': {
			if (paths.length > 1) throw new StepError('parameters', 'typecheck with tsc takes one project (a tsconfig file or its folder) in `paths`: use one step per project', { permanent: true });
			const project = paths[0] ?? join(facts.cwd, 'tsconfig.json');
			const shown = workspacePath(facts, project);
			return {
				tool: 'tsc',
				command: await requireBin(facts, 'tsc', 'typescript (tsc)'),
				// --listFiles names every file checked, so files without errors count in the score.
				args: ['--noEmit', '--pretty', 'false', '--listFiles', '-p', project],
				okExit: [0, 1, 2],
				stream: false,
				parse: (out, p) => parseTsc(out.stdout, p, shown.endsWith('.json') ? shown : `${shown === '.' ? '' : `${shown}/`}tsconfig.json`),
			};
		}
		case 'test:pytest': {
			const pytest = await facts.bin('pytest');
			const args = ['-q', '-rfE', '--tb=line', '-p', 'no:cacheprovider', ...paths];
			return {
				tool: 'pytest',
				command: pytest ?? (await requireBin(facts, 'python3', 'pytest')),
				args: pytest ? args : ['-m', 'pytest', ...args],
				// No .pyc files or cache folders written into the workspace behind the journal's back.
				env: { PYTHONDONTWRITEBYTECODE: '1' },
				stream: true,
				parse: (out, p) => parsePytest(out.stdout, p),
			};
		}
		case 'test:mocha': {
			const reportFile = report('mocha.json');
			return {
				tool: 'mocha',
				command: await requireBin(facts, 'mocha'),
				args: ['--reporter', 'json', '--reporter-option', `output=${reportFile}`, ...paths],
				reportFile,
				stream: true,
				parse: (out, p) => (out.report !== undefined ? parseMochaJson(out.report, p) : parseTestText(combined(out), p, 'mocha')),
			};
		}
		case 'test:node': {
			const reportFile = report('node-test.tap');
			return {
				tool: 'node',
				command: await requireBin(facts, 'node'),
				args: ['--test', '--test-reporter=tap', `--test-reporter-destination=${reportFile}`, ...paths],
				reportFile,
				stream: true,
				parse: (out, p) => parseTap(out.report ?? out.stdout, p, 'node'),
			};
		}
		default:
			if (tool === 'script') return scriptPlan(req, facts);
			if ((KNOWN_TOOLS as readonly string[]).includes(tool)) {
				throw new StepError('parameters', `${kind} cannot run tool "${tool}"; for ${kind}: ${toolsFor(kind).join(', ')} (or give \`command\`)`, { permanent: true });
			}
			throw new StepError('parameters', `unknown tool "${tool}" for ${kind}: known are ${toolsFor(kind).join(', ')}; for another tool give \`command\` (and \`args\`)`, { permanent: true });
	}
}

export function toolsFor(kind: CheckKind): string[] {
	const byKind: Record<CheckKind, string[]> = {
		lint: ['eslint', 'ruff', 'script'],
		typecheck: ['tsc', 'script'],
		test: ['script', 'pytest', 'mocha', 'node'],
		format: ['prettier', 'ruff', 'eslint', 'script'],
	};
	return byKind[kind];
}

function scriptPlan(req: ToolRequest, facts: ProjectFacts): ToolPlan {
	const candidates = req.script !== undefined ? [req.script] : { lint: ['lint'], typecheck: TYPECHECK_SCRIPTS, test: ['test'], format: FORMAT_CHECK_SCRIPTS }[req.kind];
	const name = candidates.find((s) => facts.scripts[s] !== undefined);
	if (name === undefined) {
		throw new StepError('not-found', `package.json in ${workspacePath(facts, facts.cwd)} has no script ${candidates.map((s) => `"${s}"`).join(' or ')}`, { permanent: true });
	}
	if (req.kind === 'format' && req.write) throw writeRefused(`npm run ${name}`);
	const tool = `npm run ${name}`;
	return {
		tool,
		command: 'npm',
		args: ['run', '--silent', name, ...(req.paths.length ? ['--', ...req.paths] : [])],
		stream: true,
		parse: (out, p) => textParse(req.kind, combined(out), p, tool, out.exitCode),
	};
}

function commandPlan(req: ToolRequest): ToolPlan {
	if (req.kind === 'format' && req.write) throw writeRefused(`\`${req.command}\``);
	const known = req.tool !== undefined && (KNOWN_TOOLS as readonly string[]).includes(req.tool) && req.tool !== 'script';
	const tool = req.tool ?? basename(req.command!.trim().split(/\s+/)[0] ?? 'command');
	const plan: ToolPlan = {
		tool,
		command: req.command!,
		args: req.args,
		shell: req.args === undefined,
		stream: true,
		parse: (out, p) => textParse(req.kind, combined(out), p, tool, out.exitCode),
	};
	if (!known) return plan;
	// A named tool run by the user's own command line: its output is read in that tool's format, from stdout.
	switch (req.tool) {
		case 'eslint':
			return { ...plan, okExit: [0, 1], parse: (out, p) => parseEslintJson(out.stdout, p) };
		case 'ruff':
			return { ...plan, okExit: [0, 1], parse: (out, p) => (req.kind === 'format' ? parseFileList(combined(out), p, 'ruff', NEEDS_FORMAT, 'error', FORMAT_RULE) : parseRuffJson(out.stdout, p)) };
		case 'tsc':
			return { ...plan, okExit: [0, 1, 2], parse: (out, p) => parseTsc(out.stdout, p, 'tsconfig.json') };
		case 'prettier':
			return { ...plan, okExit: [0, 1, 2], parse: (out, p) => parseFileList(combined(out), p, 'prettier', NEEDS_FORMAT, 'error', FORMAT_RULE) };
		case 'pytest':
			return { ...plan, parse: (out, p) => parsePytest(out.stdout, p) };
		case 'mocha':
			return { ...plan, parse: (out, p) => (/^\s*\{/.test(out.stdout) ? parseMochaJson(out.stdout, p) : parseTestText(combined(out), p, 'mocha')) };
		case 'node':
			return { ...plan, parse: (out, p) => parseTestText(combined(out), p, 'node') };
		default:
			return plan;
	}
}

function textParse(kind: CheckKind, text: string, paths: PathContext, source: string, exitCode: number | null): ParsedReport {
	if (kind === 'test') return parseTestText(text, paths, source);
	const fallback: Severity = exitCode === 0 ? 'warning' : 'error';
	if (kind === 'format') {
		const listed = parseFileList(text, paths, source, NEEDS_FORMAT, 'error', FORMAT_RULE);
		return listed.findings.length ? listed : parseTextFindings(text, paths, source, fallback);
	}
	return parseTextFindings(text, paths, source, fallback);
}

function writeRefused(what: string): StepError {
	return new StepError(
		'parameters',
		`format with write: true needs a formatter that can hand qo the formatted text (prettier, ruff or eslint): ${what} would change files outside the journal, where rollback cannot restore them`,
		{ permanent: true },
	);
}
