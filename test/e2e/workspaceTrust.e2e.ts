import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { paletteLabel, useWorkbench } from './workbench';

describe('Quantum Orchestrator in an untrusted workspace', function () {
	const workbench = useWorkbench({ workspaceTrust: true });

	it('runs nothing and says why', async function () {
		// The web workbench opens an unknown folder in Restricted Mode (a dialog may ask first: don't trust).
		await workbench().page.getByRole('button', { name: /don't trust/i }).click({ timeout: 3_000 }).catch(() => undefined);
		await workbench().page.locator('.statusbar', { hasText: 'Restricted Mode' }).waitFor({ timeout: 15_000 });
		await workbench().openFile('create-files.workflow.json');
		await workbench().runCommand(paletteLabel('quantum.runCurrentFile'));
		await workbench().expectNotification(/untrusted workspace/);
		assert.equal(existsSync(workbench().file('out')), false);
	});
});
