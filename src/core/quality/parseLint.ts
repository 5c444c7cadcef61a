// Reading linters, type checkers and formatters: their machine formats where they have one, robust text otherwise.
import type { Finding, Severity } from './findings';
import { isProjectFile, workspacePath, type PathContext } from './paths';

/** What a tool's output says: the findings, and the files it checked when it tells. */
export interface ParsedReport {
	findings: Finding[];
	/** Workspace files the tool checked (with or without findings), when its output lists them. */
	files?: string[];
	/** Test outcomes, for test runners whose report counts them. */
	tests?: { passed: number; failed: number; skipped: number };
}

/** The tool's report was not what its format promises (a crash, a config error printed instead). */
export class ReportFormatError extends Error {}

function parseJsonReport(text: string, tool: string): unknown {
	const trimmed = text.trim();
	// Some wrappers print a banner before the report: start at the first bracket.
	const start = trimmed.search(/[[{]/);
	try {
		return JSON.parse(start > 0 ? trimmed.slice(start) : trimmed);
	} catch (err) {
		throw new ReportFormatError(`${tool} did not print a JSON report (${(err as Error).message})`);
	}
}

interface EslintMessage {
	ruleId?: string | null;
	severity?: number;
	message?: string;
	line?: number;
	column?: number;
	fatal?: boolean;
}
interface EslintResult {
	filePath: string;
	messages?: EslintMessage[];
	output?: string;
}

/** `eslint -f json`: every linted file, its messages (severity 2 error, 1 warning), and with --fix-dry-run its fixed text. */
export function parseEslintJson(text: string, paths: PathContext): ParsedReport & { fixed: Map<string, string> } {
	const data = parseJsonReport(text, 'eslint');
	if (!Array.isArray(data)) throw new ReportFormatError('eslint printed JSON that is not a list of results');
	const findings: Finding[] = [];
	const files: string[] = [];
	const fixed = new Map<string, string>();
	for (const r of data as EslintResult[]) {
		if (typeof r?.filePath !== 'string') continue;
		const file = workspacePath(paths, r.filePath);
		files.push(file);
		if (typeof r.output === 'string') fixed.set(file, r.output);
		for (const m of r.messages ?? []) {
			const severity: Severity = m.fatal || m.severity === 2 ? 'error' : m.severity === 1 ? 'warning' : 'info';
			findings.push(finding(file, m.line, m.column, severity, m.message ?? '(no message)', m.ruleId ?? undefined, 'eslint'));
		}
	}
	return { findings, files, fixed };
}

interface RuffDiagnostic {
	code?: string | null;
	message?: string;
	filename?: string;
	location?: { row?: number; column?: number };
}

/** `ruff check --output-format json`: a list of violations; ruff fails on any of them, so each is an error. */
export function parseRuffJson(text: string, paths: PathContext): ParsedReport {
	const data = parseJsonReport(text, 'ruff');
	if (!Array.isArray(data)) throw new ReportFormatError('ruff printed JSON that is not a list of diagnostics');
	const findings: Finding[] = [];
	for (const d of data as RuffDiagnostic[]) {
		if (typeof d?.filename !== 'string') continue;
		findings.push(finding(workspacePath(paths, d.filename), d.location?.row, d.location?.column, 'error', d.message ?? '(no message)', d.code ?? undefined, 'ruff'));
	}
	return { findings };
}

const TSC_LINE = /^(.+?)\((\d+),(\d+)\): (error|warning|message) (TS\d+): (.*)$/;
const TSC_GLOBAL = /^(error|warning|message) (TS\d+): (.*)$/;
const TSC_SEVERITY: Record<string, Severity> = { error: 'error', warning: 'warning', message: 'info' };

/**
 * `tsc --pretty false [--listFiles]`: `file(line,col): error TS2322: …` with indented continuation lines (the rest of
 * a message chain); errors without a place (a bad tsconfig) go to `project`; absolute lines are --listFiles output.
 */
export function parseTsc(text: string, paths: PathContext, project: string): ParsedReport {
	const findings: Finding[] = [];
	const files: string[] = [];
	let last: Finding | undefined;
	for (const raw of text.split('\n')) {
		const line = raw.replace(/\r$/, '');
		let m = TSC_LINE.exec(line);
		if (m) {
			last = finding(workspacePath(paths, m[1]), Number(m[2]), Number(m[3]), TSC_SEVERITY[m[4]], m[6], m[5], 'tsc');
			findings.push(last);
			continue;
		}
		m = TSC_GLOBAL.exec(line);
		if (m) {
			last = finding(project, 0, undefined, TSC_SEVERITY[m[1]], m[3], m[2], 'tsc');
			findings.push(last);
			continue;
		}
		if (last && /^\s+\S/.test(line)) {
			last.message += `\n${line.trim()}`;
			continue;
		}
		last = undefined;
		if (line.startsWith('/') || /^[A-Za-z]:[\\/]/.test(line)) {
			const file = workspacePath(paths, line.trim());
			if (isProjectFile(file)) files.push(file);
		}
	}
	return { findings, files };
}

const PRETTIER_ERROR = /^\[error\] (.+?): (.*?)(?: \((\d+):(\d+)\))?$/;

/**
 * A formatter's list of files that would change (`prettier --list-different`, `[warn] file` from --check,
 * `Would reformat: file` from `ruff format --check`), and prettier's `[error] file: SyntaxError … (l:c)` lines.
 */
export function parseFileList(text: string, paths: PathContext, source: string, message: string, severity: Severity, rule?: string): ParsedReport {
	const findings: Finding[] = [];
	for (const raw of text.split('\n')) {
		const line = raw.trim();
		if (!line) continue;
		const err = PRETTIER_ERROR.exec(line);
		if (err) {
			findings.push(finding(workspacePath(paths, err[1]), err[3] ? Number(err[3]) : 0, err[4] ? Number(err[4]) : undefined, 'error', err[2], undefined, source));
			continue;
		}
		const name = line.replace(/^\[warn\]\s+/, '').replace(/^Would reformat:\s+/, '');
		// Summaries and hints ("Code style issues found…", "2 files would be reformatted") are not files.
		if (/\s/.test(name) && !/\.[A-Za-z0-9]+$/.test(name)) continue;
		if (/^(Checking formatting|All matched files|\d+ files? )/.test(name)) continue;
		findings.push(finding(workspacePath(paths, name), 0, undefined, severity, message, rule, source));
	}
	return { findings };
}

// `path:line[:col][:] [severity[:]] message [rule]` — gcc, mypy, flake8, ruff concise, eslint unix/compact, shellcheck gcc.
const GENERIC_LINE =
	/^(?<file>[^\s:"'<>|][^:"<>|]*?\.[A-Za-z0-9]+|[^\s:"'<>|]*\/[^:"<>|]*?):(?<line>\d+)(?::(?<col>\d+))?:?\s+(?:(?<sev>error|fatal|warning|warn|info|note|hint|notice)\b:?\s*)?(?<msg>\S.*)$/i;
const COMPACT_LINE = /^(?<file>\S.*?): line (?<line>\d+), col (?<col>\d+), (?<sev>Error|Warning|Info) - (?<msg>.*)$/;
const STYLISH_ENTRY = /^\s+(\d+):(\d+)\s+(error|warning|info)\s+(.+?)(?:\s{2,}(\S+))?$/;
const TRAILING_RULE = /\s+[[(]([\w@/.:-]+)[\])]$/;

function severityWord(word: string | undefined, fallback: Severity): Severity {
	if (!word) return fallback;
	const w = word.toLowerCase();
	if (w === 'error' || w === 'fatal') return 'error';
	if (w === 'warning' || w === 'warn') return 'warning';
	return 'info';
}

/**
 * Text from any tool (a package.json script, a named command): tsc lines, eslint's stylish blocks (a file line,
 * then indented `line:col severity message rule`), and compiler-style `file:line:col: severity: message [rule]`.
 * `fallback` is the severity of a line that names none.
 */
export function parseTextFindings(text: string, paths: PathContext, source: string, fallback: Severity): ParsedReport {
	const findings: Finding[] = [];
	const tsc = parseTsc(text, paths, '.');
	let stylishFile: string | undefined;
	const lines = text.split('\n');
	for (const raw of lines) {
		const line = raw.replace(/\r$/, '').replace(/\x1b\[[0-9;]*m/g, '');
		if (TSC_LINE.test(line)) continue;
		const entry = stylishFile !== undefined ? STYLISH_ENTRY.exec(line) : null;
		if (entry && stylishFile !== undefined) {
			findings.push(finding(stylishFile, Number(entry[1]), Number(entry[2]), severityWord(entry[3], fallback), entry[4], entry[5], source));
			continue;
		}
		const m = GENERIC_LINE.exec(line) ?? COMPACT_LINE.exec(line);
		if (m?.groups) {
			stylishFile = undefined;
			let msg = m.groups.msg.trim();
			let rule: string | undefined;
			const r = TRAILING_RULE.exec(msg);
			if (r) {
				rule = r[1];
				msg = msg.slice(0, r.index);
			}
			const file = workspacePath(paths, m.groups.file);
			findings.push(finding(file, Number(m.groups.line), m.groups.col ? Number(m.groups.col) : undefined, severityWord(m.groups.sev, fallback), msg, rule, source));
			continue;
		}
		// A line that is only a path opens a stylish block.
		if (/^(\/|[A-Za-z]:[\\/]|\.{0,2}[\w@-][\w@./\\-]*\.[A-Za-z0-9]+$)\S*$/.test(line.trim()) && !/^\s/.test(line)) stylishFile = workspacePath(paths, line.trim());
		else if (!/^\s/.test(line)) stylishFile = undefined;
	}
	if (tsc.findings.length) for (const f of tsc.findings) findings.push({ ...f, source });
	return { findings };
}

export function finding(file: string, line: number | undefined, column: number | undefined, severity: Severity, message: string, rule: string | undefined, source: string): Finding {
	// Built in the documented field order, so outputs read the same for every tool.
	const f: Finding = { file, line: line && line > 0 ? line : 0 } as Finding;
	if (column && column > 0) f.column = column;
	f.severity = severity;
	f.message = message;
	if (rule) f.rule = rule;
	f.source = source;
	return f;
}
