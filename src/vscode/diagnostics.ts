// Workflow problems as VS Code diagnostics on the file: every problem at its line and column, with its JSON path.
import * as vscode from 'vscode';
import { describeError, WorkflowError } from '../core/errors';

export function workflowDiagnostics(err: WorkflowError): vscode.Diagnostic[] {
	const problems = err.problems.length ? err.problems : [err];
	return problems.map((p) => {
		const line = Math.max(0, (p.location.line ?? 1) - 1);
		const col = Math.max(0, (p.location.column ?? 1) - 1);
		const d = new vscode.Diagnostic(
			new vscode.Range(line, col, line, col + 1),
			p.location.path ? `${p.message} (at ${p.location.path})` : p.message,
			vscode.DiagnosticSeverity.Error,
		);
		d.source = 'Quantum Orchestrator';
		d.code = p.code;
		return d;
	});
}

/** One line for a notification: the first problem and how many more the Problems panel lists. */
export function problemSummary(file: string, err: unknown): string {
	if (!WorkflowError.is(err)) return `${file}: ${describeError(err)}`;
	const problems = err.problems.length ? err.problems : [err];
	const first = problems[0];
	const where = first.location.line ? `${file}:${first.location.line}:${first.location.column ?? 1}` : file;
	const more = problems.length > 1 ? ` (and ${problems.length - 1} more in the Problems panel)` : '';
	return `${where}: ${first.message}${more}`;
}
