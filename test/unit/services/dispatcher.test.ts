import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createEngine, type Engine } from '../../../src/core/engine';
import { DecisionBroker } from '../../../src/core/services/triggers/decisionBroker';
import { Dispatcher, type Submission } from '../../../src/core/services/triggers/dispatcher';
import { tempDir } from '../../helpers/tmp';

const waitWf = (name: string, ms = 0) => ({ text: JSON.stringify({ name, instructions: [{ id: 'w', type: 'util', operation: 'wait', parameters: { ms } }] }), file: `${name}.json` });
const sub = (key: string, workflow: Submission['workflow'], extra: Partial<Submission> = {}): Submission => ({ workflow, source: 'api', idempotencyKey: key, unattended: true, ...extra });

describe('dispatcher: idempotency, concurrency policies, unattended runs', function () {
	this.timeout(120_000);

	async function setup(): Promise<{ ws: string; engine: Engine; broker: DecisionBroker; d: Dispatcher }> {
		const ws = tempDir();
		const broker = new DecisionBroker();
		const engine = await createEngine({ workspace: ws, prompter: broker, gc: { maxRuns: 5000 } });
		const d = new Dispatcher({ engine, broker, keepFinished: 2000 });
		await d.open();
		return { ws, engine, broker, d };
	}

	it('the same key never starts a second run, also after a restart', async () => {
		const { ws, engine, broker, d } = await setup();
		const [a, b] = await Promise.all([d.submit(sub('k1', waitWf('x'))), d.submit(sub('k1', waitWf('x')))]);
		assert.equal(a.status, 'started');
		assert.equal(b.status, 'duplicate');
		assert.equal(b.status === 'duplicate' && b.runId, a.status === 'started' ? a.runId : '');
		await d.dispose();
		const again = new Dispatcher({ engine, broker });
		await again.open();
		assert.equal((await again.submit(sub('k1', waitWf('x')))).status, 'duplicate');
		assert.equal((await engine.runs()).length, 1);
		assert.ok(ws);
		await again.dispose();
	});

	it('1,000 concurrent submissions: all accepted and run, none lost or run twice', async () => {
		const { engine, d } = await setup();
		const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => d.submit(sub(`key-${i % 1000}`, waitWf(`wf${i}`), { group: null }))));
		assert.deepEqual(new Set(results.map((r) => r.status)), new Set(['started', 'queued']), 'beyond 8 at once they wait their turn');
		const ids = new Set(results.map((r) => (r.status === 'started' || r.status === 'queued' ? r.runId : '')));
		assert.equal(ids.size, 1000);
		await d.idle();
		const runs = await engine.runs();
		assert.equal(runs.length, 1000);
		assert.ok(runs.every((r) => r.status === 'succeeded'));
		assert.deepEqual(new Set(runs.map((r) => r.runId)), ids);
		await d.dispose();
	});

	it('queue runs one after another in order; skip drops; cancel-running replaces the running one', async () => {
		const { d } = await setup();
		const first = await d.submit(sub('q1', waitWf('slow', 300), { policy: 'queue' }));
		const second = await d.submit(sub('q2', waitWf('slow', 0), { policy: 'queue' }));
		assert.equal(first.status, 'started');
		assert.equal(second.status, 'queued');
		assert.equal((await d.submit(sub('s1', waitWf('slow'), { policy: 'skip' }))).status, 'skipped');
		await d.idle();
		const [b, a] = d.list().filter((r) => r.workflow === 'slow');
		assert.ok(a.finishedAt! <= b.startedAt!, 'the queued run started after the first finished');
		const running = await d.submit(sub('c1', waitWf('long', 20_000), { policy: 'queue' }));
		const replacing = await d.submit(sub('c2', waitWf('long', 0), { policy: 'cancel-running' }));
		assert.equal(replacing.status, 'started');
		await d.idle();
		assert.equal(d.get(running.status === 'started' ? running.runId : '')?.status, 'cancelled');
		await d.dispose();
	});

	it('an unattended run whose steps need approval is refused up front, saying which and why', async () => {
		const { engine, d } = await setup();
		const wf = { text: JSON.stringify({ name: 'needs ok', instructions: [{ id: 'ship', type: 'util', operation: 'echo', parameters: { value: 1 }, requires_approval: true }] }), file: 'n.json' };
		const r = await d.submit(sub('u1', wf));
		assert.equal(r.status, 'refused');
		assert.match(r.status === 'refused' ? r.reason : '', /nobody is watching this api run and a step needs approval \(ship\)/);
		assert.equal((await engine.runs()).length, 0);
		assert.equal((await d.submit(sub('u1', wf))).status, 'refused', 'a refused key can come again');
		await d.dispose();
	});

	it('with wait_for_decisions the decision waits in the queue; answering continues the run', async () => {
		const { engine, broker, d } = await setup();
		const wf = { text: JSON.stringify({ name: 'ask', instructions: [{ id: 'ship', type: 'util', operation: 'echo', parameters: { value: 1 }, requires_approval: true }] }), file: 'a.json' };
		const r = await d.submit(sub('w1', wf, { waitForDecisions: true }));
		assert.equal(r.status, 'started');
		for (let i = 0; i < 100 && broker.list().length === 0; i++) await new Promise((res) => setTimeout(res, 20));
		const [pending] = broker.list();
		assert.equal(pending.request.stepId, 'ship');
		assert.equal(broker.answer(pending.request.id, { approve: true, reason: 'ok' }), true);
		assert.equal(broker.answer(pending.request.id, { approve: true }), false, 'answered once');
		await d.idle();
		assert.equal((await engine.runs())[0].status, 'succeeded');
		await d.dispose();
	});

	it('an invalid workflow is reported with file, line and path, and runs nothing', async () => {
		const { d } = await setup();
		const r = await d.submit(sub('i1', { text: '{"name": "x", "instructions": [{"type": "file", "operation": "crate"}]}', file: join('inbox', 'bad.json') }));
		assert.equal(r.status, 'invalid');
		assert.match(r.status === 'invalid' ? r.error : '', /bad\.json:1:\d+ instructions\[0\]\.operation: unknown operation 'crate'/);
		await d.dispose();
	});
});
