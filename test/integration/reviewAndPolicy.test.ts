import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { QuantumApi } from '../../src/vscode/api';
import { activateApi, exists, readText, runWorkflowFile, workspaceFile, writeText } from './extensionHost';

const workflow = (name: string, instructions: unknown[]) => JSON.stringify({ name, instructions }, null, 2);

suite('reviewing what a step will do, and the escalation policy', () => {
	let api: QuantumApi;
	suiteSetup(async () => {
		api = await activateApi();
	});

	test('a file step waiting for approval opens a real diff of now ↔ after; edit-then-approve writes the edited content', async () => {
		await writeText('review/target.txt', 'line one\nline two\n');
		await writeText(
			'review.workflow.json',
			workflow('review', [
				{ id: 'change', type: 'file', operation: 'modify', requires_approval: true, parameters: { path: 'review/target.txt', find: 'two', replace: 'TWO' } },
			]),
		);
		const running = runWorkflowFile('review.workflow.json');
		const decision = await api.waitForDecision('change');
		assert.equal(decision.file, 'review/target.txt');
		await vscode.commands.executeCommand('quantum.showDecision', decision.id);
		const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
		assert.ok(tab?.input instanceof vscode.TabInputTextDiff, `the active tab is a diff, got ${tab?.label}`);
		const input = tab.input as vscode.TabInputTextDiff;
		const [before, after] = await Promise.all([vscode.workspace.openTextDocument(input.original), vscode.workspace.openTextDocument(input.modified)]);
		assert.equal(before.getText(), 'line one\nline two\n');
		assert.equal(after.getText(), 'line one\nline TWO\n');
		await vscode.commands.executeCommand('workbench.action.closeActiveEditor');

		await api.answer([decision.id], { approve: true, parameters: { path: 'review/target.txt', find: 'two', replace: 'edited' } });
		const outcome = await running;
		assert.equal(outcome.status, 'succeeded', outcome.message);
		assert.equal(await readText('review/target.txt'), 'line one\nline edited\n');
	});

	test('a deletion pauses by policy; "always allow" persists the rule and the next deletion does not ask', async () => {
		await writeText('policy/a.txt', 'a');
		await writeText('policy/b.txt', 'b');
		await writeText('delete-a.workflow.json', workflow('delete a', [{ id: 'rm_a', type: 'file', operation: 'delete', parameters: { path: 'policy/a.txt' } }]));
		await writeText('delete-b.workflow.json', workflow('delete b', [{ id: 'rm_b', type: 'file', operation: 'delete', parameters: { path: 'policy/b.txt' } }]));
		const running = runWorkflowFile('delete-a.workflow.json');
		const decision = await api.waitForDecision('rm_a');
		assert.equal(decision.rule, 'file:delete');
		await api.answer([decision.id], { approve: true, alwaysAllow: true });
		assert.equal((await running).status, 'succeeded');
		assert.ok(api.allowedRules().includes('file:delete'));

		const second = await runWorkflowFile('delete-b.workflow.json');
		assert.equal(second.status, 'succeeded', 'no decision was needed');
		assert.equal(await exists('policy/b.txt'), false);
	});

	test('a risky segment of a shell line pauses with the exact command line and folder; cancelling the run withdraws it', async () => {
		await writeText('risky.workflow.json', workflow('risky', [{ id: 'clean', type: 'exec', operation: 'run', parameters: { command: 'echo ok && rm -rf build', cwd: 'review' } }]));
		const running = runWorkflowFile('risky.workflow.json');
		const decision = await api.waitForDecision('clean');
		assert.equal(decision.command, 'echo ok && rm -rf build');
		assert.equal(decision.cwd, 'review');
		assert.match(decision.rule ?? '', /^exec:risky:/);
		await vscode.commands.executeCommand('quantum.cancelRun', decision.runId);
		const outcome = await running;
		assert.equal(outcome.status, 'cancelled');
		assert.equal(api.pendingDecisions().length, 0);
	});

	test('validating a broken file lists every problem in the Problems panel at its line', async () => {
		await writeText(
			'broken.workflow.json',
			'{\n  "name": "broken",\n  "instructions": [\n    { "id": "x", "type": "file", "operation": "explode" },\n    { "id": "y", "type": "util", "operation": "echo", "dependencies": ["nope"], "parameters": { "value": 1 } }\n  ]\n}\n',
		);
		const uri = workspaceFile('broken.workflow.json');
		const result = await vscode.commands.executeCommand<{ valid: boolean }>('quantum.validateWorkflow', uri);
		assert.equal(result?.valid, false);
		const diagnostics = vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'Quantum Orchestrator');
		assert.equal(diagnostics.length, 2, diagnostics.map((d) => d.message).join(' | '));
		assert.deepEqual(diagnostics.map((d) => d.range.start.line).sort(), [3, 4]);
		assert.ok(diagnostics.some((d) => /explode/.test(d.message) && /instructions\[0\]/.test(d.message)));
	});

	test('Plan opens a preview of levels, critical path, touched files and the steps that will ask', async () => {
		await writeText(
			'plan.workflow.json',
			workflow('plan me', [
				{ id: 'write', type: 'file', operation: 'create', parameters: { path: 'plan/out.txt', content: 'x' } },
				{ id: 'drop', type: 'exec', operation: 'run', dependencies: ['write'], parameters: { command: 'rm -rf plan' } },
			]),
		);
		await vscode.commands.executeCommand('quantum.planWorkflow', workspaceFile('plan.workflow.json'));
		const text = vscode.window.activeTextEditor?.document.getText() ?? '';
		assert.match(text, /2 steps in 2 levels/);
		assert.match(text, /critical path: write → drop/);
		assert.match(text, /plan\/out\.txt/);
		assert.match(text, /Needs approval[\s\S]*drop: .*rm -rf plan.*\[rule exec:risky:/, 'the policy escalation shows in the plan');
		assert.equal(await exists('plan/out.txt'), false, 'planning runs nothing');
	});
});
