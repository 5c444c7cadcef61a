// `qo agents` as a real child process: the built-ins and a workspace's agent files, their health and problems.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../helpers/tmp';
import { runQo } from '../../helpers/qo';


const qo = (ws: string, ...args: string[]) => runQo(ws, args);

describe('qo agents', function () {
	this.timeout(60_000);

	it('lists the built-ins and workspace agents with health; a workspace coder overrides the built-in one', () => {
		const ws = tempDir();
		mkdirSync(join(ws, '.quantum/agents'), { recursive: true });
		writeFileSync(join(ws, '.quantum/agents/coder.md'), '---\nname: coder\ndescription: our coder\ncapabilities: [code]\ntools: [read_file]\n---\nBe careful.\n');
		writeFileSync(join(ws, '.quantum/agents/lint-bot.md'), '---\nname: lint-bot\nkind: command\ncapabilities: [lint]\ncommand: ["no-such-tool-xyz", "{{prompt}}"]\n---\n');
		const r = qo(ws, 'agents');
		assert.equal(r.status, 0, r.stderr);
		assert.match(r.stdout, /^! coder {2}\(llm, \.quantum\/agents\/coder\.md, overrides the built-in one\)$/m);
		assert.match(r.stdout, /problem: no LLM endpoint is configured/);
		assert.match(r.stdout, /lint-bot {2}\(command, \.quantum\/agents\/lint-bot\.md\)[\s\S]*problem: the command 'no-such-tool-xyz' was not found on PATH/);
		assert.match(r.stdout, /^ {2}architect|^! architect/m);
		const json = JSON.parse(qo(ws, 'agents', '--json').stdout) as { name: string; source: string }[];
		assert.deepEqual(json.map((a) => a.name).sort(), ['architect', 'coder', 'lint-bot', 'reviewer', 'tester']);
		const show = qo(ws, 'agents', 'show', 'coder');
		assert.match(show.stdout, /Be careful\./);
	});

	it('check names each bad file with its line and exits 2', () => {
		const ws = tempDir();
		mkdirSync(join(ws, '.quantum/agents'), { recursive: true });
		writeFileSync(join(ws, '.quantum/agents/bad.md'), '---\nname: bad\ncapabilities: []\ntools: [telepathy]\n---\n');
		const r = qo(ws, 'agents', 'check');
		assert.equal(r.status, 2);
		assert.match(r.stderr, /bad\.md:3:\d+.*capabilit/);
		assert.match(r.stderr, /bad\.md:4:\d+.*telepathy|tools/);
		assert.equal(qo(ws, 'agents', 'show', 'nobody').status, 1);
	});
});
