import assert from 'node:assert/strict';
import type { EngineEvent } from '../../../src/core/engine/events';
import type { OrchestrationEvent } from '../../../src/core/orchestrate/session';
import { applyBoardPatch, indexSteps, MAX_ORCHESTRATIONS } from '../../../src/protocol/applyPatch';
import { hostToWebviewSchema } from '../../../src/protocol/messages';
import { formatTokens, usageLine } from '../../../src/protocol/usage';
import type { BoardSnapshot } from '../../../src/protocol/viewModels';
import { BoardModel, decisionView, MAX_BUDGET_NOTICES } from '../../../src/vscode/model/boardModel';
import { allocationText, childItem, runItem, stepItem } from '../../../src/vscode/model/treeModel';
import { RunLog } from '../../../src/vscode/model/runLog';

const started = (runId: string): EngineEvent => ({
	type: 'run-started',
	runId,
	workflow: 'agents',
	resumed: false,
	steps: [
		{ id: 'read', type: 'file', operation: 'read', dependencies: [], level: 0 },
		{ id: 'task', type: 'agent', operation: 'task', dependencies: ['read'], level: 1 },
	],
	criticalPath: ['read', 'task'],
	levels: 2,
	concurrency: 4,
	mode: 'parallel',
});

const stepEvent = (runId: string, id: string, state: Extract<EngineEvent, { type: 'step' }>['state'], extra: Partial<Extract<EngineEvent, { type: 'step' }>> = {}): EngineEvent => ({
	type: 'step',
	runId,
	id,
	state,
	attempt: 1,
	at: 1,
	...extra,
});

const toolAdded = (runId: string, n: number, summary: string): EngineEvent => ({
	type: 'step-added',
	runId,
	parent: 'task',
	step: { id: `task.${n}`, type: 'file', operation: 'read', dependencies: ['task'], level: 1 },
	summary,
	agent: 'coder',
});

/** A board model whose every flush is replayed, through the protocol schema, on a copy (what the webview sees). */
function mirrored(): { model: BoardModel; mirror: BoardSnapshot } {
	const model = new BoardModel();
	const mirror: BoardSnapshot = JSON.parse(JSON.stringify(model.snapshot()));
	const index = indexSteps(mirror);
	model.onChange((change) => {
		const msg = hostToWebviewSchema.parse(JSON.parse(JSON.stringify({ type: 'patch', version: change.version, patches: change.patches })));
		if (msg.type !== 'patch') throw new Error('expected a patch');
		for (const p of msg.patches) applyBoardPatch(mirror, p, index);
		mirror.version = change.version;
	});
	return { model, mirror };
}

