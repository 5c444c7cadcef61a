import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { QuantumApi } from '../../src/vscode/api';
import { activateApi, boardRun, eventually, exists, readText, runWorkflowFile, writeText } from './extensionHost';

suite('rolling a run back', () => {
	let api: QuantumApi;
	suiteSetup(async () => {
		api = await activateApi();
	});

	test('restores the files the run changed and removes the ones it created', async () => {
		// Its own copy of create-files writing to another folder, so it does not depend on other suites' runs.
		const workflow = JSON.parse(await readText('create-files.workflow.json')) as { name: string; variables: Record<string, string> };
		workflow.name = 'rollback-files';
		workflow.variables.dir = 'rollback-out';
		await writeText('rollback-files.workflow.json', JSON.stringify(workflow, null, 2));
		const notesBefore = await readText('notes.txt');

		const outcome = await runWorkflowFile('rollback-files.workflow.json');
		assert.equal(outcome.status, 'succeeded', outcome.message);
		assert.ok(await exists('rollback-out/alpha.txt'));
		assert.notEqual(await readText('notes.txt'), notesBefore);

		await vscode.commands.executeCommand('quantum.rollbackRun', outcome.runId, { confirm: false });
		assert.equal(await readText('notes.txt'), notesBefore);
		assert.equal(await exists('rollback-out'), false);
		await eventually(() => assert.equal(boardRun(api, outcome.runId).status, 'rolled_back'));
	});
});
