import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { paletteLabel, useWorkbench } from './workbench';

describe('Quantum Orchestrator in the VS Code UI', function () {
	const workbench = useWorkbench();

	it('Run Current File from the palette runs the open workflow and reports success', async function () {
		await workbench().openFile('create-files.workflow.json');
		await workbench().runCommand(paletteLabel('quantum.runCurrentFile'));
		await workbench().waitForFile('out/beta.txt');
		assert.equal(readFileSync(workbench().file('out/alpha.txt'), 'utf8'), 'alpha\n');
		await workbench().expectNotification(/create-files succeeded \(run \S+\)/);
	});

	it('the Operations tree in the Quantum Orchestrator container shows the run succeeded', async function () {
		await workbench().showContainer();
		const run = workbench().treeRow('create-files', 'succeeded');
		await run.waitFor({ timeout: 15_000 });
		await workbench().expand(run);
		for (const step of ['make_dir', 'alpha', 'beta', 'append_notes', 'done']) await workbench().treeRow(step, 'ms').waitFor({ timeout: 5_000 });
		await workbench().documentationShot('operations-tree');
	});

	it('a step waiting for approval is approved from the board and the run succeeds', async function () {
		await workbench().showContainer();
		await workbench().runCommand(paletteLabel('quantum.runWorkflowFile'));
		await workbench().page.locator('.quick-input-list .monaco-list-row', { hasText: 'approve.workflow.json' }).first().click({ timeout: 15_000 });
		await workbench().treeRow('publish', 'waiting for your decision').waitFor({ timeout: 30_000 });

		await workbench().runCommand(paletteLabel('quantum.showBoard'));
		const board = await workbench().frameWith('the board\'s Approve button (is dist/webview built?)', (f) => f.getByRole('button', { name: 'Approve', exact: true }));
		await workbench().documentationShot('pending-decision');
		await board.getByRole('button', { name: 'Approve', exact: true }).first().click();

		await workbench().waitForFile('approval/published.txt');
		await workbench().treeRow('approve', 'succeeded').waitFor({ timeout: 30_000 });
		await workbench().documentationShot('board');
	});

	it('Orchestrate Goal… in review mode: the plan opens in an editor, an edit to the file is what runs once Run is clicked, and the board shows the goal', async function () {
		// The review question is a notification: only the installed .vsix shows toasts (see workbench.ts).
		if (!workbench().showsToasts) this.skip();
		const page = workbench().page;
		await workbench().runCommand(paletteLabel('quantum.orchestrateGoal'));
		const input = page.locator('.quick-input-widget input');
		await input.fill('create review/hello.txt with the content "as planned"');
		await page.locator('.quick-input-list .monaco-list-row', { hasText: 'new goal' }).first().click({ timeout: 15_000 });
		await page.locator('.tabs-container .tab', { hasText: /create-review-hello-txt.*\.workflow\.json/ }).first().waitFor({ timeout: 60_000 });
		const toast = page.locator('.notifications-toasts .notification-toast', { hasText: /Review the plan for "create review\/hello\.txt/ }).first();
		await toast.waitFor({ timeout: 30_000 });
		// Edit the saved plan before running it: the file on disk is what runs.
		const plans = workbench().file('.quantum/plans');
		const plan = join(plans, readdirSync(plans).find((f) => f.endsWith('.workflow.json') && f.includes('create-review-hello'))!);
		writeFileSync(plan, readFileSync(plan, 'utf8').replace('"content": "as planned"', '"content": "edited before it ran"'));
		await toast.getByRole('button', { name: 'Run', exact: true }).click();
		await workbench().waitForFile('review/hello.txt');
		assert.equal(readFileSync(workbench().file('review/hello.txt'), 'utf8'), 'edited before it ran');
		await workbench().expectNotification(/Goal succeeded \(run \S+\)/, 30_000);
		await workbench().runCommand(paletteLabel('quantum.showBoard'));
		const board = await workbench().frameWith('the goal on the board', (f) => f.locator('.goal', { hasText: 'create review/hello.txt' }));
		const goal = board.locator('.goal', { hasText: 'create review/hello.txt' }).first();
		await goal.locator('.goal-state', { hasText: 'succeeded' }).waitFor({ timeout: 15_000 });
		assert.match((await goal.locator('.goal-links').textContent()) ?? '', /plan \.quantum\/plans\/.*create-review-hello.*run \S+ \(succeeded\)/);
		await workbench().documentationShot('goal');
	});
});