describe('board model: agents, tool calls, LLM use, budgets and goals', () => {
	it("an agent's tool calls become children of its step, with their states, and never count as the run's steps", () => {
		const { model, mirror } = mirrored();
		model.apply(started('r'));
		model.apply(stepEvent('r', 'task', 'running'));
		model.apply({ type: 'allocation', runId: 'r', id: 'task', assignment: { agent: 'coder', score: 0.82, parts: { capability: 1, load: 1, performance: 0.5, specialisation: 0.2 }, reason: 'capability 40/40, load 30/30' } });
		model.apply(toolAdded('r', 1, 'read_file: read src/a.ts'));
		model.apply(stepEvent('r', 'task.1', 'running'));
		model.apply(stepEvent('r', 'task.1', 'succeeded', { durationMs: 12 }));
		model.apply(toolAdded('r', 2, 'write_file: write src/a.ts'));
		model.apply(stepEvent('r', 'task.2', 'failed', { durationMs: 3, message: 'outside the workspace' }));
		model.flush();
		const task = mirror.runs[0].steps.find((s) => s.id === 'task')!;
		assert.deepEqual(
			task.children?.map((c) => [c.id, c.state, c.summary, c.agent, c.durationMs, c.message]),
			[
				['task.1', 'succeeded', 'read_file: read src/a.ts', 'coder', 12, undefined],
				['task.2', 'failed', 'write_file: write src/a.ts', 'coder', 3, 'outside the workspace'],
			],
		);
		assert.equal(task.allocation?.agent, 'coder');
		assert.deepEqual(task.allocation?.parts, { capability: 1, load: 1, performance: 0.5, specialisation: 0.2 });
		assert.equal(mirror.runs[0].total, 2, 'tool calls are not steps of the plan');
		assert.deepEqual(mirror.runs[0].counts, { pending: 1, running: 1 });
		assert.deepEqual(mirror, JSON.parse(JSON.stringify(model.snapshot())));
		assert.equal(model.child('r', 'task.2')?.parent.id, 'task');
	});

	it('a tool call waiting for a decision carries it (tree actions find it) until it runs', () => {
		const { model, mirror } = mirrored();
		model.apply(started('r'));
		model.apply(toolAdded('r', 1, 'run_command: rm -rf build'));
		model.apply(stepEvent('r', 'task.1', 'waiting'));
		model.apply({
			type: 'decision-requested',
			request: { id: 'd1', runId: 'r', stepId: 'task.1', kind: 'approval', reason: 'risky', summary: 'run `rm -rf build`', type: 'exec', operation: 'run', parameters: { command: 'rm -rf build' }, rule: 'exec:risky:rm' },
		});
		model.flush();
		assert.equal(mirror.runs[0].steps[1].children?.[0].decisionId, 'd1');
		assert.equal(model.decisionOfStep('r', 'task.1'), 'd1');
		const run = model.run('r')!;
		assert.match(runItem(run).description!, /1 waiting for you/);
		const item = childItem(run, run.steps[1], run.steps[1].children![0], model.decision('d1'));
		assert.equal(item.contextValue, 'tool:waiting');
		assert.match(item.description!, /waiting for your decision/);
		model.apply({ type: 'decision-answered', runId: 'r', id: 'd1', answer: { approve: true } });
		model.apply(stepEvent('r', 'task.1', 'running'));
		model.flush();
		assert.equal(mirror.runs[0].steps[1].children?.[0].decisionId, undefined);
		assert.equal(model.decisionOfStep('r', 'task.1'), undefined);
	});

	it('tokens and cost add up per step and per run while it runs; the run-finished figures (per agent) replace them', () => {
		const { model, mirror } = mirrored();
		model.apply(started('r'));
		model.apply({ type: 'usage', runId: 'r', id: 'task', model: 'gpt-4o-mini', promptTokens: 10_000, completionTokens: 2_000, costUsd: 0.0027 });
		model.apply({ type: 'usage', runId: 'r', id: 'task', model: 'gpt-4o-mini', promptTokens: 300, completionTokens: 0, costUsd: 0.0015 });
		model.apply({ type: 'usage', runId: 'r', id: 'read', model: 'local', promptTokens: 5, completionTokens: 5 });
		model.flush();
		const task = mirror.runs[0].steps[1];
		const { costUsd, ...tokens } = task.usage!;
		assert.deepEqual(tokens, { promptTokens: 10_300, completionTokens: 2_000, calls: 2, unpricedCalls: 0, model: 'gpt-4o-mini' });
		assert.ok(Math.abs(costUsd! - 0.0042) < 1e-12);
		assert.equal(usageLine(task.usage!), '12.3k tokens · $0.0042');
		assert.equal(usageLine(mirror.runs[0].usage!), '12.3k tokens · $0.0042 (+1 unpriced)');
		assert.equal(mirror.runs[0].steps[0].usage?.costUsd, undefined, 'no price: tokens only');
		model.apply({
			type: 'run-finished',
			runId: 'r',
			status: 'succeeded',
			durationMs: 5,
			counts: {},
			usage: { promptTokens: 10_305, completionTokens: 2_005, costUsd: 0.0042, unpricedCalls: 1, calls: 3, agents: { coder: { promptTokens: 10_300, completionTokens: 2_000, costUsd: 0.0042, calls: 2 } } },
		});
		model.flush();
		assert.deepEqual(mirror.runs[0].usage?.agents, { coder: { promptTokens: 10_300, completionTokens: 2_000, costUsd: 0.0042, calls: 2 } });
		const run = model.run('r')!;
		assert.match(runItem(run).description!, /12\.3k tokens · \$0\.0042 \(\+1 unpriced\)/);
		assert.match(runItem(run).tooltip!, /- coder: 12\.3k tokens · \$0\.0042 in 2 calls/);
		const step = stepItem(run, run.steps[1]);
		assert.match(step.description!, /12\.3k tokens · \$0\.0042/);
		assert.match(step.tooltip!, /10\.3k prompt \+ 2k completion tokens in 2 calls to gpt-4o-mini, \$0\.0042/);
	});

	it('budget thresholds are notices on the run (the newest few), with the worst level in the tree', () => {
		const { model, mirror } = mirrored();
		model.apply(started('r'));
		const budget = (level: 'warn' | 'pause' | 'stop', value: number): EngineEvent => ({
			type: 'budget',
			runId: 'r',
			id: 'task',
			scope: 'run',
			name: 'r',
			metric: 'tokens',
			level,
			value,
			limit: 1000,
			message: `the run: token use reached ${value} tokens, ${level} threshold 1,000 tokens`,
		});
		model.apply(budget('warn', 900));
		model.flush();
		assert.equal(mirror.runs[0].budget?.[0].level, 'warn');
		assert.equal(mirror.runs[0].budget?.[0].stepId, 'task');
		assert.match(runItem(model.run('r')!).description!, /budget warn/);
		for (let i = 0; i < MAX_BUDGET_NOTICES + 2; i++) model.apply(budget('pause', 1000 + i));
		model.flush();
		assert.equal(mirror.runs[0].budget?.length, MAX_BUDGET_NOTICES);
		assert.match(runItem(model.run('r')!).description!, /budget pause/);
		assert.match(runItem(model.run('r')!).tooltip!, /Budget pause: the run: token use reached 1011 tokens/);
	});

	it('the tree shows the agent and why in the step tooltip, and the tool calls under the step', () => {
		const model = new BoardModel();
		model.apply(started('r'));
		model.apply({ type: 'allocation', runId: 'r', id: 'task', assignment: { agent: 'tester', score: 0.7, parts: { capability: 0.4, load: 0.3 }, reason: 'assigned by the step' } });
		model.apply(toolAdded('r', 1, 'list_files: list src'));
		const run = model.run('r')!;
		const item = stepItem(run, run.steps[1]);
		assert.match(item.description!, /→ tester/);
		assert.match(item.tooltip!, /Agent: \*\*tester\*\* \(score 0\.70: capability 40%, load 30%\) — assigned by the step/);
		assert.match(item.tooltip!, /Tool calls: 1 pending/);
		assert.equal(allocationText({ agent: 'a', reason: 'r' }), 'Agent: **a** — r');
	});

	it('an orchestration is a board entry whose state follows the session; its runs name it', () => {
		const { model, mirror } = mirrored();
		const ev = (state: OrchestrationEvent['state'], extra: Partial<OrchestrationEvent> = {}): OrchestrationEvent => ({ type: 'orchestration', id: 'goal-1', goal: 'add tests', state, at: 100, ...extra });
		model.applyOrchestration(ev('analysing'), { autonomous: true, planner: 'the offline templates' });
		model.applyOrchestration(ev('planning', { detail: 'add tests' }));
		model.applyOrchestration(ev('executing', { planFile: '/ws/.quantum/plans/p.workflow.json' }), { planFile: '.quantum/plans/p.workflow.json' });
		// The session hears of its run (onStart) before the engine's run-started arrives.
		model.applyOrchestration(ev('monitoring', { runId: 'r' }));
		model.apply(started('r'));
		model.flush();
		const goal = mirror.orchestrations![0];
		assert.deepEqual([goal.state, goal.planFile, goal.runIds, goal.autonomous, goal.planner, goal.live], ['monitoring', '.quantum/plans/p.workflow.json', ['r'], true, 'the offline templates', true]);
		assert.equal(mirror.runs[0].orchestration, 'goal-1');
		assert.match(runItem(model.run('r')!, 0, model.orchestration('goal-1')).tooltip!, /Goal: add tests/);
		model.applyOrchestration(ev('completing', { outcome: 'succeeded', runId: 'r' }));
		model.flush();
		assert.deepEqual([mirror.orchestrations![0].state, mirror.orchestrations![0].outcome, mirror.orchestrations![0].live], ['completing', 'succeeded', false]);
		for (let i = 2; i < MAX_ORCHESTRATIONS + 4; i++) model.applyOrchestration({ type: 'orchestration', id: `goal-${i}`, goal: `g${i}`, state: 'analysing', at: i });
		model.flush();
		assert.equal(mirror.orchestrations!.length, MAX_ORCHESTRATIONS);
		assert.equal(mirror.orchestrations![0].id, `goal-${MAX_ORCHESTRATIONS + 3}`, 'newest first');
		assert.deepEqual(mirror, JSON.parse(JSON.stringify(model.snapshot())));
	});

	it('a decision about a step that already ended (a revised plan after a failure) is cleared from the step once answered', () => {
		const { model, mirror } = mirrored();
		model.apply(started('r'));
		model.apply(stepEvent('r', 'read', 'failed', { message: 'exit 3' }));
		model.apply({ type: 'run-finished', runId: 'r', status: 'failed', durationMs: 1, counts: {} });
		model.apply({ type: 'decision-requested', request: { id: 'g-replan-1', runId: 'r', stepId: 'read', kind: 'replan', reason: 'read failed', summary: 'run the revised plan', type: 'plan', operation: 'replan', parameters: {}, details: '+ fix' } });
		model.flush();
		assert.equal(mirror.runs[0].steps[0].decisionId, 'g-replan-1');
		model.apply({ type: 'decision-answered', runId: 'r', id: 'g-replan-1', answer: { approve: false } });
		model.flush();
		assert.equal(mirror.runs[0].steps[0].decisionId, undefined);
		assert.equal(model.decisionOfStep('r', 'read'), undefined);
		assert.deepEqual(mirror, JSON.parse(JSON.stringify(model.snapshot())));
	});

	it('a proposal decision names the files it would change; replan and budget decisions carry their text', () => {
		const proposal = decisionView(
			{
				id: 'p1',
				runId: 'r',
				stepId: 'fix',
				kind: 'proposal',
				reason: 'the fix the model proposes',
				summary: 'apply the change to 2 files',
				type: 'llm',
				operation: 'fix',
				parameters: {},
				changes: [
					{ path: 'src/a.ts', before: 'a', after: 'A' },
					{ path: 'src/new.ts', before: null, after: 'new' },
				],
			},
			5,
		);
		assert.deepEqual(proposal.changedFiles, ['src/a.ts', 'src/new.ts']);
		assert.equal(proposal.file, 'src/a.ts');
		assert.equal(JSON.stringify(proposal).includes('new'), true);
		assert.equal('changes' in proposal, false, 'the texts stay with the host (the diff opens there)');
		const replan = decisionView({ id: 'g-replan-1', runId: 'r', stepId: 'check', kind: 'replan', reason: 'check failed', summary: 'run the revised plan', type: 'plan', operation: 'replan', parameters: { goal: 'g' }, details: '+ fix  agent.task: …\n~ check  exec.run' }, 5);
		assert.equal(replan.details, '+ fix  agent.task: …\n~ check  exec.run');
	});

	it('the run log tells tool calls, allocations, budget crossings and the LLM use per agent', () => {
		const log = new RunLog();
		log.apply(started('r'), 0);
		log.apply({ type: 'allocation', runId: 'r', id: 'task', assignment: { agent: 'coder', reason: 'capability 40/40' } }, 0);
		log.apply(toolAdded('r', 1, 'read_file: read a.ts'), 0);
		log.apply({ type: 'budget', runId: 'r', scope: 'run', name: 'r', metric: 'cost_usd', level: 'warn', value: 0.5, limit: 0.4, message: 'the run: cost reached $0.5000, warn threshold $0.4000' }, 0);
		log.apply({ type: 'run-finished', runId: 'r', status: 'succeeded', durationMs: 1, counts: {}, usage: { promptTokens: 1000, completionTokens: 200, costUsd: 0.0003, unpricedCalls: 0, calls: 1, agents: { coder: { promptTokens: 1000, completionTokens: 200, costUsd: 0.0003, calls: 1 } } } }, 0);
		const text = log.text('r');
		assert.match(text, /task → agent coder: capability 40\/40/);
		assert.match(text, /task → task\.1 \(coder\): read_file: read a\.ts/);
		assert.match(text, /budget warn: the run: cost reached/);
		assert.match(text, /LLM: 1,200 tokens/);
		assert.match(text, /coder: 1,200 tokens in 1 call/);
	});

	it('token counts read short', () => {
		assert.deepEqual([0, 950, 1000, 1234, 12_345, 999_999, 1_250_000].map(formatTokens), ['0', '950', '1k', '1.23k', '12.3k', '1M', '1.25M']);
	});
});
