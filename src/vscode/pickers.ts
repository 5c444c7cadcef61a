// Quick picks for commands run without an argument: which workflow file, which run.
import * as vscode from 'vscode';
import { formatDuration } from '../core/format';
import type { Orchestrator } from './orchestrator';

/** `*.workflow.json` files in the workspace, newest first, plus "Browse…" for any other JSON file. */
export async function pickWorkflowFile(): Promise<vscode.Uri | undefined> {
	const files = await vscode.workspace.findFiles('**/*.workflow.json', '**/{node_modules,.git,.quantum}/**', 500);
	const browse = { label: '$(folder-opened) Browse…', uri: undefined as vscode.Uri | undefined };
	const items = [
		...files
			.sort((a, b) => a.fsPath.localeCompare(b.fsPath))
			.map((uri) => ({ label: vscode.workspace.asRelativePath(uri), uri: uri as vscode.Uri | undefined })),
		browse,
	];
	const picked = await vscode.window.showQuickPick(items, { title: 'Run which workflow?', placeHolder: 'a *.workflow.json file' });
	if (!picked) return undefined;
	if (picked.uri) return picked.uri;
	const chosen = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'Workflow JSON': ['json'] }, openLabel: 'Run' });
	return chosen?.[0];
}

/** A run id from a command argument: a string, or a tree node / board item carrying `runId`. */
export function runIdOf(arg: unknown): string | undefined {
	if (typeof arg === 'string' && arg) return arg;
	if (arg && typeof arg === 'object' && typeof (arg as { runId?: unknown }).runId === 'string') return (arg as { runId: string }).runId;
	return undefined;
}

/** Picks a run among the board's (statuses filter; `activeOnly`: runs this window drives). The newest comes first. */
export async function pickRun(orch: Orchestrator, statuses: readonly string[] | undefined, title: string, activeOnly = false): Promise<string | undefined> {
	const runs = orch.board
		.snapshot()
		.runs.filter((r) => (!statuses || statuses.includes(r.status)) && (!activeOnly || orch.isActive(r.runId)));
	if (runs.length === 0) {
		void vscode.window.showInformationMessage(statuses ? `No ${statuses.join(' or ')} runs.` : 'No runs yet.');
		return undefined;
	}
	const picked = await vscode.window.showQuickPick(
		runs.map((r) => ({
			label: r.workflow,
			description: `${r.status.replace('_', ' ')}${r.durationMs !== undefined ? ` · ${formatDuration(r.durationMs)}` : ''} · ${new Date(r.startedAt).toLocaleString()}`,
			detail: r.runId,
		})),
		{ title },
	);
	return picked?.detail;
}
