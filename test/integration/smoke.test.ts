import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { COMMAND_IDS } from '../../src/vscode/commandIds';
import { activateApi, EXTENSION_ID, workspaceRoot } from './extensionHost';

suite('smoke: the extension in a real VS Code', () => {
	test('runs in code-server with the fixture workspace open', () => {
		console.log(`    vscode ${vscode.version}, ${vscode.env.appName}, remote ${vscode.env.remoteName}, node ${process.version}`);
		assert.ok(workspaceRoot().fsPath.endsWith('workspace'));
	});

	test('the extension is present and activates', async () => {
		assert.ok(vscode.extensions.getExtension(EXTENSION_ID), `${EXTENSION_ID} is not loaded`);
		await activateApi();
		assert.equal(vscode.extensions.getExtension(EXTENSION_ID)?.isActive, true);
	});

	test('activation returns the API', async () => {
		const api = await activateApi();
		for (const fn of ['tree', 'board', 'pendingDecisions', 'answer', 'waitForDecision', 'onDidChange', 'allowedRules'] as const) {
			assert.equal(typeof api[fn], 'function', `api.${fn}`);
		}
	});

	test('every command id is registered', async () => {
		await activateApi();
		const registered = new Set(await vscode.commands.getCommands(true));
		assert.deepEqual(COMMAND_IDS.filter((id) => !registered.has(id)), []);
	});
});
