import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_ESCALATION_POLICY } from '../../src/core/policy/escalation';
import { COMMAND_IDS, INTERNAL_COMMANDS, VIEW_IDS } from '../../src/vscode/commandIds';

const root = join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const contributes = pkg.contributes;

describe('package.json ⇄ the extension', () => {
	it('declares exactly the commands the extension registers, each with the category', () => {
		const declared = contributes.commands.map((c: { command: string }) => c.command).sort();
		assert.deepEqual(declared, [...COMMAND_IDS].sort());
		for (const c of contributes.commands) assert.equal(c.category, 'Quantum Orchestrator', c.command);
	});

	it('menus name only declared commands, and internal commands are hidden from the palette', () => {
		const ids = new Set<string>(COMMAND_IDS);
		for (const [menu, entries] of Object.entries(contributes.menus) as [string, { command: string; when?: string }[]][]) {
			for (const e of entries) assert.ok(ids.has(e.command), `${menu} names unknown ${e.command}`);
		}
		const palette = new Map(contributes.menus.commandPalette.map((e: { command: string; when?: string }) => [e.command, e.when]));
		for (const id of INTERNAL_COMMANDS) assert.equal(palette.get(id), 'false', `${id} must be hidden`);
	});

	it('declares the views, the untrusted-workspace capability, no * activation, and schemas that exist', () => {
		const views = contributes.views[VIEW_IDS.container].map((v: { id: string }) => v.id);
		assert.deepEqual(views, [VIEW_IDS.operations, VIEW_IDS.board]);
		assert.equal(pkg.capabilities.untrustedWorkspaces.supported, 'limited');
		assert.ok(!pkg.activationEvents.includes('*'));
		for (const j of contributes.jsonValidation) assert.ok(existsSync(join(root, j.url)), j.url);
		for (const [key, prop] of Object.entries(contributes.configuration.properties) as [string, { markdownDescription?: string }][]) {
			assert.ok(prop.markdownDescription, `${key} has a markdownDescription`);
		}
	});

	it('engines.vscode accepts 1.139 and is not older than @types/vscode', () => {
		const engine = pkg.engines.vscode as string;
		const types = pkg.devDependencies['@types/vscode'] as string;
		const [maj, min] = engine.replace('^', '').split('.').map(Number);
		assert.equal(maj, 1);
		assert.ok(min <= 139, engine);
		assert.ok(Number(types.split('.')[1]) <= min, `@types/vscode ${types} newer than engines ${engine}`);
	});

	it('the escalation settings default to the core policy', () => {
		const props = contributes.configuration.properties;
		assert.deepEqual(props['quantum.escalation.riskyCommands'].default, DEFAULT_ESCALATION_POLICY.riskyCommands);
		assert.equal(props['quantum.escalation.confirmDeletes'].default, DEFAULT_ESCALATION_POLICY.confirmDeletes);
		for (const r of DEFAULT_ESCALATION_POLICY.riskyCommands) new RegExp(r);
	});

	it('the background-service settings are declared with their defaults, and no setting is the parent of another', () => {
		const props = contributes.configuration.properties as Record<string, { default?: unknown }>;
		assert.equal(props['quantum.api.enabled'].default, false);
		assert.equal(props['quantum.api.port'].default, 0);
		assert.equal(props['quantum.inbox.enabled'].default, false);
		assert.equal(props['quantum.schedules.enabled'].default, true);
		assert.deepEqual(props['quantum.schedules.list'].default, []);
		assert.equal(props['quantum.triggers.waitForDecisions'].default, false);
		// VS Code cannot hold `a.b` as a value and `a.b.c` under it (why the schedules list is `quantum.schedules.list`).
		const keys = Object.keys(props);
		for (const k of keys) assert.ok(!keys.some((o) => o.startsWith(`${k}.`)), `${k} is both a setting and the parent of another`);
	});
});
