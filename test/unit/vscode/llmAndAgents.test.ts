import assert from 'node:assert/strict';
import { AgentRegistry } from '../../../src/core/agents/registry';
import { LearningStore } from '../../../src/core/agents/learning';
import { parseAgentFile } from '../../../src/core/agents/definition';
import type { DecisionRequest } from '../../../src/core/ports';
import { agentInfo, agentNameProblem, agentRow, agentTemplate, invalidAgentRow } from '../../../src/vscode/model/agentsView';
import { DecisionQueue } from '../../../src/vscode/model/decisionQueue';
import { LearnedRules, type SuggestionChoice } from '../../../src/vscode/model/learnedRules';
import { describeLlm, resolveLlm, type LlmSettingValues } from '../../../src/vscode/model/llmConfig';
import { tempDir } from '../../helpers/tmp';

const empty: LlmSettingValues = { baseUrl: '', model: '', roleModels: {}, prices: {}, timeoutMs: 120_000, maxRetries: 2 };

describe('the extension’s LLM settings', () => {
	it('settings win over the environment; the key comes from secret storage first, and is never in the description', () => {
		const env = { QO_LLM_BASE_URL: 'http://env.example/v1', QO_LLM_MODEL: 'env-model', OPENAI_API_KEY: 'sk-env-key', QO_LLM_ROLE_MODELS: 'planner=env-planner' };
		const r = resolveLlm({ ...empty, baseUrl: 'http://127.0.0.1:9/v1', model: 'set-model', roleModels: { coder: 'coder-model' }, timeoutMs: 5000, maxRetries: 0 }, 'sk-secret-key', env);
		assert.deepEqual(r.settings, {
			baseUrl: 'http://127.0.0.1:9/v1',
			model: 'set-model',
			roleModels: { planner: 'env-planner', coder: 'coder-model' },
			timeoutMs: 5000,
			maxRetries: 0,
			apiKey: 'sk-secret-key',
		});
		assert.equal(r.endpointFrom, 'settings');
		assert.equal(r.keyFrom, 'secret storage');
		const line = describeLlm(r);
		assert.match(line, /http:\/\/127\.0\.0\.1:9\/v1 \(from the settings\), model set-model, roles planner=env-planner, coder=coder-model, key from secret storage/);
		assert.doesNotMatch(line, /sk-/);
	});

	it('with empty settings it falls back to what qo reads: QO_* or OPENAI_* variables', () => {
		const r = resolveLlm(empty, undefined, { OPENAI_BASE_URL: 'https://api.example/v1', OPENAI_API_KEY: 'sk-env' });
		assert.equal(r.settings?.baseUrl, 'https://api.example/v1');
		assert.equal(r.settings?.model, 'gpt-4o-mini');
		assert.equal(r.settings?.apiKey, 'sk-env');
		assert.deepEqual([r.endpointFrom, r.keyFrom], ['environment', 'environment']);
	});

	it('no endpoint anywhere is no client (llm steps say how to configure one; goals are planned offline)', () => {
		const r = resolveLlm(empty, 'sk-key-without-endpoint', {});
		assert.equal(r.settings, undefined);
		assert.match(describeLlm(r), /no LLM endpoint is configured/);
		assert.equal(resolveLlm({ ...empty, baseUrl: 'localhost:11434' }, undefined, {}).settings, undefined, 'not an http(s) URL');
	});

	it('prices: the built-in list, then QO_LLM_PRICES, then the setting; bad entries are reported, not fatal', () => {
		const r = resolveLlm({ ...empty, prices: { mine: { input: 1, output: 2 }, 'gpt-4o': { input: 9, output: 9 }, broken: { input: 'x' } } }, undefined, { QO_LLM_PRICES: '{"env-model": {"input": 0.5, "output": 1}}' });
		assert.deepEqual(r.prices.mine, { input: 1, output: 2 });
		assert.deepEqual(r.prices['gpt-4o'], { input: 9, output: 9 });
		assert.deepEqual(r.prices['env-model'], { input: 0.5, output: 1 });
		assert.deepEqual(r.prices['gpt-4o-mini'], { input: 0.15, output: 0.6 });
		assert.deepEqual(r.problems, ['quantum.llm.prices.broken: expected {"input": number, "output": number}']);
	});
});

