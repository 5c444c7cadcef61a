import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine } from '../../../src/core/engine';
import type { EngineEvent } from '../../../src/core/engine/events';
import type { HandlerRegistry } from '../../../src/core/handlers';
import { orchestrate, type OrchestrationEvent, type OrchestrationOptions } from '../../../src/core/orchestrate/session';
import { approveAll, type DecisionAnswer, type DecisionPrompter, type DecisionRequest } from '../../../src/core/ports';
import { createOpenAiClient } from '../../../src/core/services/llm/client';
import { startScriptedOpenAi, type ScriptedOpenAi } from '../../helpers/scriptedOpenAi';
import { baseRegistry, nodeScript, projectWorkspace, registryWithAgents } from './helpers';

/** Answers every decision with `answer`, remembering the requests. */
function recordingPrompter(answer: DecisionAnswer): DecisionPrompter & { requests: DecisionRequest[] } {
	const requests: DecisionRequest[] = [];
	return {
		requests,
		async decide(request) {
			requests.push(request);
			return answer;
		},
	};
}

/** The test script passes once fixed.txt exists. */
const NEEDS_FIX = `node -e "process.exit(require('fs').existsSync('fixed.txt') ? 0 : 3)"`;

async function session(ws: string, registry: HandlerRegistry, prompter: DecisionPrompter, extra: Partial<OrchestrationOptions> = {}) {
	const engine = await createEngine({ workspace: ws, registry, prompter });
	const states: OrchestrationEvent[] = [];
	const engineEvents: EngineEvent[] = [];
	engine.events.on((e) => engineEvents.push(e));
	return { engine, states, engineEvents, opts: { engine, prompter, onEvent: (e: OrchestrationEvent) => states.push(e), ...extra } };
}

const names = (events: OrchestrationEvent[]) => events.map((e) => e.state);

