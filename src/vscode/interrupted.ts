// After a window reload or a crash: runs whose process is gone are offered for Resume or Roll Back.
import * as vscode from 'vscode';
import type { Orchestrator } from './orchestrator';

export async function offerInterruptedRuns(orchestrator: Orchestrator): Promise<void> {
	const stoppedByClose = new Set(orchestrator.takeRunsStoppedByClose());
	for (const folder of vscode.workspace.workspaceFolders ?? []) {
		const engine = await orchestrator.engineFor(folder);
		const interrupted = (await engine.runs()).filter(
			(r) => !r.committed && (r.status === 'interrupted' || (stoppedByClose.has(r.runId) && r.status === 'cancelled')),
		);
		for (const run of interrupted.slice(0, 3)) {
			const done = run.steps.succeeded;
			const choice = await vscode.window.showWarningMessage(
				`Quantum Orchestrator: the run "${run.workflow}" (${run.runId}) was ${run.status === 'cancelled' ? 'stopped when VS Code closed' : 'interrupted'} after ${done} of ${run.steps.total || '?'} steps.`,
				'Resume',
				'Roll Back',
				'Later',
			);
			if (choice === 'Resume') void vscode.commands.executeCommand('quantum.resumeRun', run.runId);
			else if (choice === 'Roll Back') void vscode.commands.executeCommand('quantum.rollbackRun', run.runId);
		}
	}
}
