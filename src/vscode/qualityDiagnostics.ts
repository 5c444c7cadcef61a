// Quality findings as VS Code diagnostics in their own collection ('quantum-quality'), kept apart from workflow
// file problems so a new lint run never clears those, and a rolled-back run takes its findings with it.
import * as vscode from 'vscode';
import type { Finding } from '../core/quality/findings';
import { QualityFindings } from './model/qualityFindings';
import type { Orchestrator } from './orchestrator';

const SEVERITY: Record<Finding['severity'], vscode.DiagnosticSeverity> = {
	error: vscode.DiagnosticSeverity.Error,
	warning: vscode.DiagnosticSeverity.Warning,
	info: vscode.DiagnosticSeverity.Information,
};

export function findingDiagnostic(f: Finding): vscode.Diagnostic {
	const line = Math.max(0, f.line - 1);
	const col = Math.max(0, (f.column ?? 1) - 1);
	const d = new vscode.Diagnostic(new vscode.Range(line, col, line, col + 1), f.message, SEVERITY[f.severity]);
	d.source = f.source;
	if (f.rule) d.code = f.rule;
	return d;
}

export class QualityDiagnostics implements vscode.Disposable {
	private readonly collection = vscode.languages.createDiagnosticCollection('quantum-quality');
	private readonly model = new QualityFindings();
	private readonly subscription: vscode.Disposable;

	constructor(orchestrator: Orchestrator) {
		this.subscription = orchestrator.onDidEngineEvent(({ folder, event }) => {
			if (this.model.apply(folder.uri.fsPath, event)) this.publish();
		});
	}

	private publish(): void {
		this.collection.clear();
		for (const [file, findings] of this.model.files()) this.collection.set(vscode.Uri.file(file), findings.map(findingDiagnostic));
	}

	dispose(): void {
		this.subscription.dispose();
		this.collection.dispose();
	}
}
