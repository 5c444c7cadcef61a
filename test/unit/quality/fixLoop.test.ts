// The bounded fix loop: check fails → llm fix proposed → approved → re-check, through the real engine, a real check
// command and the real openai client against a scripted server on loopback.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine } from '../../../src/core/engine';
import type { EngineEvent } from '../../../src/core/engine/events';
import type { DecisionAnswer, DecisionRequest } from '../../../src/core/ports';
import { createOpenAiClient } from '../../../src/core/services/llm/client';
import { startScriptedOpenAi, type ScriptedOpenAi, type ScriptedReply } from '../../helpers/scriptedOpenAi';
import { tempDir } from '../../helpers/tmp';

// A checker printing compiler-style findings for every line holding BAD or UGLY.
const CHECK = `const fs = require('fs');
let bad = 0;
for (const file of ['src/a.js', 'src/b.js']) {
	fs.readFileSync(file, 'utf8').split('\\n').forEach((line, i) => {
		if (/BAD|UGLY/.test(line)) { console.log(file + ':' + (i + 1) + ':1: error: ' + line.trim() + ' is not allowed [no-bad]'); bad++; }
	});
}
process.exit(bad ? 1 : 0);
`;
const A = 'const x = "BAD";\nmodule.exports = x;\n';
const B = 'module.exports = 1;\n';

const lint = (fix: Record<string, unknown>) =>
	JSON.stringify({ name: 'lint and fix', instructions: [{ id: 'lint', type: 'quality', operation: 'lint', parameters: { command: 'node check.js', tool: 'checker', fix } }] });

const fixAnswer = (find: string, replace: string, path = 'src/a.js') => ({ json: { explanation: `replace ${find}`, edits: [{ path, find, replace }] } });

describe('quality fix loop (real engine, real checker, scripted model)', function () {
	this.timeout(60_000);
	let server: ScriptedOpenAi | undefined;
	afterEach(async () => {
		await server?.close();
		server = undefined;
	});

	async function setup(script: ScriptedReply[], answer: (r: DecisionRequest) => DecisionAnswer = () => ({ approve: true })) {
		server = await startScriptedOpenAi(script);
		const ws = tempDir();
		mkdirSync(join(ws, 'src'));
		writeFileSync(join(ws, 'check.js'), CHECK);
		writeFileSync(join(ws, 'src/a.js'), A);
		writeFileSync(join(ws, 'src/b.js'), B);
		const decisions: DecisionRequest[] = [];
		const engine = await createEngine({
			workspace: ws,
			llm: createOpenAiClient({ baseUrl: server.baseUrl, model: 'm', maxRetries: 0 }),
			prompter: { decide: async (r) => (decisions.push(r), answer(r)) },
		});
		const events: EngineEvent[] = [];
		engine.events.on((e) => events.push(e));
		return { ws, engine, events, decisions, run: (text: string) => engine.run(engine.parse(text, join(ws, 'wf.json'))) };
	}

	it('a failing check gets a fix proposal, approved, then passes the re-check; every attempt is a child step; rollback undoes the fix', async () => {
		const { ws, engine, events, decisions, run } = await setup([fixAnswer('"BAD"', '"GOOD"')]);
		const r = await run(lint({ attempts: 2 }));
		assert.equal(r.status, 'succeeded', r.message);
		assert.equal(readFileSync(join(ws, 'src/a.js'), 'utf8'), 'const x = "GOOD";\nmodule.exports = x;\n');
		assert.equal(decisions.length, 1);
		assert.equal(decisions[0].kind, 'proposal');
		assert.equal(decisions[0].stepId, 'lint.1');
		assert.deepEqual(decisions[0].changes?.map((c) => [c.path, c.before, c.after]), [['src/a.js', A, 'const x = "GOOD";\nmodule.exports = x;\n']]);
		const children = events.filter((e) => e.type === 'step-added').map((e) => (e.type === 'step-added' ? `${e.step.id} ${e.step.type}.${e.step.operation} ${e.summary.split(':')[0]}` : ''));
		assert.deepEqual(children, ['lint.1 llm.fix fix 1/2', 'lint.2 quality.lint re-check 1/2']);
		const prompt = server?.requests[0].messages.at(-1)?.content ?? '';
		assert.match(prompt, /src\/a\.js:1:1 error const x = "BAD"; is not allowed \(no-bad\)/);
		await engine.rollback(r.runId);
		assert.equal(readFileSync(join(ws, 'src/a.js'), 'utf8'), A);
	});

	it('stops after N attempts when the fixes do not make the check pass, saying so', async () => {
		const { ws, run } = await setup([fixAnswer('"BAD"', '"UGLY"'), fixAnswer('"UGLY"', '"BAD"')]);
		const r = await run(lint({ attempts: 2 }));
		assert.equal(r.status, 'failed');
		assert.match(r.message ?? '', /checker reported 1 error .* \(still failing after 2 fix attempts\)/);
		assert.equal(readFileSync(join(ws, 'src/a.js'), 'utf8'), A, 'the second fix put it back');
	});

	it('a rejected fix rejects the step and leaves the files alone', async () => {
		const { ws, run } = await setup([fixAnswer('"BAD"', '"GOOD"')], () => ({ approve: false, reason: 'not like that' }));
		const r = await run(lint({}));
		assert.equal(r.status, 'rejected');
		assert.equal(readFileSync(join(ws, 'src/a.js'), 'utf8'), A);
	});

	it('without an endpoint the check fails with its own message first, then why the loop stopped', async () => {
		const ws = tempDir();
		mkdirSync(join(ws, 'src'));
		writeFileSync(join(ws, 'check.js'), CHECK);
		writeFileSync(join(ws, 'src/a.js'), A);
		writeFileSync(join(ws, 'src/b.js'), B);
		const engine = await createEngine({ workspace: ws });
		const r = await engine.run(engine.parse(lint({}), join(ws, 'wf.json')));
		assert.equal(r.status, 'failed');
		assert.match(r.message ?? '', /^lint: checker reported 1 error .*; the fix loop stopped at fix 1\/2: .*no LLM endpoint is configured/);
	});
});
