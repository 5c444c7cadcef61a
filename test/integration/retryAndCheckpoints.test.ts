import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { RunOutcome } from '../../src/vscode/api';
import { activateApi, boardRun, eventually, exists, readText, runWorkflowFile, writeText } from './extensionHost';

suite('retry and checkpoints', () => {
	test('Retry Failed Step re-runs the failed step once its cause is fixed, and keeps what succeeded', async () => {
		const api = await activateApi();
		await writeText(
			'retry.workflow.json',
			JSON.stringify({
				name: 'retry',
				instructions: [
					{ id: 'prepare', type: 'file', operation: 'create', parameters: { path: 'retry/prepared.txt', content: 'p\n', overwrite: true } },
					{ id: 'check', type: 'exec', operation: 'run', dependencies: ['prepare'], parameters: { command: 'test -f retry/ready.txt' } },
					{ id: 'ship', type: 'file', operation: 'create', dependencies: ['check'], parameters: { path: 'retry/shipped.txt', content: 's\n' } },
				],
			}),
		);
		const first = await runWorkflowFile('retry.workflow.json');
		assert.equal(first.status, 'failed');
		assert.equal(await exists('retry/shipped.txt'), false);

		await writeText('retry/ready.txt', 'ok\n');
		const retried = await vscode.commands.executeCommand<RunOutcome>('quantum.retryFailedStep', first.runId);
		assert.equal(retried?.status, 'succeeded', retried?.message);
		assert.equal(await readText('retry/shipped.txt'), 's\n');
		await eventually(() => assert.match(boardRun(api, first.runId).steps.find((s) => s.id === 'prepare')?.message ?? '', /earlier attempt/));
	});

	test('Create Checkpoint then Restore Checkpoint puts the files back, as a run that can itself be rolled back', async () => {
		await writeText('cp.workflow.json', JSON.stringify({ name: 'cp', instructions: [{ id: 'w', type: 'file', operation: 'create', parameters: { path: 'cp/file.txt', content: 'v1\n', overwrite: true } }] }));
		assert.equal((await runWorkflowFile('cp.workflow.json')).status, 'succeeded');
		const info = await vscode.commands.executeCommand<{ name: string; files: number }>('quantum.createCheckpoint', 'before-v2');
		assert.equal(info?.name, 'before-v2');

		await writeText('cp.workflow.json', JSON.stringify({ name: 'cp', instructions: [{ id: 'w', type: 'file', operation: 'create', parameters: { path: 'cp/file.txt', content: 'v2\n', overwrite: true } }] }));
		assert.equal((await runWorkflowFile('cp.workflow.json')).status, 'succeeded');
		assert.equal(await readText('cp/file.txt'), 'v2\n');

		const restored = await vscode.commands.executeCommand<{ runId: string; restored: number }>('quantum.restoreCheckpoint', 'before-v2');
		assert.ok(restored && restored.restored >= 1);
		assert.equal(await readText('cp/file.txt'), 'v1\n');
		await vscode.commands.executeCommand('quantum.rollbackRun', restored.runId, { confirm: false });
		assert.equal(await readText('cp/file.txt'), 'v2\n', 'rolling back the restore undoes it');
	});
});