describe('orchestrate: the session state machine, running plans for real', function () {
	this.timeout(60_000);

	it('a plan that succeeds: analysing → planning → executing → monitoring → completing', async () => {
		const ws = projectWorkspace({ test: nodeScript('all good') });
		const s = await session(ws, baseRegistry(), approveAll);
		const result = await orchestrate('Run the tests', s.opts);
		assert.equal(result.outcome, 'succeeded', result.message);
		assert.deepEqual(names(s.states), ['analysing', 'planning', 'executing', 'monitoring', 'completing']);
		assert.equal(s.states.at(-1)?.outcome, 'succeeded');
		assert.equal(s.states[3].runId, result.runs[0].runId);
		assert.equal(s.states[2].planFile, result.plans[0].file);
		assert.ok(s.states.every((e) => e.type === 'orchestration' && e.id === result.id && e.goal === 'Run the tests'));
		assert.equal(result.runs[0].status, 'succeeded');
	});

	it('review sees the saved plan; an edit to the file meanwhile is what runs', async () => {
		const ws = projectWorkspace({ test: nodeScript('original') });
		const s = await session(ws, baseRegistry(), approveAll, {
			review: async (prepared) => {
				const plan = JSON.parse(readFileSync(prepared.saved.file, 'utf8'));
				plan.instructions[0].parameters.command = 'echo edited > edited.txt';
				writeFileSync(prepared.saved.file, JSON.stringify(plan));
				return true;
			},
		});
		const result = await orchestrate('Run the tests', s.opts);
		assert.equal(result.outcome, 'succeeded', result.message);
		assert.deepEqual(names(s.states), ['analysing', 'planning', 'review', 'executing', 'monitoring', 'completing']);
		assert.equal(readFileSync(join(ws, 'edited.txt'), 'utf8'), 'edited\n');
	});

	it('a step waiting for a decision is escalating, then monitoring again', async () => {
		const ws = projectWorkspace({ test: nodeScript('ok'), deploy: 'echo shipped > shipped.txt' });
		const prompter = recordingPrompter({ approve: true });
		const s = await session(ws, baseRegistry(), prompter);
		const result = await orchestrate('Deploy the app to production', s.opts);
		assert.equal(result.outcome, 'succeeded', result.message);
		assert.deepEqual(names(s.states), ['analysing', 'planning', 'executing', 'monitoring', 'escalating', 'monitoring', 'completing']);
		assert.match(s.states[4].detail ?? '', /^deploy waits for a decision: /);
		assert.deepEqual(prompter.requests.map((r) => [r.stepId, r.kind]), [['deploy', 'approval']]);
		assert.equal(readFileSync(join(ws, 'shipped.txt'), 'utf8'), 'shipped\n');
	});

	it('a failed run, a revised plan approved as a replan decision with its diff, and the new run succeeds', async () => {
		const ws = projectWorkspace({ test: NEEDS_FIX });
		const registry = registryWithAgents(async (p, ctx) => {
			await ctx.fs.writeFile('fixed.txt', `fixed after: ${p.prompt.split('\n').find((l) => l.includes('exited')) ?? ''}`);
			return { done: true };
		});
		const prompter = recordingPrompter({ approve: true, reason: 'looks right' });
		const s = await session(ws, registry, prompter);
		const result = await orchestrate('Run the tests', s.opts);

		assert.equal(result.outcome, 'succeeded', result.message);
		assert.deepEqual(names(s.states), ['analysing', 'planning', 'executing', 'monitoring', 'error', 'recover', 'escalating', 'executing', 'monitoring', 'completing']);
		assert.match(s.states[4].detail ?? '', /exited with code 3/);
		assert.deepEqual(result.runs.map((r) => r.status), ['failed', 'succeeded']);
		assert.equal(result.replans, 1);

		const [request] = prompter.requests;
		assert.equal(request.kind, 'replan');
		assert.equal(request.stepId, 'test');
		assert.equal(request.runId, result.runs[0].runId);
		assert.match(request.reason, /^test failed \(.*exited with code 3.*\); the planner proposes a revised plan$/);
		assert.match(request.details ?? '', /^Plan changes: \+1 −0 ~1 \(0 unchanged\)$/m);
		assert.match(request.details ?? '', /^\+ fix_test {2}agent\.task: prompt "Goal: Run the tests The step test \(exec\.run/m);
		assert.match(request.details ?? '', /^~ test {2}exec\.run\n {4}dependencies: \+fix_test \(now: fix_test\)$/m);
		// The board sees the replan in the same decision stream as step approvals.
		assert.ok(s.engineEvents.some((e) => e.type === 'decision-requested' && e.request.kind === 'replan'));
		assert.ok(s.engineEvents.some((e) => e.type === 'decision-answered' && e.id === request.id && e.answer.approve));

		assert.equal(result.plans.length, 2);
		const revised = result.plans[1];
		assert.equal(revised.meta.replanOf, result.plans[0].file);
		assert.equal(revised.meta.failedRun, result.runs[0].runId);
		assert.equal(revised.meta.diff, request.details?.split('\nSucceeded')[0]);
		assert.deepEqual((await s.engine.load(revised.file)).instructions.map((i) => i.id), ['fix_test', 'test']);
		assert.match(readFileSync(join(ws, 'fixed.txt'), 'utf8'), /^fixed after: /);
	});

	it('a rejected replan ends the session with the failure; the diff was shown', async () => {
		const ws = projectWorkspace({ test: NEEDS_FIX });
		const prompter = recordingPrompter({ approve: false, reason: 'not now' });
		const s = await session(ws, registryWithAgents(), prompter);
		const result = await orchestrate('Run the tests', s.opts);
		assert.equal(result.outcome, 'failed');
		assert.match(result.message ?? '', /exited with code 3.*; the revised plan was rejected: not now$/s);
		assert.deepEqual(names(s.states), ['analysing', 'planning', 'executing', 'monitoring', 'error', 'recover', 'escalating', 'completing']);
		assert.equal(result.runs.length, 1);
		assert.equal(result.plans.length, 1, 'a rejected plan is not saved');
		assert.equal(prompter.requests[0].kind, 'replan');
		assert.match(prompter.requests[0].details ?? '', /\+ fix_test/);
		assert.deepEqual(result.decisions.map((d) => d.answer.approve), [false]);
	});

	it('replans are bounded, and the offline planner needs the agent handler to revise a plan', async () => {
		const ws = projectWorkspace({ test: NEEDS_FIX });
		const none = await session(ws, registryWithAgents(), approveAll, { maxReplans: 0 });
		const r0 = await orchestrate('Run the tests', none.opts);
		assert.equal(r0.outcome, 'failed');
		assert.match(r0.message ?? '', /\(no replans left: at most 0\)$/);
		assert.deepEqual(names(none.states).slice(-2), ['error', 'completing']);

		const plain = await session(ws, baseRegistry(), approveAll);
		const r1 = await orchestrate('Run the tests', plain.opts);
		assert.equal(r1.outcome, 'failed');
		assert.match(r1.message ?? '', /no revised plan: the offline planner revises a plan with an agent task, and no agent handler is registered/);

		// The agent "fixes" nothing: the second run fails too, and there is no third plan.
		const twice = await session(ws, registryWithAgents(), approveAll);
		const r2 = await orchestrate('Run the tests', twice.opts);
		assert.equal(r2.outcome, 'failed');
		assert.equal(r2.runs.length, 2);
		assert.match(r2.message ?? '', /no replans left: at most 1/);
	});

	describe('with the LLM planner', () => {
		let server: ScriptedOpenAi | undefined;
		afterEach(async () => {
			await server?.close();
			server = undefined;
		});

		it('the revised run starts where the failure was: a succeeded step is not run again, its output is reused', async () => {
			const prepare = { id: 'prepare', type: 'exec', operation: 'run', parameters: { command: 'echo run >> count.txt && echo prepared' } };
			const check = { id: 'check', type: 'exec', operation: 'run', parameters: { command: 'test -f ready.txt' } };
			const report = { id: 'report', type: 'file', operation: 'create', parameters: { path: 'report.txt', content: '${steps.prepare.output.stdout}' }, dependencies: ['check'] };
			const makeReady = { id: 'make_ready', type: 'file', operation: 'create', parameters: { path: 'ready.txt' } };
			server = await startScriptedOpenAi([
				{ json: { intent: 'create', complexity: { level: 'low', reasons: ['small'] }, risks: [], successCriteria: ['report.txt exists'] } },
				{ json: { name: 'report', instructions: [prepare, check, report] } },
				{ json: { name: 'report', instructions: [prepare, makeReady, { ...check, dependencies: ['make_ready'] }, report] } },
			]);
			const ws = projectWorkspace({});
			const prompter = recordingPrompter({ approve: true });
			const llm = createOpenAiClient({ baseUrl: server.baseUrl, model: 'm' });
			const s = await session(ws, baseRegistry(), prompter, { llm });
			const result = await orchestrate('Write the report once ready', s.opts);

			assert.equal(result.outcome, 'succeeded', result.message);
			assert.equal(readFileSync(join(ws, 'count.txt'), 'utf8'), 'run\n', 'prepare ran once');
			assert.equal(readFileSync(join(ws, 'report.txt'), 'utf8'), 'prepared\n');
			const started = s.engineEvents.filter((e) => e.type === 'run-started');
			assert.equal(started.length, 2);
			assert.deepEqual(
				started[1].type === 'run-started' && started[1].steps.map((st) => `${st.id}:${st.type}.${st.operation}`),
				['prepare:util.echo', 'make_ready:file.create', 'check:exec.run', 'report:file.create'],
			);
			const details = prompter.requests[0].details ?? '';
			assert.match(details, /^\+ make_ready {2}file\.create: path "ready\.txt"$/m);
			assert.match(details, /^~ check {2}exec\.run\n {4}dependencies: \+make_ready/m);
			assert.match(details, /^= unchanged: prepare, report$/m);
			assert.match(details, new RegExp(`^Succeeded in run ${result.runs[0].runId}, not run again: prepare$`, 'm'));
			// The model was told what happened: the failed step's error and the succeeded step's output.
			const replanPrompt = server.requests[2].messages.at(-1)?.content ?? '';
			assert.match(replanPrompt, /- check: FAILED: .*exited with code 1/);
			assert.match(replanPrompt, /- prepare: succeeded, output \{"exit_code":0,"signal":null,"stdout":"prepared\\n"/);
			assert.match(replanPrompt, /- report: did not run/);
		});
	});
});
