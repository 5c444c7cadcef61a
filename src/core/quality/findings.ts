// Findings: what a quality tool reported, in one shape for every tool, and the severity gate that judges them.
import { z } from 'zod';

export const SEVERITIES = ['error', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const findingSchema = z.object({
	file: z.string().describe('Workspace-relative path (`/` separators); absolute only when the tool named a file outside the workspace.'),
	line: z.number().int().min(0).describe('1-based; 0 when the tool named no line.'),
	column: z.number().int().min(1).optional(),
	severity: z.enum(SEVERITIES),
	message: z.string(),
	rule: z.string().optional().describe('The rule or code (`no-unused-vars`, `TS2322`, a test name).'),
	source: z.string().describe('The tool that reported it (`eslint`, `tsc`, …).'),
});

/** One problem a tool reported. */
export type Finding = z.infer<typeof findingSchema>;

export interface FindingCounts {
	error: number;
	warning: number;
	info: number;
}

/** `error` (default): error findings fail the step; `warn`: warnings too; `none`: never fails, only reports. */
export type SeverityGate = 'error' | 'warn' | 'none';

export function countFindings(findings: readonly Finding[]): FindingCounts {
	const counts: FindingCounts = { error: 0, warning: 0, info: 0 };
	for (const f of findings) counts[f.severity]++;
	return counts;
}

/** Errors first, then by file, line and column: the order a person fixes them in. */
export function sortFindings(findings: Finding[]): Finding[] {
	const rank: Record<Severity, number> = { error: 0, warning: 1, info: 2 };
	return findings.sort(
		(a, b) =>
			rank[a.severity] - rank[b.severity] ||
			(a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
			a.line - b.line ||
			(a.column ?? 0) - (b.column ?? 0),
	);
}

/** `file:line:col severity message (rule)`, as the CLI prints it and compilers do. */
export function formatFinding(f: Finding): string {
	const where = f.line > 0 ? `${f.file}:${f.line}${f.column ? `:${f.column}` : ''}` : f.file;
	return `${where} ${f.severity} ${f.message.split('\n')[0]}${f.rule ? ` (${f.rule})` : ''}`;
}

/** The findings that fail a step under this gate (none under `none`). */
export function gatedFindings(findings: readonly Finding[], gate: SeverityGate): Finding[] {
	if (gate === 'none') return [];
	return findings.filter((f) => f.severity === 'error' || (gate === 'warn' && f.severity === 'warning'));
}

/** Why the gate fails the step ("3 errors, 1 warning; first: src/a.ts:3:5 error …"), or undefined when it passes. */
export function gateMessage(findings: readonly Finding[], gate: SeverityGate, tool: string): string | undefined {
	const failing = gatedFindings(findings, gate);
	if (failing.length === 0) return undefined;
	const c = countFindings(failing);
	const parts = [c.error ? `${c.error} error${c.error === 1 ? '' : 's'}` : '', c.warning ? `${c.warning} warning${c.warning === 1 ? '' : 's'}` : ''].filter(Boolean);
	return `${tool} reported ${parts.join(' and ')} (severity gate "${gate}"); first: ${formatFinding(sortFindings([...failing])[0])}`;
}
