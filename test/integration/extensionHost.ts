// What the integration suites share: the extension's API, the workspace's files, and its Operations tree.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { QuantumApi, RunOutcome, TreeItemView } from '../../src/vscode/api';
import type { RunView } from '../../src/protocol/viewModels';

export const EXTENSION_ID = 'quantum-orchestrator.quantum-orchestrator';

export async function activateApi(): Promise<QuantumApi> {
	const ext = vscode.extensions.getExtension<QuantumApi>(EXTENSION_ID);
	assert.ok(ext, `extension ${EXTENSION_ID} is not loaded`);
	return ext.activate();
}

export function workspaceRoot(): vscode.Uri {
	const folder = vscode.workspace.workspaceFolders?.[0];
	assert.ok(folder, 'the tests need an open workspace folder');
	return folder.uri;
}

export function workspaceFile(relative: string): vscode.Uri {
	return vscode.Uri.joinPath(workspaceRoot(), ...relative.split('/'));
}

export async function readText(relative: string): Promise<string> {
	return Buffer.from(await vscode.workspace.fs.readFile(workspaceFile(relative))).toString('utf8');
}

export async function writeText(relative: string, text: string): Promise<void> {
	await vscode.workspace.fs.writeFile(workspaceFile(relative), Buffer.from(text, 'utf8'));
}

export async function exists(relative: string): Promise<boolean> {
	try {
		await vscode.workspace.fs.stat(workspaceFile(relative));
		return true;
	} catch {
		return false;
	}
}

/** Runs a workspace workflow file through the command a user runs, resolving when the run ends. */
export async function runWorkflowFile(relative: string): Promise<RunOutcome> {
	const outcome = await vscode.commands.executeCommand<RunOutcome | undefined>('quantum.runWorkflowFile', workspaceFile(relative));
	assert.ok(outcome, `quantum.runWorkflowFile ${relative} resolved to nothing`);
	return outcome;
}

export function boardRun(api: QuantumApi, runId: string): RunView {
	const run = api.board().runs.find((r) => r.runId === runId);
	assert.ok(run, `run ${runId} is not on the board`);
	return run;
}

function flatten(items: TreeItemView[]): TreeItemView[] {
	return items.flatMap((item) => [item, ...flatten(item.children ?? [])]);
}

const mentions = (item: TreeItemView, text: string): boolean =>
	[item.id, item.label, item.description, item.tooltip].some((s) => s?.includes(text));

/** The run's item in the Operations tree (a `run:*` item naming the run id). */
export function treeRun(api: QuantumApi, runId: string): TreeItemView {
	const runs = flatten(api.tree()).filter((i) => i.contextValue.startsWith('run:'));
	const run = runs.find((i) => mentions(i, runId));
	assert.ok(run, `no run:* tree item mentions ${runId}; run items: ${JSON.stringify(runs.map((r) => [r.id, r.label, r.contextValue]))}`);
	return run;
}

/** Each step's contextValue (`step:succeeded`...) under the run's tree item, keyed by step id. */
export function treeStepStates(api: QuantumApi, runId: string): Record<string, string> {
	const steps = flatten(treeRun(api, runId).children ?? []).filter((i) => i.contextValue.startsWith('step:'));
	const states: Record<string, string> = {};
	for (const step of boardRun(api, runId).steps) {
		const item = steps.find((i) => i.label === step.id || i.label.startsWith(`${step.id} `) || i.id.endsWith(step.id));
		if (item) states[step.id] = item.contextValue;
	}
	return states;
}

/** Retries an assertion until it passes (views update after the events that change them). */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		try {
			return await check();
		} catch (err) {
			if (Date.now() > deadline) throw err;
			await new Promise((r) => setTimeout(r, 100));
		}
	}
}
