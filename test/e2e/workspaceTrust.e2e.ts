import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { paletteLabel, Workbench } from './workbench';

describe('Quantum Orchestrator in an untrusted workspace', function () {
	let wb: Workbench;

	before(async function () {
		wb = await Workbench.open({ workspaceTrust: true });
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

	it('runs nothing and says why', async function () {
		// The web workbench opens an unknown folder in Restricted Mode (a dialog may ask first: don't trust).
		await wb.page.getByRole('button', { name: /don't trust/i }).click({ timeout: 3_000 }).catch(() => undefined);
		await wb.page.locator('.statusbar', { hasText: 'Restricted Mode' }).waitFor({ timeout: 15_000 });
		await wb.openFile('create-files.workflow.json');
		await wb.runCommand(paletteLabel('quantum.runCurrentFile'));
		await wb.expectNotification(/untrusted workspace/);
		assert.equal(existsSync(wb.file('out')), false);
	});
});
