import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createEngine } from '../../../src/core/engine';
import { WorkflowError } from '../../../src/core/errors';
import { BudgetLedger } from '../../../src/core/engine/budget';
import type { EngineEvent } from '../../../src/core/engine/events';
import type { DecisionRequest } from '../../../src/core/ports';
import { createOpenAiClient } from '../../../src/core/services/llm/client';
import { costOf } from '../../../src/core/services/llm/pricing';
import { startScriptedOpenAi, type ScriptedOpenAi } from '../../helpers/scriptedOpenAi';
import { tempDir } from '../../helpers/tmp';

const gen = (id: string, extra: Record<string, unknown> = {}) => ({ id, type: 'llm', operation: 'generate', parameters: { prompt: `say ${id}`, max_tokens: 50 }, ...extra });
const usage = { prompt_tokens: 40, completion_tokens: 40 };

describe('budgets: tokens, cost and wall time, per run, step and agent (real engine, scripted OpenAI server)', function () {
	this.timeout(30_000);
	let server: ScriptedOpenAi | undefined;
	afterEach(async () => {
		await server?.close();
		server = undefined;
	});

	async function setup(prompter?: (r: DecisionRequest) => { approve: boolean; reason?: string }) {
		server = await startScriptedOpenAi([{ text: 'ok', usage, repeat: true }]);
		const ws = tempDir();
		const decisions: DecisionRequest[] = [];
		const engine = await createEngine({
			workspace: ws,
			llm: createOpenAiClient({ baseUrl: server.baseUrl, model: 'gpt-4o-mini' }),
			prompter: {
				decide: async (r) => {
					decisions.push(r);
					return prompter?.(r) ?? { approve: true };
				},
			},
		});
		const events: EngineEvent[] = [];
		engine.events.on((e) => events.push(e));
		const run = (wf: object) => engine.run(engine.parse(JSON.stringify(wf), join(ws, 'wf.json')));
		return { engine, events, decisions, run };
	}

	it('counts tokens and cost per step and run, in the run-finished event and the summary', async () => {
		const { run, events, engine } = await setup();
		const r = await run({ name: 'u', instructions: [gen('a'), gen('b', { dependencies: ['a'] })] });
		assert.equal(r.status, 'succeeded', r.message);
		const perStep = events.filter((e) => e.type === 'usage');
		assert.deepEqual(perStep.map((e) => e.type === 'usage' && [e.id, e.promptTokens, e.completionTokens]), [['a', 40, 40], ['b', 40, 40]]);
		const expected = 2 * (costOf('gpt-4o-mini', { promptTokens: 40, completionTokens: 40 }) ?? NaN);
		assert.ok(r.usage);
		assert.equal(r.usage.calls, 2);
		assert.equal(r.usage.promptTokens + r.usage.completionTokens, 160);
		assert.ok(Math.abs(r.usage.costUsd - expected) < 1e-12);
		const finished = events.find((e) => e.type === 'run-finished');
		assert.equal(finished?.type === 'run-finished' && finished.usage?.calls, 2);
		const [summary] = await engine.runs();
		assert.equal(summary.usage?.calls, 2);
	});

	it('a stop threshold stops the run before the call that would pass it', async () => {
		const { run } = await setup();
		const r = await run({ name: 'stop', settings: { budget: { tokens: { stop: 100 } } }, instructions: [gen('a'), gen('b', { dependencies: ['a'] }), gen('c', { dependencies: ['b'] })] });
		assert.equal(r.status, 'failed');
		assert.match(r.message ?? '', /budget: the run: token use would reach \d+ tokens, stop threshold 100 tokens/);
		assert.equal(server?.requests.length, 1, 'b never reached the model');
		assert.equal(r.counts.succeeded, 1);
	});

	it('reservations keep parallel calls from passing a limit together: the second waits for the first real use', async () => {
		const { run, events } = await setup();
		// Each call expects ~52 tokens: one reservation fits under 100, two do not; after the first (80 real) neither does.
		const r = await run({ name: 'par', settings: { budget: { tokens: { stop: 100 } } }, instructions: [gen('a'), gen('b')] });
		assert.equal(r.status, 'failed');
		assert.equal(server?.requests.length, 1, 'never two calls in flight past the limit');
		assert.equal(r.counts.succeeded, 1, 'the call in flight was not killed');
		assert.ok(events.some((e) => e.type === 'budget' && e.level === 'stop'));
	});

	it('a pause threshold becomes a budget decision; approving goes on, and it is asked once', async () => {
		const { run, decisions, events } = await setup();
		const r = await run({
			name: 'pause',
			settings: { budget: { tokens: { warn: 10, pause: 100, stop: 10_000 } } },
			instructions: [gen('a'), gen('b', { dependencies: ['a'] }), gen('c', { dependencies: ['b'] })],
		});
		assert.equal(r.status, 'succeeded', r.message);
		assert.equal(decisions.length, 1);
		assert.equal(decisions[0].kind, 'budget');
		assert.equal(decisions[0].stepId, 'b');
		assert.match(decisions[0].reason, /token use would reach .* pause threshold 100 tokens/);
		assert.match(decisions[0].details ?? '', /run so far: 80 tokens in 1 call/);
		const warns = events.filter((e) => e.type === 'budget' && e.level === 'warn');
		assert.equal(warns.length, 1, 'a warning is reported once');
		assert.ok(events.some((e) => e.type === 'step' && e.id === 'b' && e.state === 'waiting'));
	});

	it('rejecting a budget pause stops that step as rejected, not a dead run', async () => {
		const { run } = await setup(() => ({ approve: false, reason: 'too expensive' }));
		const r = await run({ name: 'rej', settings: { budget: { cost_usd: { pause: 0.00004 } } }, instructions: [gen('a'), gen('b', { dependencies: ['a'] })] });
		assert.equal(r.status, 'rejected');
		assert.match(r.message ?? '', /b: rejected by user: too expensive/);
		assert.equal(server?.requests.length, 1);
	});

	it("a step's own budget applies to that step only", async () => {
		const { run } = await setup();
		const r = await run({ name: 'step', instructions: [gen('a', { budget: { tokens: { stop: 20 } } }), gen('b')] });
		assert.equal(r.status, 'failed');
		assert.match(r.message ?? '', /step a: token use would reach/);
	});

	it('a run wall-time stop stops a long step', async () => {
		const { run } = await setup();
		const t0 = Date.now();
		const r = await run({ name: 'wall', settings: { budget: { wall_ms: { stop: 300 } } }, instructions: [{ id: 'w', type: 'util', operation: 'wait', parameters: { ms: 20_000 } }] });
		assert.equal(r.status, 'failed');
		assert.match(r.message ?? '', /wall time reached .* stop threshold 0\.3 s/);
		assert.ok(Date.now() - t0 < 10_000);
	});

	it('agent budgets count each agent separately ("*" for the rest)', () => {
		const ledger = new BudgetLedger({ runId: 'r', agents: { coder: { tokens: { stop: 100 } }, '*': { tokens: { warn: 10 } } }, now: () => 0, startedAt: 0 });
		ledger.record({ stepId: 's1', agent: 'coder' }, 50, 40, 0);
		assert.equal(ledger.check({ stepId: 's2', agent: 'coder' }, { tokens: 20, costUsd: 0 })?.level, 'stop');
		assert.equal(ledger.check({ stepId: 's3', agent: 'tester' }, { tokens: 20, costUsd: 0 })?.level, 'warn');
		assert.equal(ledger.check({ stepId: 's4' }, { tokens: 20, costUsd: 0 }), undefined, 'no run budget, no agent');
	});

	it('budget thresholds must rise, and say so where', async () => {
		const ws = tempDir();
		const engine = await createEngine({ workspace: ws });
		assert.throws(
			() => engine.parse(JSON.stringify({ name: 'x', settings: { budget: { tokens: { warn: 50, stop: 10 } } }, instructions: [] }), join(ws, 'x.json')),
			(err: unknown) => WorkflowError.is(err) && /x\.json:1:\d+ settings\.budget\.tokens: thresholds must rise: warn ≤ pause ≤ stop/.test(err.describe()),
		);
	});
});
