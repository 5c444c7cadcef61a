import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { QuantumApi, TreeItemView } from '../../src/vscode/api';
import { activateApi, eventually, exists, readText, treeRun, treeStepStates, writeText } from './extensionHost';

const INBOX_WORKFLOW = {
	version: 1,
	name: 'from-the-inbox',
	instructions: [
		{ id: 'write', type: 'file', operation: 'create', parameters: { path: 'inbox-out/hello.txt', content: 'hello from the inbox\n' } },
		{ id: 'done', type: 'util', operation: 'echo', dependencies: ['write'], parameters: { value: 'done' } },
	],
};

const SCHEDULED_WORKFLOW = { version: 1, name: 'scheduled', instructions: [{ id: 'noop', type: 'util', operation: 'echo', parameters: { value: 'tick' } }] };

suite('background services in the extension', () => {
	let api: QuantumApi;
	const config = () => vscode.workspace.getConfiguration('quantum');
	suiteSetup(async () => {
		api = await activateApi();
	});
	suiteTeardown(async () => {
		await config().update('inbox.enabled', undefined, vscode.ConfigurationTarget.Workspace);
		await config().update('schedules.list', undefined, vscode.ConfigurationTarget.Workspace);
	});

	test('turning the inbox on runs a workflow dropped into .quantum/inbox, and the run succeeds in the tree', async () => {
		await config().update('inbox.enabled', true, vscode.ConfigurationTarget.Workspace);
		await eventually(async () => assert.ok((Object.values(await api.services()).flat()).includes('inbox'), JSON.stringify(await api.services())));
		await writeText('.quantum/inbox/hello.workflow.json', JSON.stringify(INBOX_WORKFLOW, null, 2));
		const run = await eventually(() => {
			const found = api.board().runs.find((r) => r.workflow === 'from-the-inbox');
			assert.ok(found, 'the inbox run is on the board');
			assert.equal(found.status, 'succeeded', found.message);
			return found;
		}, 30_000);
		await eventually(() => {
			assert.match(treeRun(api, run.runId).contextValue, /^run:succeeded(:|$)/);
			assert.deepEqual(treeStepStates(api, run.runId), { write: 'step:succeeded', done: 'step:succeeded' });
		});
		assert.equal(await readText('inbox-out/hello.txt'), 'hello from the inbox\n');
		await eventually(async () => assert.ok(await exists('.quantum/inbox/done/hello.workflow.json'), 'the file moved to done/'));
	});

	test('a schedule from the settings shows under "Schedules" in the tree with its next run', async () => {
		await writeText('scheduled.json', JSON.stringify(SCHEDULED_WORKFLOW, null, 2));
		await config().update('schedules.list', [{ name: 'yearly-check', cron: '0 0 1 1 *', workflow: 'scheduled.json' }], vscode.ConfigurationTarget.Workspace);
		const item = await eventually(() => {
			const node = api.tree().find((i) => i.contextValue.startsWith('schedules'));
			assert.ok(node, `no Schedules node: ${JSON.stringify(api.tree().map((i) => i.label))}`);
			const s = (node.children ?? []).find((c: TreeItemView) => c.label === 'yearly-check');
			assert.ok(s, JSON.stringify(node));
			return s;
		});
		assert.match(item.description ?? '', /^0 0 1 1 \* · next in \d+ (days?|h|min)/);
		assert.match(item.tooltip ?? '', /Workflow: `scheduled\.json`/);
	});
});
