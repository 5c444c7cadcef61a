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
		await config().update('triggers.waitForDecisions', undefined, vscode.ConfigurationTarget.Workspace);
		await config().update('api.enabled', undefined, vscode.ConfigurationTarget.Workspace);
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
		// The board's Metrics section counts it.
		await eventually(async () => {
			const m = await api.metrics();
			assert.ok(m?.handlers.some((h) => h.label === 'file.create' && h.count >= 1), JSON.stringify(m));
			assert.ok((m?.runs.count ?? 0) >= 1, JSON.stringify(m?.runs));
		});
	});

	test('an inbox run whose step needs approval is refused; with waitForDecisions it waits in the queue and is answered there', async () => {
		const approval = {
			version: 1,
			name: 'inbox-approval',
			instructions: [{ id: 'publish', type: 'file', operation: 'create', requires_approval: true, parameters: { path: 'inbox-out/published.txt', content: 'ok\n' } }],
		};
		await config().update('inbox.enabled', true, vscode.ConfigurationTarget.Workspace);
		await eventually(async () => assert.ok(Object.values(await api.services()).flat().includes('inbox')));
		assert.ok(!Object.values(await api.services()).flat().includes('waitForDecisions'));
		await writeText('.quantum/inbox/refused.workflow.json', JSON.stringify(approval));
		await eventually(async () => assert.ok(await exists('.quantum/inbox/failed/refused.workflow.json'), 'refused up front: moved to failed/'), 15_000);
		assert.equal(await exists('inbox-out/published.txt'), false);

		await config().update('triggers.waitForDecisions', true, vscode.ConfigurationTarget.Workspace);
		await eventually(async () => assert.deepEqual(Object.values(await api.services()).flat().filter((n) => n !== 'schedules').sort(), ['inbox', 'waitForDecisions']));
		await writeText('.quantum/inbox/waits.workflow.json', JSON.stringify({ ...approval, description: 'waits' }));
		const decision = await eventually(() => {
			const d = api.pendingDecisions().find((x) => x.stepId === 'publish');
			assert.ok(d, 'the decision waits in the queue');
			return d;
		}, 15_000);
		await api.answer([decision.id], { approve: true });
		await eventually(() => {
			const run = api.board().runs.find((r) => r.runId === decision.runId);
			assert.equal(run?.status, 'succeeded', run?.message);
		}, 15_000);
		assert.equal(await readText('inbox-out/published.txt'), 'ok\n');
		await config().update('triggers.waitForDecisions', undefined, vscode.ConfigurationTarget.Workspace);
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

	test('the local API: api.json holds the port and the token kept across restarts; Copy API Address gives the address, never the token', async () => {
		await config().update('api.enabled', true, vscode.ConfigurationTarget.Workspace);
		await eventually(async () => assert.ok(Object.values(await api.services()).flat().includes('api')));
		const first = JSON.parse(await readText('.quantum/api.json')) as { port: number; token: string };
		assert.ok(first.port > 0 && first.token.length >= 22, 'a port and a token of at least 128 bits');
		const unauthorised = await fetch(`http://127.0.0.1:${first.port}/v1/runs`);
		assert.equal(unauthorised.status, 401);
		const runs = await fetch(`http://127.0.0.1:${first.port}/v1/runs`, { headers: { authorization: `Bearer ${first.token}` } });
		assert.equal(runs.status, 200);
		const copied = await vscode.commands.executeCommand<{ url: string; apiFile?: string }>('quantum.copyApiAddress');
		assert.equal(copied?.url, `http://127.0.0.1:${first.port}`);
		assert.ok(!JSON.stringify(copied).includes(first.token), 'the token is never copied');
		// A restart (another setting of the API changed) keeps the token from SecretStorage.
		await config().update('api.port', 0, vscode.ConfigurationTarget.Workspace);
		await config().update('inbox.enabled', false, vscode.ConfigurationTarget.Workspace);
		await eventually(async () => assert.ok(!Object.values(await api.services()).flat().includes('inbox')));
		const second = JSON.parse(await readText('.quantum/api.json')) as { port: number; token: string };
		assert.equal(second.token, first.token);
		await config().update('api.enabled', undefined, vscode.ConfigurationTarget.Workspace);
		await config().update('api.port', undefined, vscode.ConfigurationTarget.Workspace);
		await eventually(async () => assert.equal(await exists('.quantum/api.json'), false, 'api.json is removed when the API stops'));
	});
});
