import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { QuantumApi, TreeItemView } from '../../src/vscode/api';
import type { AgentRow } from '../../src/vscode/model/agentsView';
import { startScriptedOpenAi, type ScriptedOpenAi } from '../helpers/scriptedOpenAi';
import { activateApi, boardRun, eventually, exists, readText, runWorkflowFile, treeRun, workspaceFile, writeText } from './extensionHost';

suite('agents', () => {
	let api: QuantumApi;
	let server: ScriptedOpenAi | undefined;
	const llm = () => vscode.workspace.getConfiguration('quantum.llm');

	suiteSetup(async () => {
		api = await activateApi();
	});

	suiteTeardown(async () => {
		await llm().update('baseUrl', undefined, vscode.ConfigurationTarget.Workspace);
		await server?.close();
		for (const name of ['docs-writer', 'broken']) await vscode.workspace.fs.delete(workspaceFile(`.quantum/agents/${name}.md`)).then(undefined, () => undefined);
	});

	test("an agent step's tool calls appear under the step in the tree, with the agent and its tokens on the step", async () => {
		server = await startScriptedOpenAi([
			{ toolCalls: [{ name: 'read_file', arguments: { path: 'notes.txt' } }] },
			{ toolCalls: [{ name: 'write_file', arguments: { path: 'agent/summary.txt', content: 'the notes, summarised\n' } }] },
			{ text: 'Done: wrote agent/summary.txt from notes.txt.' },
		]);
		await llm().update('baseUrl', server.baseUrl, vscode.ConfigurationTarget.Workspace);
		await eventually(() => assert.match(api.llmStatus(), new RegExp(server!.baseUrl.replace(/[.]/g, '\\.'))));
		await writeText(
			'agent.workflow.json',
			JSON.stringify({ name: 'agent at work', instructions: [{ id: 'task', type: 'agent', operation: 'task', parameters: { prompt: 'Summarise notes.txt into agent/summary.txt', agent: 'coder' } }] }, null, 2),
		);
		const outcome = await runWorkflowFile('agent.workflow.json');
		assert.equal(outcome.status, 'succeeded', outcome.message);
		assert.equal(await readText('agent/summary.txt'), 'the notes, summarised\n');
		assert.equal(server.remaining(), 0, 'the agent used every scripted answer');

		await eventually(() => {
			const step = (treeRun(api, outcome.runId).children ?? []).find((i) => i.label === 'task') as TreeItemView;
			assert.ok(step, 'the agent step is in the tree');
			assert.deepEqual(
				step.children?.map((c) => [c.label, c.contextValue]),
				[
					['task.1', 'tool:succeeded'],
					['task.2', 'tool:succeeded'],
				],
			);
			assert.match(step.children![0].description ?? '', /read_file: read notes\.txt/);
			assert.match(step.children![1].description ?? '', /write_file: /);
			assert.match(step.tooltip ?? '', /Agent: \*\*coder\*\*/);
			assert.match(step.description ?? '', /→ coder/);
			assert.match(step.tooltip ?? '', /Tool calls: 2 succeeded/);
			const board = boardRun(api, outcome.runId).steps[0];
			assert.equal(board.allocation?.agent, 'coder');
			assert.equal(board.usage?.calls, 3);
			assert.equal(board.children?.length, 2);
		});
		// The agent's edit is journaled like any step: rolling the run back removes the file it wrote.
		await vscode.commands.executeCommand('quantum.rollbackRun', outcome.runId, { confirm: false });
		assert.equal(await exists('agent/summary.txt'), false);
	});

	test('Show Agents lists the built-ins and a workspace agent made with New Agent…; a broken agent file shows in the Problems panel at its line', async () => {
		const created = await vscode.commands.executeCommand<vscode.Uri>('quantum.newAgent', 'docs-writer');
		assert.ok(created, 'New Agent created a file');
		assert.match(created.path, /\.quantum\/agents\/docs-writer\.md$/);
		assert.equal(vscode.window.activeTextEditor?.document.uri.toString(), created.toString(), 'and opened it');
		await eventually(async () => assert.ok((await api.agents.list()).some((a) => a.name === 'docs-writer' && a.source === 'workspace')));

		const rows = await vscode.commands.executeCommand<AgentRow[]>('quantum.showAgents');
		await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
		const names = rows.map((r) => r.name);
		for (const builtin of ['architect', 'coder', 'reviewer', 'tester']) assert.ok(names.includes(builtin), `${builtin} is listed: ${names.join(', ')}`);
		const docs = rows.find((r) => r.name === 'docs-writer');
		assert.ok(docs, `the workspace agent is listed: ${names.join(', ')}`);
		assert.equal(docs.file, created.fsPath);
		assert.match(docs.description, /^llm · code · workspace/);
		assert.match(docs.detail, /0\/1 running/);
		const coder = rows.find((r) => r.name === 'coder')!;
		assert.match(coder.detail, /1 task, 100% succeeded/, 'the metrics of the agent step above');

		// A file with bad front matter: the watcher rereads the folder and the problem lands at its line.
		await writeText('.quantum/agents/broken.md', '---\nname: broken\ndescription: no capabilities\ncapabilities: []\ntools: [read_file, teleport]\n---\nBody\n');
		const broken = workspaceFile('.quantum/agents/broken.md');
		const problems = await eventually(() => {
			const found = vscode.languages.getDiagnostics(broken);
			assert.equal(found.length, 2, JSON.stringify(found.map((d) => d.message)));
			return found;
		}, 20_000);
		assert.deepEqual(problems.map((d) => d.range.start.line), [3, 4]);
		assert.match(problems[0].message, /capabilit/);
		assert.match(problems[1].message, /unknown tool "teleport"/);
		assert.equal(problems[0].source, 'Quantum Orchestrator');
		// Fixed: the problems go away.
		await writeText('.quantum/agents/broken.md', '---\nname: broken\ncapabilities: [docs]\n---\nBody\n');
		await eventually(() => assert.equal(vscode.languages.getDiagnostics(broken).length, 0), 20_000);
	});

	test('the API lists, registers and unregisters agents, with their health, workload and metrics', async () => {
		const notes = await api.agents.register({ name: 'api-helper', description: 'registered by a test', kind: 'command', capabilities: ['docs'], command: ['node', '--version'] });
		assert.deepEqual(notes, []);
		const listed = (await api.agents.list()).find((a) => a.name === 'api-helper');
		assert.deepEqual([listed?.kind, listed?.source, listed?.capabilities], ['command', 'api', ['docs']]);
		const [health] = await api.agents.health('api-helper');
		assert.equal(health.ok, true, health.problems.join('; '));
		assert.deepEqual(await api.agents.workload('api-helper'), { agent: 'api-helper', running: 0, max: 1, available: 1, full: false });
		assert.equal((await api.agents.metrics('api-helper')).tasks, 0);
		await assert.rejects(api.agents.register({ name: 'api-helper', capabilities: ['docs'], command: ['node'] }), /already registered/);
		await assert.rejects(api.agents.register({ name: 'bad name!', capabilities: [] }), /invalid agent definition/);
		assert.equal(await api.agents.unregister('api-helper'), true);
		assert.equal((await api.agents.list()).some((a) => a.name === 'api-helper'), false);
	});
});
