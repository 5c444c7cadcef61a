import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine, type Engine } from '../../../src/core/engine';
import type { EngineEvent } from '../../../src/core/engine/events';
import type { DecisionAnswer, DecisionRequest } from '../../../src/core/ports';
import { createEscalationCheck, DEFAULT_ESCALATION_POLICY } from '../../../src/core/policy/escalation';
import { createOpenAiClient } from '../../../src/core/services/llm/client';
import { startScriptedOpenAi, type ScriptedOpenAi, type ScriptedReply } from '../../helpers/scriptedOpenAi';
import { tempDir } from '../../helpers/tmp';

const SIGNUP = `export function signup(email, password) {\n\treturn { email, password };\n}\n`;

function task(parameters: Record<string, unknown>, extra: Record<string, unknown> = {}) {
	return JSON.stringify({ name: 'agent task', instructions: [{ id: 'work', type: 'agent', operation: 'task', parameters, ...extra }] });
}

describe('agent steps (real engine, real tool steps, scripted OpenAI server on loopback)', function () {
	this.timeout(60_000);
	let server: ScriptedOpenAi | undefined;
	afterEach(async () => {
		await server?.close();
		server = undefined;
	});

	async function setup(script: ScriptedReply[], answer?: (r: DecisionRequest) => DecisionAnswer, settings?: object) {
		server = await startScriptedOpenAi(script);
		const ws = tempDir();
		mkdirSync(join(ws, 'src'));
		writeFileSync(join(ws, 'src/signup.js'), SIGNUP);
		const decisions: DecisionRequest[] = [];
		const engine: Engine = await createEngine({
			workspace: ws,
			llm: createOpenAiClient({ baseUrl: server.baseUrl, model: 'gpt-4o-mini', maxRetries: 0 }),
			escalation: createEscalationCheck(DEFAULT_ESCALATION_POLICY),
			prompter: { decide: async (r) => (decisions.push(r), answer?.(r) ?? { approve: true }) },
			...settings,
		});
		const events: EngineEvent[] = [];
		engine.events.on((e) => events.push(e));
		return { ws, engine, events, decisions, run: (text: string) => engine.run(engine.parse(text, join(ws, 'wf.json'))) };
	}

	it('the allocated coder edits through tool steps that are journaled, shown under the step, and rolled back byte for byte', async () => {
		const { ws, engine, events, run } = await setup([
			{ toolCalls: [{ name: 'read_file', arguments: { path: 'src/signup.js' } }, { name: 'search', arguments: { query: 'signup' } }] },
			{
				toolCalls: [
					{ name: 'modify_file', arguments: { path: 'src/signup.js', find: '\treturn { email, password };', replace: "\tif (!email.includes('@')) throw new Error('invalid email');\n\treturn { email, password };" } },
					{ name: 'write_file', arguments: { path: 'test/signup.test.js', content: "import { signup } from '../src/signup.js';\n" } },
				],
			},
			{ toolCalls: [{ name: 'run_command', arguments: { command: 'node -e "console.log(42)"' } }] },
			{ text: 'Added email validation and a test file.' },
		]);
		const r = await run(task({ prompt: 'Add input validation to signup and a test', capabilities: ['code'], files: ['src/signup.js'] }));
		assert.equal(r.status, 'succeeded', r.message);
		assert.match(readFileSync(join(ws, 'src/signup.js'), 'utf8'), /invalid email/);
		assert.ok(existsSync(join(ws, 'test/signup.test.js')));

		const allocation = events.find((e) => e.type === 'allocation');
		assert.ok(allocation?.type === 'allocation');
		assert.equal(allocation.assignment.agent, 'coder');
		assert.match(allocation.assignment.reason, /coder: capability 1\.00 ×0\.4 \+ load 1\.00 ×0\.3 \+ performance/);
		const added = events.filter((e) => e.type === 'step-added');
		assert.deepEqual(
			added.map((e) => e.type === 'step-added' && [e.step.id, `${e.step.type}.${e.step.operation}`, e.parent, e.agent]),
			[
				['work.1', 'file.read', 'work', 'coder'],
				['work.2', 'file.search', 'work', 'coder'],
				['work.3', 'file.modify', 'work', 'coder'],
				['work.4', 'file.create', 'work', 'coder'],
				['work.5', 'exec.run', 'work', 'coder'],
			],
		);
		assert.ok(events.some((e) => e.type === 'step' && e.id === 'work.5' && e.state === 'succeeded'));
		// The model saw each tool's result, keyed by the call id.
		const third = server?.requests[2];
		const toolMessages = third?.messages.filter((m) => m.role === 'tool') ?? [];
		assert.match(toolMessages[0].content ?? '', /export function signup/);
		assert.match(toolMessages[1].content ?? '', /"file": "src\/signup.js"/);
		assert.deepEqual(server?.requests[0].tools?.map((t) => t.function.name), ['read_file', 'write_file', 'modify_file', 'list_files', 'search', 'run_command', 'git']);
		assert.match(server?.requests[0].messages[1].content ?? '', /File src\/signup.js:\n```\nexport function signup/);

		const output = (r as unknown as { usage?: { agents?: Record<string, unknown> } }).usage;
		assert.ok(output?.agents?.coder, 'tokens are counted for the agent');
		const log = (await engine.runLog(r.runId)).join('\n');
		assert.match(log, /work: given to agent coder/);
		assert.match(log, /work\.3 succeeded/);

		await engine.rollback(r.runId);
		assert.equal(readFileSync(join(ws, 'src/signup.js'), 'utf8'), SIGNUP);
		assert.equal(existsSync(join(ws, 'test/signup.test.js')), false);
	});

	it('a risky tool call waits for a decision; a rejection goes back to the model, which carries on', async () => {
		const { ws, decisions, run } = await setup(
			[{ toolCalls: [{ name: 'run_command', arguments: { command: 'rm -rf src' } }] }, { text: 'I will not delete anything then.' }],
			() => ({ approve: false, reason: "keep my sources" }),
		);
		const r = await run(task({ prompt: 'Clean up', capabilities: ['code'] }));
		assert.equal(r.status, 'succeeded', r.message);
		assert.equal(decisions.length, 1);
		assert.equal(decisions[0].stepId, 'work.1');
		assert.equal(decisions[0].type, 'exec');
		assert.match(decisions[0].rule ?? '', /^exec:risky:/);
		assert.ok(existsSync(join(ws, 'src/signup.js')));
		const tool = server?.requests[1].messages.find((m) => m.role === 'tool');
		assert.match(tool?.content ?? '', /^error: rejected by user: keep my sources/);
	});

	it('an agent cannot use a tool it is not allowed: the model is told which it has', async () => {
		const { ws, run } = await setup([{ toolCalls: [{ name: 'write_file', arguments: { path: 'x.txt', content: 'x' } }] }, { text: 'Reviewed.' }]);
		const r = await run(task({ prompt: 'Review signup', capabilities: ['review'] }));
		assert.equal(r.status, 'succeeded', r.message);
		assert.equal(existsSync(join(ws, 'x.txt')), false);
		const tool = server?.requests[1].messages.find((m) => m.role === 'tool');
		assert.match(tool?.content ?? '', /error: the tool "write_file" is not available to this agent; use one of: read_file, list_files, search/);
	});

	it('a command agent defined in .quantum/agents runs a real command with the task', async () => {
		const { ws, run, events } = await setup([]);
		mkdirSync(join(ws, '.quantum/agents'), { recursive: true });
		writeFileSync(
			join(ws, '.quantum/agents/echoer.md'),
			['---', 'name: echoer', 'description: prints the task', 'kind: command', 'capabilities: [docs]', 'command: ["node", "-e", "console.log(\'task: \' + process.argv[1])", "{{prompt}}"]', '---', 'Echoes.', ''].join('\n'),
		);
		const r = await run(task({ prompt: "say 'hi' && rm -rf /", capabilities: ['docs'] }));
		assert.equal(r.status, 'succeeded', r.message);
		const child = events.find((e) => e.type === 'step-added');
		assert.equal(child?.type === 'step-added' && child.step.type, 'exec');
		const out = events.filter((e) => e.type === 'step-output').map((e) => (e.type === 'step-output' ? e.text : '')).join('');
		assert.match(out, /task: say 'hi' && rm -rf \//, 'the prompt reached the command as one argument, never a shell');
	});

	it('a manual assignment to an unknown agent fails saying which agents exist', async () => {
		const { run } = await setup([]);
		const r = await run(task({ prompt: 'x', agent: 'nobody' }));
		assert.equal(r.status, 'failed');
		assert.match(r.message ?? '', /nobody.*(architect|coder)/s);
	});

	it('an agent that does not finish within max_turns fails clearly, and its edits are undone', async () => {
		const { ws, run } = await setup([{ toolCalls: [{ name: 'modify_file', arguments: { path: 'src/signup.js', append: '// more\n' } }], repeat: true }]);
		const r = await run(task({ prompt: 'loop', agent: 'coder', max_turns: 3 }));
		assert.equal(r.status, 'failed');
		assert.match(r.message ?? '', /agent coder did not finish within 3 turns/);
		assert.equal(readFileSync(join(ws, 'src/signup.js'), 'utf8'), SIGNUP, 'the failed attempt was compensated');
	});

	it("what an agent's tasks took is learned, persisted in .quantum/learning.json, and feeds the next plan's critical path", async () => {
		const { ws, engine, run } = await setup([{ text: 'Nothing to do.', delayMs: 30 }]);
		const r = await run(task({ prompt: 'look around', agent: 'reviewer' }));
		assert.equal(r.status, 'succeeded', r.message);
		const stats = engine.learning.stats('reviewer', 'agent');
		assert.equal(stats?.tasks, 1);
		assert.ok(existsSync(join(ws, '.quantum/learning.json')));
		const fresh = await createEngine({ workspace: ws });
		assert.equal(fresh.learning.stats('reviewer')?.tasks, 1, 'read back by a new engine');
		const other = fresh.parse(JSON.stringify({ name: 'never run', instructions: [{ id: 'a', type: 'agent', operation: 'task', parameters: { prompt: 'x', agent: 'reviewer' } }, { id: 'b', type: 'util', operation: 'echo', parameters: { value: 1 } }] }), join(ws, 'n.json'));
		const plan = await fresh.plan(other);
		assert.ok(plan.graph.remaining[0] >= 30, `the agent step is estimated from learning (${plan.graph.remaining[0]} ms)`);
	});

	it('a plan says before running when an agent step would go to an LLM agent and no endpoint is configured', async () => {
		const ws = tempDir();
		const offline = await createEngine({ workspace: ws });
		const wf = offline.parse(task({ prompt: 'x', capabilities: ['code'] }), join(ws, 'wf.json'));
		const plan = await offline.plan(wf);
		assert.match(offline.planLookups().noteOf?.(plan.steps[0]) ?? '', /would go to coder, an LLM agent, but no LLM endpoint is configured/);
		const unknown = await offline.plan(offline.parse(task({ prompt: 'x', agent: 'nobody' }), join(ws, 'wf2.json')));
		assert.match(offline.planLookups().noteOf?.(unknown.steps[0]) ?? '', /nobody/);
	});

	it('a per-agent budget stops the run when the agent would pass it', async () => {
		const { run } = await setup([{ toolCalls: [{ name: 'read_file', arguments: { path: 'src/signup.js' } }], repeat: true, usage: { prompt_tokens: 500, completion_tokens: 100 } }]);
		const r = await run(JSON.stringify({ name: 'b', settings: { agent_budgets: { coder: { tokens: { stop: 2000 } } } }, instructions: [{ id: 'work', type: 'agent', operation: 'task', parameters: { prompt: 'read forever', agent: 'coder' } }] }));
		assert.equal(r.status, 'failed');
		assert.match(r.message ?? '', /budget: agent coder: token use would reach/);
	});
});
