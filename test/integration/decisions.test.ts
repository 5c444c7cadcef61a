import * as assert from 'node:assert/strict';
import type { QuantumApi, RunOutcome } from '../../src/vscode/api';
import type { DecisionView } from '../../src/protocol/viewModels';
import { activateApi, boardRun, eventually, exists, readText, runWorkflowFile, treeStepStates, writeText } from './extensionHost';

/** The pending decision for stepId, failing fast if the run ends without asking. */
function decisionFor(api: QuantumApi, stepId: string, running: Promise<RunOutcome>): Promise<DecisionView> {
	const endedFirst = running.then((o) => Promise.reject(new Error(`the run ended without asking about ${stepId}: ${JSON.stringify(o)}`)));
	return Promise.race([api.waitForDecision(stepId, 30_000), endedFirst]);
}

suite('steps that need approval', () => {
	let api: QuantumApi;
	suiteSetup(async () => {
		api = await activateApi();
	});

	test('an approved step runs: the run succeeds and the file is written', async () => {
		const running = runWorkflowFile('approve.workflow.json');
		const decision = await decisionFor(api, 'publish', running);
		assert.equal(decision.kind, 'approval');
		assert.ok(api.pendingDecisions().some((d) => d.id === decision.id), 'pendingDecisions() lists it');
		assert.equal(await exists('approval/published.txt'), false, 'nothing is written before the answer');
		await eventually(() => assert.equal(treeStepStates(api, decision.runId).publish, 'step:waiting'));

		await api.answer([decision.id], { approve: true });
		const outcome = await running;
		assert.equal(outcome.status, 'succeeded', outcome.message);
		assert.equal(await readText('approval/published.txt'), 'a draft\n');
		assert.equal(api.pendingDecisions().length, 0);
		await eventually(() => assert.equal(treeStepStates(api, outcome.runId).publish, 'step:succeeded'));
	});

	test('a rejected step skips its dependents and the run ends rejected', async () => {
		const running = runWorkflowFile('reject.workflow.json');
		const decision = await decisionFor(api, 'gate', running);
		await api.answer([decision.id], { approve: false, reason: 'not today' });
		const outcome = await running;
		assert.ok(['rejected', 'failed'].includes(outcome.status), `status ${outcome.status}`);
		assert.equal(await exists('rejected/gate.txt'), false);
		assert.equal(await exists('rejected/after.txt'), false);
		await eventually(() => {
			const gate = boardRun(api, outcome.runId).steps.find((s) => s.id === 'gate');
			assert.match(gate?.message ?? '', /rejected by user/);
			assert.equal(treeStepStates(api, outcome.runId).after_gate, 'step:skipped');
		});
	});

	test('three identical approvals of a rule are learned and offered as "always allow", never applied silently', async () => {
		await writeText(
			'learned.workflow.json',
			JSON.stringify({ name: 'learned', instructions: [{ id: 'tidy', type: 'exec', operation: 'run', parameters: { command: 'rm -rf learned-nothing-here' } }] }, null, 2),
		);
		let rule: string | undefined;
		for (let i = 0; i < 3; i++) {
			const running = runWorkflowFile('learned.workflow.json');
			const decision = await decisionFor(api, 'tidy', running);
			rule = decision.rule;
			await api.answer([decision.id], { approve: true });
			assert.equal((await running).status, 'succeeded');
		}
		assert.match(rule ?? '', /^exec:risky:/);
		// Recorded in the learning store (the offer itself is a notification; the smoke-test driver shows none).
		await eventually(async () => {
			const learning = JSON.parse(await readText('.quantum/learning.json')) as { decisions: Record<string, { approve: boolean; streak: number }> };
			assert.deepEqual({ approve: learning.decisions[rule!]?.approve, streak: learning.decisions[rule!]?.streak }, { approve: true, streak: 3 });
		});
		assert.equal(api.allowedRules().includes(rule!), false, 'not allowed until the person says yes');
		const fourth = runWorkflowFile('learned.workflow.json');
		const asked = await decisionFor(api, 'tidy', fourth);
		await api.answer([asked.id], { approve: false, reason: 'enough' });
		assert.notEqual((await fourth).status, 'succeeded', 'it still asks, and a rejection stops it');
	});
});
