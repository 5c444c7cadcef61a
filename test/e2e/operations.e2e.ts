import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { paletteLabel, Workbench } from './workbench';

describe('Quantum Orchestrator in the VS Code UI', function () {
	let wb: Workbench;

	before(async function () {
		wb = await Workbench.open();
	});

	afterEach(async function () {
		if (this.currentTest?.state === 'failed' && wb) {
			const shot = await wb.screenshotOnFailure(this.currentTest.title);
			if (shot) console.log(`      screenshot: ${shot}`);
		}
	});

	after(async function () {
		await wb?.close();
	});

	it('Run Current File from the palette runs the open workflow and reports success', async function () {
		await wb.openFile('create-files.workflow.json');
		await wb.runCommand(paletteLabel('quantum.runCurrentFile'));
		await wb.waitForFile('out/beta.txt');
		assert.equal(readFileSync(wb.file('out/alpha.txt'), 'utf8'), 'alpha\n');
		await wb.expectNotification(/create-files succeeded \(run \S+\)/);
	});

	it('the Operations tree in the Quantum Orchestrator container shows the run succeeded', async function () {
		await wb.showContainer();
		const run = wb.treeRow('create-files', 'succeeded');
		await run.waitFor({ timeout: 15_000 });
		await wb.expand(run);
		for (const step of ['make_dir', 'alpha', 'beta', 'append_notes', 'done']) await wb.treeRow(step, 'ms').waitFor({ timeout: 5_000 });
		await wb.documentationShot('operations-tree');
	});

	it('a step waiting for approval is approved from the board and the run succeeds', async function () {
		await wb.showContainer();
		await wb.runCommand(paletteLabel('quantum.runWorkflowFile'));
		await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: 'approve.workflow.json' }).first().click({ timeout: 15_000 });
		await wb.treeRow('publish', 'waiting for your decision').waitFor({ timeout: 30_000 });

		await wb.runCommand(paletteLabel('quantum.showBoard'));
		const board = await wb.frameWith('the board\'s Approve button (is dist/webview built?)', (f) => f.getByRole('button', { name: 'Approve', exact: true }));
		await wb.documentationShot('pending-decision');
		await board.getByRole('button', { name: 'Approve', exact: true }).first().click();

		await wb.waitForFile('approval/published.txt');
		await wb.treeRow('approve', 'succeeded').waitFor({ timeout: 30_000 });
		await wb.documentationShot('board');
	});
});
