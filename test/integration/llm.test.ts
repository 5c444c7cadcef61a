import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { QuantumApi } from '../../src/vscode/api';
import { startScriptedOpenAi, type ScriptedOpenAi } from '../helpers/scriptedOpenAi';
import { activateApi, boardRun, eventually, readText, runWorkflowFile, workspaceRoot, writeText } from './extensionHost';

/** A key that appears nowhere else, so finding it anywhere is a leak. */
const KEY = `sk-test-${Date.now().toString(36)}-do-not-log`;

const generate = (name: string, output: string) =>
	JSON.stringify({ name, instructions: [{ id: 'ask', type: 'llm', operation: 'generate', parameters: { prompt: 'Say hello', output_path: output } }] }, null, 2);

/** Every file under `dir` (skipping what cannot be read). */
function filesUnder(dir: string): string[] {
	let names: string[];
	try {
		names = readdirSync(dir);
	} catch {
		return [];
	}
	return names.flatMap((n) => {
		const p = path.join(dir, n);
		try {
			return statSync(p).isDirectory() ? filesUnder(p) : [p];
		} catch {
			return [];
		}
	});
}

suite('LLM settings and the API key in SecretStorage', () => {
	let api: QuantumApi;
	const servers: ScriptedOpenAi[] = [];
	const llm = () => vscode.workspace.getConfiguration('quantum.llm');

	suiteSetup(async () => {
		api = await activateApi();
	});

	suiteTeardown(async () => {
		await vscode.commands.executeCommand('quantum.clearApiKey');
		await llm().update('baseUrl', undefined, vscode.ConfigurationTarget.Workspace);
		await llm().update('model', undefined, vscode.ConfigurationTarget.Workspace);
		for (const s of servers) await s.close();
		await eventually(() => assert.match(api.llmStatus(), /no LLM endpoint is configured/));
	});

	test('Set API Key keeps the key in secret storage; an llm step sends it to the endpoint the settings name; it is in no setting, log line or state file', async () => {
		// The server runs here, in the extension host, so the extension reaches it on loopback.
		const server = await startScriptedOpenAi([{ text: 'hello from the scripted model\n', usage: { prompt_tokens: 1200, completion_tokens: 34 } }]);
		servers.push(server);
		await llm().update('baseUrl', server.baseUrl, vscode.ConfigurationTarget.Workspace);
		await llm().update('model', 'gpt-4o-mini', vscode.ConfigurationTarget.Workspace);
		assert.equal(await vscode.commands.executeCommand('quantum.setApiKey', KEY), true);
		await eventually(() => assert.match(api.llmStatus(), new RegExp(`${server.baseUrl.replace(/[.]/g, '\\.')} \\(from the settings\\), model gpt-4o-mini, key from secret storage`)));

		await writeText('llm/hello.workflow.json', generate('llm hello', 'llm/hello.txt'));
		const outcome = await runWorkflowFile('llm/hello.workflow.json');
		assert.equal(outcome.status, 'succeeded', outcome.message);
		assert.equal(await readText('llm/hello.txt'), 'hello from the scripted model\n');
		assert.deepEqual(server.authorizations, [`Bearer ${KEY}`], 'the stored key went to the endpoint');
		assert.equal(server.requests[0].model, 'gpt-4o-mini');
		// Tokens and cost on the board: per step and per run.
		await eventually(() => {
			const run = boardRun(api, outcome.runId);
			assert.equal(run.steps[0].usage?.promptTokens, 1200);
			assert.equal(run.usage?.calls, 1);
			assert.ok((run.usage?.costUsd ?? 0) > 0, 'gpt-4o-mini has a known price');
		});

		// Nowhere else: not in the settings (as read, and as written), the state folder, or the extension's logs.
		const settings = JSON.stringify(['baseUrl', 'model', 'roleModels', 'prices'].map((k) => llm().inspect(k)));
		assert.doesNotMatch(settings, new RegExp(KEY));
		const root = workspaceRoot().fsPath;
		const suspects = [...filesUnder(path.join(root, '.vscode')), ...filesUnder(path.join(root, '.quantum'))];
		assert.ok(suspects.some((f) => f.endsWith('journal.log')), 'the run left state files to search');
		// The log file is written behind the channel: wait until it has the line saying where the key came from.
		const logs = await eventually(() => {
			const files = filesUnder(api.logFolder);
			assert.ok(
				files.some((f) => readFileSync(f, 'utf8').includes('key from secret storage')),
				`the extension's log (in ${api.logFolder}: ${files.map((f) => path.basename(f)).join(', ')}) says where the key came from`,
			);
			return files;
		}, 20_000);
		for (const file of [...suspects, ...logs]) assert.equal(readFileSync(file, 'latin1').includes(KEY), false, `the key is in ${file}`);
	});

	test('a changed endpoint or key applies to the next step without a reload', async () => {
		const next = await startScriptedOpenAi([{ text: 'from the second endpoint\n' }]);
		servers.push(next);
		await llm().update('baseUrl', next.baseUrl, vscode.ConfigurationTarget.Workspace);
		await eventually(() => assert.match(api.llmStatus(), new RegExp(next.baseUrl.replace(/[.]/g, '\\.'))));
		await vscode.commands.executeCommand('quantum.setApiKey', `${KEY}-2`);
		await writeText('llm/again.workflow.json', generate('llm again', 'llm/again.txt'));
		const outcome = await runWorkflowFile('llm/again.workflow.json');
		assert.equal(outcome.status, 'succeeded', outcome.message);
		assert.equal(await readText('llm/again.txt'), 'from the second endpoint\n');
		assert.deepEqual(next.authorizations, [`Bearer ${KEY}-2`]);

		assert.equal(await vscode.commands.executeCommand('quantum.clearApiKey'), true);
		await eventually(() => assert.doesNotMatch(api.llmStatus(), /key from secret storage/));
	});
});
