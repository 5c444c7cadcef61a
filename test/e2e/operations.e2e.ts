import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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
});