describe('learned decisions', () => {
	const request = (id: string, rule?: string): DecisionRequest => ({ id, runId: 'r', stepId: 's', kind: 'approval', reason: 'x', summary: 'y', type: 'file', operation: 'delete', parameters: {}, ...(rule ? { rule } : {}) });

	async function setup(choice: SuggestionChoice) {
		const store = LearningStore.empty(tempDir());
		const allowed = new Set<string>();
		const asked: string[] = [];
		const rules = new LearnedRules({
			learningFor: async () => store,
			isAllowed: (rule) => allowed.has(rule),
			allow: async (rule) => void allowed.add(rule),
			ask: async (s) => {
				asked.push(s.message);
				return choice;
			},
			warn: (m) => assert.fail(m),
		});
		return { store, allowed, asked, rules };
	}

	it('three identical approvals of a rule offer "always allow"; yes adds it to the always-allowed rules', async () => {
		const { store, allowed, asked, rules } = await setup('allow');
		assert.equal(await rules.answered(request('1', 'file:delete'), true), 'recorded');
		assert.equal(await rules.answered(request('2', 'file:delete'), true), 'recorded');
		assert.deepEqual(asked, []);
		assert.deepEqual([...allowed], [], 'nothing is applied silently');
		assert.equal(await rules.answered(request('3', 'file:delete'), true), 'allowed');
		assert.deepEqual(asked, ['You approved "every file deletion or move" 3 times in a row: always allow it?']);
		assert.deepEqual([...allowed], ['file:delete']);
		assert.deepEqual(store.suggestions(), [], 'the answers are forgotten once the rule is a setting');
		assert.equal(store.changed, false, 'saved');
	});

	it('"Don\'t ask again" dismisses the suggestion until the answer changes; decisions without a rule are not learned', async () => {
		const { store, allowed, asked, rules } = await setup('dismiss');
		for (const id of ['1', '2', '3']) await rules.answered(request(id, 'exec:risky:rm'), true);
		assert.equal(asked.length, 1);
		assert.deepEqual([...allowed], []);
		assert.equal(await rules.answered(request('4', 'exec:risky:rm'), true), 'recorded');
		assert.equal(asked.length, 1, 'not asked again');
		assert.equal(await rules.answered(request('5'), true), undefined);
		assert.equal(store.stats('x'), undefined);
	});

	it('three rejections are recorded but offer nothing (there is no always-reject list to add to)', async () => {
		const { asked, rules } = await setup('allow');
		for (const id of ['1', '2', '3']) await rules.answered(request(id, 'git:push'), false);
		assert.deepEqual(asked, []);
	});

	it('the decision queue tells who answered what, but not the decisions an always-allow swept along', async () => {
		const answered: [string, boolean][] = [];
		const queue = new DecisionQueue({ onAnswered: (r, reply) => answered.push([r.id, reply.approve]), onAlwaysAllow: () => undefined });
		const signal = new AbortController().signal;
		const a = queue.decide(request('a', 'file:delete'), signal);
		const b = queue.decide(request('b', 'file:delete'), signal);
		await queue.answer(['a'], { approve: true, alwaysAllow: true });
		await Promise.all([a, b]);
		assert.deepEqual(answered, [['a', true]]);
	});
});

describe('agents as Show Agents lists them', () => {
	it('every agent with kind, capabilities, source, health problems, workload and metrics', async () => {
		let now = 0;
		const registry = new AgentRegistry({ clock: { now: () => now } });
		const lease = registry.acquire('coder')!;
		now += 2000;
		lease.release({ ok: true, tokens: { input: 1000, output: 500 } });
		registry.recordOutcome('coder', { ok: false, durationMs: 10 });
		const coder = registry.list().find((e) => e.definition.name === 'coder')!;
		const health = await registry.health('coder', { llmConfigured: false });
		const row = agentRow(coder, health, registry.workload('coder'), registry.metrics('coder'));
		assert.equal(row.label, '$(warning) coder');
		assert.match(row.description, /^llm · code, .* · built-in$/);
		assert.match(row.detail, /no LLM endpoint is configured/);
		assert.match(row.detail, /0\/2 running · 2 tasks, 50% succeeded, mean 2\.00 s, 1\.5k tokens/);
		const ok = agentRow(coder, await registry.health('coder', { llmConfigured: true }), registry.workload('coder'), registry.metrics('coder'));
		assert.equal(ok.label, '$(pass) coder');
		assert.equal(agentInfo(coder).source, 'builtin');
		assert.deepEqual(agentInfo(coder).tools?.includes('write_file'), true);
	});

	it('a workspace agent points at its file; an invalid file is a row of its own with what is wrong', () => {
		const file = '/ws/.quantum/agents/docs.md';
		const parsed = parseAgentFile(agentTemplate('docs'), file);
		assert.deepEqual(parsed.problems, [], 'the template is a valid agent as it is');
		const registry = new AgentRegistry();
		registry.setWorkspaceAgents({ dir: '/ws/.quantum/agents', agents: [parsed.agent!], problems: [], invalid: [] });
		const entry = registry.list().find((e) => e.definition.name === 'docs')!;
		const row = agentRow(entry, { agent: 'docs', ok: true, problems: [], file }, registry.workload('docs'), registry.metrics('docs'));
		assert.equal(row.file, file);
		assert.match(row.description, /workspace/);
		const bad = invalidAgentRow({ agent: 'broken', ok: false, problems: ['invalid definition: line 3: capabilities: list at least one capability'], file: '/ws/.quantum/agents/broken.md' });
		assert.equal(bad.label, '$(error) broken');
		assert.equal(bad.file, '/ws/.quantum/agents/broken.md');
	});

	it('a new agent’s name must be a valid agent name not taken by another file', () => {
		assert.equal(agentNameProblem('docs-writer', []), undefined);
		assert.match(agentNameProblem('has space', []) ?? '', /letters, digits/);
		assert.match(agentNameProblem('coder', ['coder']) ?? '', /already exists/);
	});
});
