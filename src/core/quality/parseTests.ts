// Reading test runners: each failing test becomes an error finding at the first stack frame in the project's code
// (else where the test is declared). Machine formats first (mocha JSON, TAP), then the runners' own text summaries.
import type { Finding } from './findings';
import { finding, ReportFormatError, type ParsedReport } from './parseLint';
import { isProjectFile, workspacePath, type PathContext } from './paths';

// `(file:line:col)` or `at file:line:col` in a stack line; `node:internal/…` frames never match (no file extension).
const FRAME = /(?:\(|\bat\s+|^\s*)((?:file:\/\/)?(?:\/|[A-Za-z]:[\\/]|\.{0,2}[\w@-])[^\s():'"]*\.[A-Za-z0-9]+):(\d+)(?::(\d+))?\)?/;

/** The first stack frame in a project file (not node internals, not node_modules), preferring `prefer` when given. */
export function projectFrame(text: string, paths: PathContext, prefer?: string): { file: string; line: number; column?: number } | undefined {
	let first: { file: string; line: number; column?: number } | undefined;
	for (const line of text.split('\n')) {
		const m = FRAME.exec(line);
		if (!m || m[1].startsWith('node:')) continue;
		const file = workspacePath(paths, m[1]);
		if (!isProjectFile(file)) continue;
		const frame = { file, line: Number(m[2]), column: m[3] ? Number(m[3]) : undefined };
		if (prefer === undefined || file === prefer) return frame;
		first ??= frame;
	}
	return first;
}

function failure(title: string, error: string, stack: string, paths: PathContext, source: string, declared?: { file: string; line?: number; column?: number }): Finding {
	const frame = projectFrame(stack, paths, declared?.file) ?? declared;
	const firstLine = error.split('\n').find((l) => l.trim() !== '')?.trim() ?? 'failed';
	return finding(frame?.file ?? '.', frame?.line, frame?.column, 'error', `${title}: ${firstLine}`, undefined, source);
}

interface MochaFailure {
	fullTitle?: string;
	title?: string;
	file?: string;
	err?: { message?: string; stack?: string };
}

/** mocha `--reporter json`: stats and failures, each with its error's stack. */
export function parseMochaJson(text: string, paths: PathContext): ParsedReport {
	const start = text.indexOf('{');
	let data: { stats?: { passes?: number; failures?: number; pending?: number }; failures?: MochaFailure[] };
	try {
		data = JSON.parse(start > 0 ? text.slice(start) : text) as typeof data;
	} catch (err) {
		throw new ReportFormatError(`mocha did not write a JSON report (${(err as Error).message})`);
	}
	const findings = (data.failures ?? []).map((f) => {
		const declared = f.file ? { file: workspacePath(paths, f.file) } : undefined;
		return failure(f.fullTitle ?? f.title ?? 'a test', f.err?.message ?? '', f.err?.stack ?? '', paths, 'mocha', declared);
	});
	const s = data.stats ?? {};
	return { findings, tests: { passed: s.passes ?? 0, failed: s.failures ?? findings.length, skipped: s.pending ?? 0 } };
}

const TAP_RESULT = /^(\s*)(not ok|ok)\b\s*\d*\s*(?:-\s*)?(.*?)$/;
const TAP_DIRECTIVE = /\s#\s*(TODO|SKIP)\b/i;

/**
 * TAP (node --test's tap reporter, mocha --reporter tap, tape): each `not ok` with its YAML block (node: location,
 * error, stack) or indented diagnostics; suites that failed only because a subtest did are not counted again.
 */
export function parseTap(text: string, paths: PathContext, source: string): ParsedReport {
	const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
	const findings: Finding[] = [];
	const names: string[] = [];
	const counts = { passed: 0, failed: 0, skipped: 0 };
	let summary: Partial<typeof counts> = {};
	for (let i = 0; i < lines.length; i++) {
		const line = lines[i];
		const sub = /^(\s*)# Subtest: (.*)$/.exec(line);
		if (sub) {
			const depth = Math.floor(sub[1].length / 4);
			names.length = depth;
			names[depth] = sub[2];
			continue;
		}
		const sum = /^# (pass|fail|skipped|skip|todo)\s+(\d+)\s*$/.exec(line);
		if (sum) {
			const key = sum[1] === 'pass' ? 'passed' : sum[1] === 'fail' ? 'failed' : 'skipped';
			summary = { ...summary, [key]: (summary[key] ?? 0) + Number(sum[2]) };
			continue;
		}
		const m = TAP_RESULT.exec(line);
		if (!m) continue;
		const indent = m[1].length;
		const directive = TAP_DIRECTIVE.test(m[3]);
		const title = m[3].replace(/\s+#\s*(TODO|SKIP)\b.*$/i, '').trim();
		// The block that belongs to this result: the more indented lines after it.
		const block: string[] = [];
		for (let j = i + 1; j < lines.length; j++) {
			const next = lines[j];
			if (next.trim() === '') {
				block.push(next);
				continue;
			}
			const nextIndent = next.length - next.trimStart().length;
			if (nextIndent <= indent || /^\s*(# Subtest:|(not )?ok\b)/.test(next)) break;
			block.push(next);
		}
		const depth = Math.floor(indent / 4);
		if (depth === 0) {
			if (directive) counts.skipped++;
			else if (m[2] === 'ok') counts.passed++;
			else counts.failed++;
		}
		if (m[2] === 'ok' || directive) continue;
		const yaml = block.join('\n');
		if (/failureType:\s*'?subtestsFailed/.test(yaml)) continue;
		const parents = names.slice(0, depth).filter(Boolean);
		const full = [...parents, title].join(' > ');
		const location = /location:\s*'?([^'\n]+?)'?\s*$/m.exec(yaml)?.[1];
		const declared = location ? projectFrame(`(${location})`, paths) : undefined;
		findings.push(failure(full || 'a test', tapError(block), yaml, paths, source, declared));
	}
	// The runner's own totals when it prints them (nested tests included); what was counted at the top level otherwise.
	const tests = { passed: summary.passed ?? counts.passed, failed: summary.failed ?? counts.failed, skipped: summary.skipped ?? counts.skipped };
	return { findings, tests };
}

/** The error text of a TAP result: YAML `error:`/`message:` (inline or a `|-` block), else its first diagnostic line. */
function tapError(block: string[]): string {
	for (let i = 0; i < block.length; i++) {
		const m = /^(\s*)(error|message):\s*(.*)$/.exec(block[i]);
		if (!m) continue;
		const inline = m[3].trim();
		if (inline && !/^[|>][-+]?$/.test(inline)) return inline.replace(/^'(.*)'$/, '$1').replace(/''/g, "'");
		const body: string[] = [];
		for (let j = i + 1; j < block.length; j++) {
			const l = block[j];
			if (l.trim() !== '' && l.length - l.trimStart().length <= m[1].length) break;
			body.push(l.trim());
		}
		return body.join('\n').trim();
	}
	return block.map((l) => l.trim()).find((l) => l && l !== '---' && !/^(at |duration_ms)/.test(l)) ?? '';
}

/** mocha's spec/dot text: after `N failing`, numbered blocks `1) suite\n  test:\n  Error…\n  at frame`. */
export function parseMochaText(text: string, paths: PathContext, source: string): ParsedReport {
	const lines = text.split('\n').map((l) => l.replace(/\r$/, '').replace(/\x1b\[[0-9;]*m/g, ''));
	const passing = /^\s*(\d+) passing\b/m.exec(lines.join('\n'));
	const failingAt = lines.findIndex((l) => /^\s*\d+ failing\s*$/.test(l));
	const pending = /^\s*(\d+) pending\b/m.exec(lines.join('\n'));
	if (failingAt < 0) return { findings: [], tests: passing ? { passed: Number(passing[1]), failed: 0, skipped: Number(pending?.[1] ?? 0) } : undefined };
	const findings: Finding[] = [];
	let i = failingAt + 1;
	while (i < lines.length) {
		const head = /^\s+(\d+)\) (.*)$/.exec(lines[i]);
		if (!head) {
			i++;
			continue;
		}
		const title = [head[2].replace(/:$/, '')];
		i++;
		// Title lines continue until one ends with ':'.
		if (!head[2].endsWith(':')) {
			while (i < lines.length && lines[i].trim() !== '') {
				const t = lines[i].trim();
				title.push(t.replace(/:$/, ''));
				i++;
				if (t.endsWith(':')) break;
			}
		}
		const body: string[] = [];
		while (i < lines.length && !/^\s+\d+\) /.test(lines[i])) body.push(lines[i++]);
		const text = body.join('\n');
		const error = body.map((l) => l.trim()).find((l) => l !== '') ?? '';
		findings.push(failure(title.join(' '), error, text, paths, source));
	}
	return { findings, tests: { passed: Number(passing?.[1] ?? 0), failed: findings.length, skipped: Number(pending?.[1] ?? 0) } };
}

/** node --test's spec reporter (the default on a terminal, and on every stream from Node 23): `✖ name (1ms)` blocks. */
export function parseNodeSpec(text: string, paths: PathContext, source: string): ParsedReport {
	const lines = text.split('\n').map((l) => l.replace(/\r$/, '').replace(/\x1b\[[0-9;]*m/g, ''));
	const findings: Finding[] = [];
	const seen = new Set<string>();
	for (let i = 0; i < lines.length; i++) {
		const m = /^(\s*)✖ (.+?)(?: \([\d.]+m?s\))?$/.exec(lines[i]);
		if (!m || /^failing tests:?$/.test(m[2])) continue;
		const body: string[] = [];
		for (let j = i + 1; j < lines.length; j++) {
			const l = lines[j];
			if (l.trim() !== '' && l.length - l.trimStart().length <= m[1].length) break;
			body.push(l);
		}
		if (body.every((l) => l.trim() === '' || /subtests? failed/.test(l))) continue;
		const f = failure(m[2], body.map((l) => l.trim()).find((l) => l !== '') ?? '', body.join('\n'), paths, source);
		const key = `${f.message}@${f.file}:${f.line}`;
		if (seen.has(key)) continue;
		seen.add(key);
		findings.push(f);
	}
	const count = (word: string) => Number(new RegExp(`^ℹ ${word} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
	const passed = count('pass');
	return { findings, tests: Number.isNaN(passed) ? undefined : { passed, failed: count('fail') || 0, skipped: count('skipped') || 0 } };
}

/**
 * pytest with `-rfE --tb=line`: `path:line: message` under FAILURES (one per failure, in order) and
 * `FAILED node::id - message` / `ERROR path - message` in the short summary, then `2 failed, 1 passed in 0.1s`.
 */
export function parsePytest(text: string, paths: PathContext): ParsedReport {
	const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
	const places: { file: string; line: number; message: string }[] = [];
	const summary: { kind: string; id: string; message: string }[] = [];
	let section = '';
	for (const line of lines) {
		const header = /^={3,} (.*?) ={3,}$/.exec(line);
		if (header) {
			section = header[1];
			continue;
		}
		if (section === 'FAILURES' || section === 'ERRORS') {
			const m = /^(\S[^:]*\.py):(\d+): (.*)$/.exec(line);
			if (m) places.push({ file: workspacePath(paths, m[1]), line: Number(m[2]), message: m[3] });
			continue;
		}
		const s = /^(FAILED|ERROR) (\S+)(?: - (.*))?$/.exec(line);
		if (s) summary.push({ kind: s[1], id: s[2], message: s[3] ?? '' });
	}
	const findings: Finding[] = [];
	const zip = places.length === summary.filter((s) => s.kind === 'FAILED').length;
	let k = 0;
	for (const s of summary) {
		const file = workspacePath(paths, s.id.split('::')[0]);
		const place = zip && s.kind === 'FAILED' ? places[k++] : undefined;
		const title = s.kind === 'ERROR' ? `error in ${s.id}` : s.id.split('::').slice(1).join('::') || s.id;
		findings.push(finding(place?.file ?? file, place?.line, undefined, 'error', `${title}: ${s.message || place?.message || 'failed'}`, undefined, 'pytest'));
	}
	if (summary.length === 0) for (const p of places) findings.push(finding(p.file, p.line, undefined, 'error', p.message, undefined, 'pytest'));
	const tail = lines.filter((l) => /\b(passed|failed|error|errors|skipped|no tests ran)\b.* in [\d.]+s/.test(l)).pop() ?? '';
	const n = (word: string) => Number(new RegExp(`(\\d+) ${word}`).exec(tail)?.[1] ?? 0);
	return { findings, tests: tail ? { passed: n('passed'), failed: n('failed') + n('errors?'), skipped: n('skipped') } : undefined };
}

/** Test output of an unknown runner (a package.json script): whichever of the known formats it is in. */
export function parseTestText(text: string, paths: PathContext, source: string): ParsedReport {
	if (/^\s*TAP version|^\s*not ok \d+/m.test(text)) return parseTap(text, paths, source);
	if (/^\s*\d+ (passing|failing)\b/m.test(text)) return parseMochaText(text, paths, source);
	if (/short test summary info|^(FAILED|ERROR) \S+\.py/m.test(text) || /^=+ .*\b(passed|failed)\b.* in [\d.]+s =+$/m.test(text)) {
		const r = parsePytest(text, paths);
		return { ...r, findings: r.findings.map((f) => ({ ...f, source })) };
	}
	if (/^\s*✖ /m.test(text) || /^ℹ tests \d+$/m.test(text)) return parseNodeSpec(text, paths, source);
	return { findings: [] };
}
