// How `qo orchestrate` shows an analysis and the session's state transitions.
import type { OrchestrationEvent } from '../core/orchestrate/session';
import type { Analysis } from '../core/orchestrate/types';

export function printAnalysis(a: Analysis, print: (line: string) => void): void {
	const f = a.facts;
	print(`Analysis (${a.source === 'llm' ? `by ${a.model ?? 'the model'}` : 'rule-based, offline'}) of: ${a.goal}`);
	print(`  intent: ${a.intent}`);
	print(`  complexity: ${a.complexity.level} (${a.complexity.reasons.join('; ')})`);
	if (a.risks.length === 0) print('  risks: none found');
	else {
		print('  risks:');
		for (const r of a.risks) print(`    - ${r.kind}: ${r.description}`);
	}
	print('  success criteria:');
	for (const c of a.successCriteria) print(`    - ${c}`);
	const checks = Object.entries(f.checks).map(([k, cmd]) => `${k} (${cmd})`);
	print(`  workspace: ${f.languages.slice(0, 4).join(', ') || 'no source files found'}${f.git ? '; git' : ''}${f.truncated ? `; search stopped after ${f.scanned} entries` : ''}`);
	print(`  checks: ${checks.join(', ') || 'none found (package.json scripts, Makefile targets, pytest)'}`);
	if (f.files.length) print(`  files: ${f.files.join(', ')}`);
	if (f.missing.length) print(`  named but missing: ${f.missing.join(', ')}`);
}

/** One line per transition: `» planning: fix, medium complexity; from templates (offline fallback)`. */
export function transitionLine(e: OrchestrationEvent): string {
	const extra = e.state === 'completing' && e.outcome ? ` [${e.outcome}]` : '';
	return `» ${e.state}${extra}${e.detail && e.detail !== e.outcome ? `: ${e.detail.split('\n')[0]}` : ''}`;
}
