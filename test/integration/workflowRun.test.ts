import * as assert from 'node:assert/strict';
import type { QuantumApi } from '../../src/vscode/api';
import { activateApi, boardRun, eventually, exists, readText, runWorkflowFile, treeRun, treeStepStates } from './extensionHost';

suite('running a workflow file', () => {
	let api: QuantumApi;
	suiteSetup(async () => {
		api = await activateApi();
	});

	test('the run writes its files and every step shows succeeded in the tree', async () => {
		const outcome = await runWorkflowFile('create-files.workflow.json');
		assert.equal(outcome.status, 'succeeded', outcome.message);
		assert.equal(await readText('out/alpha.txt'), 'alpha\n');
		assert.equal(await readText('out/beta.txt'), 'beta\n');
		assert.equal(await readText('notes.txt'), 'original notes\nappended by create-files\n');
		assert.ok(await exists('.quantum'), 'engine state is kept in .quantum/');
		await eventually(() => {
			assert.equal(boardRun(api, outcome.runId).status, 'succeeded');
			assert.match(treeRun(api, outcome.runId).contextValue, /^run:succeeded(:|$)/);
			assert.deepEqual(treeStepStates(api, outcome.runId), {
				make_dir: 'step:succeeded',
				alpha: 'step:succeeded',
				beta: 'step:succeeded',
				append_notes: 'step:succeeded',
				done: 'step:succeeded',
			});
		});
	});

	test('a failing step fails the run and skips its dependents', async () => {
		const outcome = await runWorkflowFile('failing.workflow.json');
		assert.equal(outcome.status, 'failed', outcome.message);
		assert.ok(await exists('failing/before.txt'));
		assert.equal(await exists('failing/after.txt'), false);
		await eventually(() => {
			const steps = boardRun(api, outcome.runId).steps;
			assert.match(steps.find((s) => s.id === 'boom')?.message ?? '', /failing on purpose/);
			assert.deepEqual(treeStepStates(api, outcome.runId), { before: 'step:succeeded', boom: 'step:failed', after_boom: 'step:skipped' });
		});
	});
});
