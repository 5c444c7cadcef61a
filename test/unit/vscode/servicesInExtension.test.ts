import assert from 'node:assert/strict';
import type { DecisionRequest } from '../../../src/core/ports';
import type { ScheduleInfo } from '../../../src/core/services/schedules/scheduler';
import { DecisionQueue } from '../../../src/vscode/model/decisionQueue';
import { QueueBroker } from '../../../src/vscode/model/queueBroker';
import { relativeTime, schedulesItem } from '../../../src/vscode/model/scheduleTree';

const req = (id: string, runId: string): DecisionRequest => ({ id, runId, stepId: id, kind: 'approval', reason: 'why', summary: 'what', type: 'exec', operation: 'run', parameters: {} });

describe('trigger decisions in the extension (queue broker)', () => {
	const signal = new AbortController().signal;

	it("a run started by a person (untracked) asks the extension's decision queue", async () => {
		const queue = new DecisionQueue();
		const broker = new QueueBroker(queue);
		const answer = broker.decide(req('a', 'manual'), signal);
		assert.deepEqual(queue.list().map((d) => d.id), ['a']);
		await queue.answer(['a'], { approve: true });
		assert.equal((await answer).approve, true);
	});

	it('an unattended trigger run with waitForDecisions waits in the queue, where it is answered', async () => {
		const queue = new DecisionQueue();
		const broker = new QueueBroker(queue);
		broker.track('inbox-run', { unattended: true, waitForDecisions: true, source: 'inbox' });
		const answer = broker.decide(req('b', 'inbox-run'), signal);
		assert.deepEqual(queue.list().map((d) => d.id), ['b']);
		await queue.answer(['b'], { approve: false, reason: 'no' });
		assert.deepEqual(await answer, { approve: false, by: 'user', reason: 'no', parameters: undefined });
	});

	it('an unattended trigger run without waitForDecisions is refused and never reaches the queue', async () => {
		const queue = new DecisionQueue();
		const broker = new QueueBroker(queue);
		broker.track('sched-run', { unattended: true, waitForDecisions: false, source: 'schedule nightly' });
		const answer = await broker.decide(req('c', 'sched-run'), signal);
		assert.equal(answer.approve, false);
		assert.equal(answer.by, 'policy');
		assert.match(answer.reason ?? '', /schedule nightly/);
		assert.equal(queue.list().length, 0);
	});

	it("the API's list and answer reach forwarded decisions (as in qo serve), not the ones of runs a person started", async () => {
		const queue = new DecisionQueue();
		const broker = new QueueBroker(queue, () => 42);
		broker.track('api-run', { unattended: true, waitForDecisions: true, source: 'api' });
		const forwarded = broker.decide(req('e', 'api-run'), signal);
		void broker.decide(req('f', 'manual'), signal);
		assert.deepEqual(broker.list().map((d) => [d.request.id, d.at]), [['e', 42]]);
		assert.equal(broker.get('e')?.request.runId, 'api-run');
		assert.equal(broker.answer('f', { approve: true, by: 'user' }), false);
		assert.equal(broker.answer('e', { approve: true, by: 'user', reason: 'via API' }), true);
		assert.deepEqual(await forwarded, { approve: true, by: 'user', reason: 'via API', parameters: undefined });
		assert.deepEqual(broker.list(), []);
		assert.deepEqual(queue.list().map((d) => d.id), ['f']);
		queue.rejectRun(undefined, 'done');
	});

	it('once the run is untracked its later decisions go to the queue like any run', async () => {
		const queue = new DecisionQueue();
		const broker = new QueueBroker(queue);
		broker.track('r', { unattended: true, waitForDecisions: true, source: 'api' });
		broker.untrack('r');
		void broker.decide(req('d', 'r'), signal);
		assert.deepEqual(queue.list().map((d) => d.id), ['d']);
		queue.rejectRun('r', 'done');
	});
});

describe('schedules in the Operations tree', () => {
	const now = Date.parse('2026-11-25T09:00:00Z');

	it('says when the next run is, relative to now', () => {
		assert.equal(relativeTime('2026-11-25T09:05:00Z', now), 'in 5 min');
		assert.equal(relativeTime('2026-11-25T12:00:00Z', now), 'in 3 h');
		assert.equal(relativeTime('2026-11-27T09:00:00Z', now), 'in 2 days');
		assert.equal(relativeTime('2026-11-25T08:59:30Z', now), '30 s ago');
	});

	it('one item per schedule: cron and next run, a warning for missed runs, problems with file:line in the tooltip', () => {
		const schedules: ScheduleInfo[] = [
			{ name: 'nightly', source: 'quantum.schedules.list[0]', cron: '0 2 * * *', policy: 'queue', workflow: 'build.workflow.json', next: '2026-11-26T02:00:00Z' },
			{
				name: 'hourly',
				source: 'hourly.workflow.json:4:17',
				cron: '0 * * * *',
				workflow: 'hourly.workflow.json',
				next: '2026-11-25T10:00:00Z',
				missed: { name: 'hourly', count: 3, first: '2026-11-25T06:00:00Z', last: '2026-11-25T08:00:00Z', reason: 'the orchestrator was not running' },
			},
			{ name: 'broken', source: 'broken.workflow.json', error: 'broken.workflow.json:3:20: invalid cron expression "61 * * * *"' },
		];
		const node = schedulesItem('/ws', undefined, schedules, now);
		assert.equal(node.label, 'Schedules');
		assert.equal(node.description, '2 active · next in 1 h · 1 with missed runs · 1 with problems');
		const [nightly, hourly, broken] = node.children ?? [];
		assert.equal(nightly.description, '0 2 * * * · next in 17 h');
		assert.equal(nightly.contextValue, 'schedule:ok');
		assert.match(nightly.tooltip ?? '', /Workflow: `build\.workflow\.json`/);
		assert.equal(hourly.description, '0 * * * * · next in 1 h · 3 missed');
		assert.equal(hourly.icon, 'warning');
		assert.match(hourly.tooltip ?? '', /3 runs missed .* reported, not replayed/);
		assert.equal(broken.contextValue, 'schedule:problem');
		assert.match(broken.tooltip ?? '', /broken\.workflow\.json:3:20/);
	});

	it('names the folder when several are open', () => {
		assert.equal(schedulesItem('/a', 'app', [], now).label, 'Schedules — app');
	});
});
