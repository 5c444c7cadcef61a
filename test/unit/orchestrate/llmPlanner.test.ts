import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createEngine } from '../../../src/core/engine';
import { StepError } from '../../../src/core/errors';
import { operationCatalog } from '../../../src/core/orchestrate/llmPlanner';
import { orchestrate, type OrchestrationEvent } from '../../../src/core/orchestrate/session';
import { rejectAll } from '../../../src/core/ports';
import { createOpenAiClient } from '../../../src/core/services/llm/client';
import { lastUserText, startScriptedOpenAi, systemText, type ScriptedOpenAi } from '../../helpers/scriptedOpenAi';
import { nodeScript, projectWorkspace, registryWithAgents } from './helpers';

const analysis = { intent: 'create', complexity: { level: 'low', reasons: ['one file'] }, risks: [], successCriteria: ['hello.txt exists'] };
const badPlan = {
	name: 'hello',
	instructions: [
		{ id: 'a', type: 'file', operation: 'crate', parameters: { path: 'hello.txt', content: 'hi' }, dependencies: ['b'] },
		{ id: 'b', type: 'util', operation: 'echo', parameters: { value: 1 }, dependencies: ['a'] },
	],
};
const goodPlan = {
	name: 'hello',
	description: 'write hello.txt, then check it',
	instructions: [
		{ id: 'a', type: 'file', operation: 'create', parameters: { path: 'hello.txt', content: 'hi' } },
		{ id: 'b', type: 'exec', operation: 'run', parameters: { command: 'npm test' }, dependencies: ['a'] },
	],
};

describe('orchestrate: the LLM planner (scripted OpenAI-protocol server, real openai client)', function () {
	this.timeout(30_000);
	let server: ScriptedOpenAi | undefined;
	afterEach(async () => {
		await server?.close();
		server = undefined;
	});

	it('a plan with an unknown operation and a cycle goes back with the validator\'s messages; the corrected one is saved', async () => {
		server = await startScriptedOpenAi([{ json: analysis }, { json: badPlan }, { json: goodPlan }]);
		const ws = projectWorkspace({ test: nodeScript('ok') });
		const engine = await createEngine({ workspace: ws, registry: registryWithAgents() });
		const llm = createOpenAiClient({ baseUrl: server.baseUrl, model: 'default', roleModels: { planner: 'planner-model' } });
		const agents = [{ name: 'tester', description: 'writes tests', capabilities: ['test'] }];
		const events: OrchestrationEvent[] = [];
		const result = await orchestrate('Create hello.txt saying hi', { engine, llm, agents, prompter: rejectAll, review: async () => false, onEvent: (e) => events.push(e) });

		assert.equal(result.outcome, 'planned');
		assert.deepEqual(events.map((e) => e.state), ['analysing', 'planning', 'review', 'completing']);
		assert.equal(server.requests.length, 3);
		assert.ok(server.requests.every((r) => r.model === 'planner-model'));
		const ask = server.requests[1];
		assert.match(systemText(ask), /You are the planner of Quantum Orchestrator/);
		const prompt = lastUserText(ask);
		assert.match(prompt, /Goal: Create hello\.txt saying hi/);
		assert.match(prompt, /- file\.create parameters: \{"type":"object","properties":\{"path":/);
		assert.match(prompt, /- agent\.task parameters: .*"capabilities"/);
		assert.match(prompt, /- tester \[test\]: writes tests/);
		assert.match(prompt, /"checks": \{\s*"test": "npm test"/);
		const sentBack = lastUserText(server.requests[2]);
		assert.match(sentBack, /That plan is invalid: the workflow validator found 2 problems/);
		assert.match(sentBack, /instructions\[0\]\.operation: unknown operation 'crate' for type 'file' \(did you mean 'create'\?\)/);
		assert.match(sentBack, /dependency cycle: a → b → a|dependency cycle: b → a → b/);

		const [saved] = result.plans;
		assert.equal(saved.meta.planner, 'llm');
		assert.equal(saved.meta.model, 'planner-model');
		assert.equal(saved.meta.analysis.source, 'llm');
		const workflow = await engine.load(saved.file);
		assert.deepEqual(workflow.instructions.map((i) => i.id), ['a', 'b']);
		assert.match(readFileSync(saved.file, 'utf8'), /"description": "write hello\.txt, then check it\\nPlanned by planner-model for the goal: Create hello\.txt saying hi"/);
	});

	it('no valid plan after the tries: the session ends failed and says what the last answer got wrong', async () => {
		server = await startScriptedOpenAi([{ json: analysis }, { json: badPlan, repeat: true }]);
		const engine = await createEngine({ workspace: projectWorkspace({}) });
		const llm = createOpenAiClient({ baseUrl: server.baseUrl, model: 'm' });
		const events: OrchestrationEvent[] = [];
		await assert.rejects(
			orchestrate('Create hello.txt', { engine, llm, prompter: rejectAll, onEvent: (e) => events.push(e) }),
			(err: unknown) => StepError.is(err) && /no valid plan in 3 tries; the last one: the workflow validator found 2 problems/.test(err.message),
		);
		assert.deepEqual(events.map((e) => e.state), ['analysing', 'planning', 'error', 'completing']);
		assert.equal(events.at(-1)?.outcome, 'failed');
	});

	it('the catalog lists every registered operation with its parameters as JSON Schema', async () => {
		const engine = await createEngine({ workspace: projectWorkspace({}) });
		const catalog = operationCatalog(engine.registry);
		for (const op of ['exec.run', 'file.modify', 'git.commit', 'util.echo', 'llm.generate', 'quality.test', 'agent.task']) {
			assert.match(catalog, new RegExp(`- ${op.replace('.', '\\.')} parameters: \\{`));
		}
	});
});
