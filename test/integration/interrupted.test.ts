import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunOutcome } from '../../src/vscode/api';
import { activateApi, boardRun, eventually, exists, EXTENSION_ID, readText, treeRun, workspaceRoot, writeText } from './extensionHost';

suite('a run interrupted by a crash', () => {
	test('shows as interrupted, and Resume finishes it without re-running what had succeeded', async () => {
		const api = await activateApi();
		await writeText(
			'slow.workflow.json',
			JSON.stringify({
				name: 'slow',
				instructions: [
					{ id: 'first', type: 'file', operation: 'create', parameters: { path: 'slow/first.txt', content: 'one\n' } },
					{ id: 'pause', type: 'util', operation: 'wait', dependencies: ['first'], parameters: { ms: 1500 } },
					{ id: 'last', type: 'file', operation: 'create', dependencies: ['pause'], parameters: { path: 'slow/last.txt', content: 'two\n' } },
				],
			}),
		);
		// Another process (the qo CLI, as a closed window's extension host would be) dies in the middle of the run.
		const qo = path.join(vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath, 'bin', 'qo.js');
		const child = spawn(process.execPath, [qo, 'run', 'slow.workflow.json'], { cwd: workspaceRoot().fsPath, stdio: 'ignore' });
		await eventually(async () => assert.ok(await exists('slow/first.txt')), 15_000);
		// Well inside the 1.5 s pause: `first` has ended in the journal (group commits are a few ms apart).
		await new Promise((r) => setTimeout(r, 500));
		child.kill('SIGKILL');
		await new Promise((r) => child.once('exit', r));

		await vscode.commands.executeCommand('quantum.refreshRuns');
		const runId = await eventually(() => {
			const run = api.board().runs.find((r) => r.workflow === 'slow');
			assert.equal(run?.status, 'interrupted');
			return run!.runId;
		});
		assert.equal(await exists('slow/last.txt'), false);

		const outcome = await vscode.commands.executeCommand<RunOutcome>('quantum.resumeRun', runId);
		assert.equal(outcome?.status, 'succeeded', outcome?.message);
		assert.equal(await readText('slow/first.txt'), 'one\n');
		assert.equal(await readText('slow/last.txt'), 'two\n');
		await eventually(() => {
			const first = boardRun(api, runId).steps.find((s) => s.id === 'first');
			assert.match(first?.message ?? '', /earlier attempt/);
		});
		const last = treeRun(api, runId).children?.find((c) => c.label === 'last');
		assert.match(last?.tooltip ?? '', /"path": "slow\/last\.txt"/, 'a resumed run shows its steps\' parameters');
	});
});
