import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { TtyPrompter } from '../../../src/cli/prompter';
import type { DecisionRequest } from '../../../src/core/ports';

describe('qo on a terminal: decisions', () => {
	it("shows a decision's details (a replan's diff) before asking, and takes the answer", async () => {
		const input = new PassThrough();
		const output = new PassThrough();
		let shown = '';
		output.on('data', (d) => (shown += d));
		const request: DecisionRequest = {
			id: 'd1',
			runId: 'r1',
			stepId: 'test',
			kind: 'replan',
			reason: 'test failed; the planner proposes a revised plan',
			summary: 'run the revised plan as a new run (+1 −0 ~1 (0 unchanged))',
			type: 'plan',
			operation: 'replan',
			parameters: {},
			details: 'Plan changes: +1 −0 ~1 (0 unchanged)\n+ fix_test  agent.task: prompt "fix it"',
		};
		const answer = new TtyPrompter(input, output).decide(request, new AbortController().signal);
		setTimeout(() => input.write('y\n'), 20);
		assert.deepEqual(await answer, { approve: true });
		assert.match(shown, /needs a decision: test failed; the planner proposes a revised plan/);
		assert.match(shown, /\n {4}Plan changes: \+1 −0 ~1 \(0 unchanged\)\n {4}\+ fix_test {2}agent\.task: prompt "fix it"\n/);
	});
});
