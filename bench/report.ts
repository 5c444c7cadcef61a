// Plain-text tables for the terminal and the shape of bench/results.json.

export interface Table {
	title: string;
	head: string[];
	rows: string[][];
	/** Per column: 'l' (text) or 'r' (figures); default: the first column left, the others right. */
	align?: ('l' | 'r')[];
	/** Lines printed under the table. */
	notes?: string[];
}

/** One target of the issue: what was asked, what was measured, whether it holds. */
export interface Check {
	section: string;
	name: string;
	target: string;
	measured: string;
	pass: boolean;
}

export interface SectionReport {
	name: string;
	tables: Table[];
	checks: Check[];
	/** Every figure of the section, for results.json. */
	figures: unknown;
}

export function renderTable(t: Table): string {
	const widths = t.head.map((h, c) => Math.max(h.length, ...t.rows.map((r) => (r[c] ?? '').length)));
	const line = (cells: string[]) =>
		cells
			.map((cell, c) => ((t.align?.[c] ?? (c === 0 ? 'l' : 'r')) === 'l' ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
			.join('  ')
			.trimEnd();
	const out = [`\n${t.title}`, line(t.head), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)];
	for (const n of t.notes ?? []) out.push(`  ${n}`);
	return out.join('\n');
}

export function checksTable(checks: readonly Check[]): Table {
	const failed = checks.filter((c) => !c.pass).length;
	return {
		title: `Targets (issue 2): ${checks.length - failed} pass, ${failed} fail`,
		head: ['§', 'target', 'wanted', 'measured', 'result'],
		align: ['l', 'l', 'l', 'l', 'l'],
		rows: checks.map((c) => [c.section, c.name, c.target, c.measured, c.pass ? 'pass' : 'FAIL']),
	};
}
