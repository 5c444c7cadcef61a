import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { QuantumApi } from '../../src/vscode/api';
import type { GoalOutcome } from '../../src/vscode/orchestrateGoal';
import { activateApi, boardRun, eventually, readText, treeRun, workspaceRoot } from './extensionHost';

suite('Orchestrate Goal and proposed changes', () => {
	let api: QuantumApi;
	suiteSetup(async () => {
		api = await activateApi();
	});

	test('a goal in autonomous mode is analysed and planned offline, saved under .quantum/plans, and run; the board follows its states', async () => {
		await eventually(() => assert.match(api.llmStatus(), /no LLM endpoint is configured/, 'this test plans offline'));
		const seen = new Set<string>();
		const sub = api.onDidChange(() => {
			for (const o of api.board().orchestrations ?? []) seen.add(o.state);
		});
		const outcome = await vscode.commands.executeCommand<GoalOutcome>('quantum.orchestrateGoal', { goal: 'create goal/hello.txt with the content "hello from a goal"', autonomous: true });
		assert.ok(outcome, 'the command resolves with the outcome');
		assert.equal(outcome.outcome, 'succeeded', outcome.message);
		assert.equal(outcome.offline, true);
		assert.equal(outcome.runIds.length, 1);
		assert.match(outcome.planFile ?? '', /[/\\]\.quantum[/\\]plans[/\\]\d{8}-\d{6}-create-goal-hello-txt[^/\\]*\.workflow\.json$/);
		const plan = JSON.parse(Buffer.from(await vscode.workspace.fs.readFile(vscode.Uri.file(outcome.planFile!))).toString('utf8')) as { instructions: { type: string; operation: string }[] };
		assert.deepEqual(plan.instructions.map((i) => `${i.type}.${i.operation}`), ['file.create'], 'an ordinary workflow');
		assert.equal(await readText('goal/hello.txt'), 'hello from a goal');

		await eventually(() => {
			const goal = api.board().orchestrations?.find((o) => o.id === outcome.id);
			assert.ok(goal, 'the goal is on the board');
			seen.add(goal.state);
			assert.deepEqual([goal.state, goal.outcome, goal.live, goal.autonomous], ['completing', 'succeeded', false, true]);
			assert.deepEqual(goal.runIds, outcome.runIds);
			assert.equal(goal.planFile, vscode.workspace.asRelativePath(vscode.Uri.file(outcome.planFile!), false).replace(/\\/g, '/'));
			assert.equal(boardRun(api, outcome.runIds[0]).orchestration, outcome.id);
			assert.match(treeRun(api, outcome.runIds[0]).tooltip ?? '', /Goal: create goal\/hello\.txt/);
		});
		sub.dispose();
		// The board flushes every 80 ms and an offline goal can end within one flush, so the states in between are the
		// board model's unit tests' to check (test/unit/vscode); here, the end must show.
		assert.ok(seen.has('completing'), `the board showed the session end (saw ${[...seen].join(', ')})`);
		assert.ok(outcome.planFile!.startsWith(workspaceRoot().fsPath));
	});

	test('a failed run is replanned: the revised plan waits in the decision queue with its diff, and rejecting it ends the goal', async () => {
		const running = vscode.commands.executeCommand<GoalOutcome>('quantum.orchestrateGoal', { goal: 'run `node -e "process.exit(3)"`', autonomous: true });
		const decision = await Promise.race([
			api.waitForDecision('command', 60_000),
			Promise.resolve(running).then((o) => assert.fail(`the goal ended without a replan decision: ${JSON.stringify(o)}`)),
		]);
		assert.equal(decision.kind, 'replan');
		assert.match(decision.details ?? '', /^Plan changes: \+1 −0 ~1/);
		assert.match(decision.details ?? '', /\n\+ fix_command {2}agent\.task: /);
		assert.match(decision.details ?? '', /\n~ command {2}exec\.run/);
		await eventually(() => {
			const goal = api.board().orchestrations?.find((o) => o.live);
			assert.equal(goal?.state, 'escalating');
		});
		// Show opens the diff as text to read.
		await vscode.commands.executeCommand('quantum.showDecision', decision.id);
		const shown = vscode.window.activeTextEditor?.document;
		assert.match(shown?.uri.path ?? '', /\.diff$/);
		assert.match(shown?.getText() ?? '', /\+ fix_command/);
		await api.answer([decision.id], { approve: false, reason: 'not now' });
		const outcome = await running;
		assert.equal(outcome.outcome, 'failed');
		assert.match(outcome.message ?? '', /exited with code 3; the revised plan was rejected: not now/);
		await eventually(() => assert.equal(api.board().orchestrations?.find((o) => o.id === outcome.id)?.outcome, 'failed'));
	});

	test('a proposed change opens one real diff per file (now ↔ proposed); answering closes them', async () => {
		const answer = api.requestDecision({
			runId: 'proposal-test',
			stepId: 'fix_signup',
			kind: 'proposal',
			reason: 'the fix the model proposes for the failing check',
			summary: 'apply the change to 2 files',
			type: 'llm',
			operation: 'fix',
			parameters: {},
			changes: [
				{ path: 'src/signup.ts', before: 'export const minLength = 6;\n', after: 'export const minLength = 8;\n' },
				{ path: 'test/signup.test.ts', before: null, after: 'test("rejects short passwords", () => {});\n' },
			],
		});
		const decision = await api.waitForDecision('fix_signup');
		assert.equal(decision.kind, 'proposal');
		assert.deepEqual(decision.changedFiles, ['src/signup.ts', 'test/signup.test.ts']);
		await vscode.commands.executeCommand('quantum.showDecision', decision.id);
		const diffs = () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputTextDiff && t.label.includes('fix_signup'));
		assert.equal(diffs().length, 2, `two diff tabs: ${vscode.window.tabGroups.all.flatMap((g) => g.tabs).map((t) => t.label).join(' | ')}`);
		const texts = await Promise.all(
			diffs().map(async (t) => {
				const input = t.input as vscode.TabInputTextDiff;
				const [a, b] = await Promise.all([vscode.workspace.openTextDocument(input.original), vscode.workspace.openTextDocument(input.modified)]);
				return [t.label, a.getText(), b.getText()];
			}),
		);
		texts.sort((x, y) => x[0].localeCompare(y[0]));
		assert.match(texts[0][0], /^src\/signup\.ts: now ↔ changed by fix_signup/);
		assert.deepEqual(texts[0].slice(1), ['export const minLength = 6;\n', 'export const minLength = 8;\n']);
		assert.match(texts[1][0], /^test\/signup\.test\.ts: now ↔ created by fix_signup/);
		assert.deepEqual(texts[1].slice(1), ['', 'test("rejects short passwords", () => {});\n']);

		await api.answer([decision.id], { approve: true });
		assert.equal((await answer).approve, true);
		await eventually(() => assert.equal(diffs().length, 0, 'the diff tabs close once the decision is answered'));
		assert.equal(api.pendingDecisions().some((d) => d.id === decision.id), false);
	});
});
