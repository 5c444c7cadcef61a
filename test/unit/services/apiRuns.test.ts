// /v1/runs and /v1/decisions over real HTTP: submissions through the dispatcher, duplicates, refusals, located
// problems, waiting decisions answered through the API, cancelling, listing, and 1,000 submissions at once.
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import type { z } from 'zod';
import { API_SCHEMAS } from '../../../src/core/services/api/schemas';
import { startTestApi, until, waitWorkflow, type Reply, type TestApi } from '../../helpers/apiClient';

/** The body is exactly what the OpenAPI document says: parsing it with the schema changes nothing (no undocumented member). */
function conforms(name: keyof typeof API_SCHEMAS, body: unknown): void {
	const schema = API_SCHEMAS[name] as z.ZodType;
	const r = schema.safeParse(body);
	assert.ok(r.success, `${name}: ${r.success ? '' : JSON.stringify(r.error.issues)}`);
	assert.deepEqual(r.data, body, `${name} has members the document does not describe`);
}

const approvalWorkflow = (name: string) => ({ name, instructions: [{ id: 'ship', type: 'util', operation: 'echo', parameters: { value: 1 }, requires_approval: true }] });

describe('local API: runs and decisions', function () {
	this.timeout(120_000);
	let api: TestApi;

	beforeEach(async () => {
		api = await startTestApi();
	});
	afterEach(async () => {
		await api.close();
	});

	const run = async (id: string) => (await api.call('GET', `/v1/runs/${id}`)).json;
	const finished = (id: string) => until(`run ${id} to end`, async () => {
		const r = await run(id);
		return r.status !== 'running' && r.status !== 'queued' ? r : undefined;
	});

	it('a workflow runs: 202 with its id, then its status and each step (state, times, duration)', async () => {
		const r = await api.call('POST', '/v1/runs', { body: { name: 'two', instructions: [{ id: 'a', type: 'util', operation: 'echo', parameters: { value: 1 } }, { id: 'b', type: 'util', operation: 'wait', parameters: { ms: 10 }, dependencies: ['a'] }] } });
		assert.equal(r.status, 202);
		conforms('RunAccepted', r.json);
		assert.equal(r.json.status, 'started');
		assert.equal(r.headers.location, `/v1/runs/${r.json.run_id}`);
		const done = await finished(r.json.run_id);
		conforms('RunDetail', done);
		assert.equal(done.status, 'succeeded');
		assert.equal(done.source, 'api');
		assert.deepEqual(done.counts, { total: 2, succeeded: 2, failed: 0, skipped: 0, cancelled: 0 });
		assert.deepEqual(done.steps.map((s: { id: string; state: string; type: string }) => [s.id, s.state, s.type]), [['a', 'succeeded', 'util'], ['b', 'succeeded', 'util']]);
		assert.deepEqual(done.steps[1].dependencies, ['a']);
		assert.ok(done.steps[1].duration_ms >= 10);
		assert.ok(Date.parse(done.steps[1].started_at) <= Date.parse(done.steps[1].finished_at));
		assert.ok(done.log.some((l: string) => /finished: succeeded/.test(l)));
	});

	it('a failed step shows its error; a single instruction is a workflow of one step', async () => {
		const r = await api.call('POST', '/v1/runs', { body: { id: 'boom', type: 'exec', operation: 'run', parameters: { command: process.execPath, args: ['-e', 'process.exit(3)'] } } });
		assert.equal(r.status, 202);
		const done = await finished(r.json.run_id);
		assert.equal(done.status, 'failed');
		assert.equal(done.workflow, 'boom');
		assert.equal(done.steps[0].state, 'failed');
		assert.match(done.steps[0].error, /exit/i);
	});

	it('the same body again is a duplicate (200, the first run); the same Idempotency-Key too, whatever the body', async () => {
		const first = await api.call('POST', '/v1/runs', { body: waitWorkflow('once') });
		const again = await api.call('POST', '/v1/runs', { body: waitWorkflow('once') });
		assert.equal(again.status, 200);
		conforms('RunAccepted', again.json);
		assert.deepEqual([again.json.status, again.json.run_id], ['duplicate', first.json.run_id]);
		const keyed = await api.call('POST', '/v1/runs', { body: waitWorkflow('k1'), headers: { 'Idempotency-Key': 'deploy-42' } });
		const keyedAgain = await api.call('POST', '/v1/runs', { body: waitWorkflow('something else'), headers: { 'Idempotency-Key': 'deploy-42' } });
		assert.equal(keyedAgain.status, 200);
		assert.equal(keyedAgain.json.run_id, keyed.json.run_id);
		const distinct = await api.call('POST', '/v1/runs', { body: waitWorkflow('once'), headers: { 'Idempotency-Key': 'twice-please' } });
		assert.equal(distinct.status, 202, 'a distinct key runs the same workflow again');
		await api.dispatcher.idle();
		assert.equal((await api.engine.runs()).length, 3);
		assert.equal((await api.call('POST', '/v1/runs', { body: waitWorkflow('x'), headers: { 'Idempotency-Key': 'k'.repeat(201) } })).status, 400);
	});

	it('1,000 concurrent submissions with distinct keys: all accepted (202) and all run, none lost or run twice', async () => {
		const agent = new Agent({ keepAlive: true, maxSockets: 1000 });
		const replies: Reply[] = await Promise.all(
			Array.from({ length: 1000 }, (_, i) =>
				// Half bare (each its own workflow, so its own group), half the same workflow outside any group.
				api.call('POST', '/v1/runs', { agent, body: i % 2 ? waitWorkflow(`bulk-${i}`) : { workflow: waitWorkflow('same'), concurrency_group: null }, headers: { 'Idempotency-Key': `bulk-${i}` } }),
			),
		);
		agent.destroy();
		assert.deepEqual([...new Set(replies.map((r) => r.status))], [202], JSON.stringify(replies.find((r) => r.status !== 202)?.json));
		const ids = new Set(replies.map((r) => r.json.run_id as string));
		assert.equal(ids.size, 1000);
		await api.dispatcher.idle();
		const runs = await api.engine.runs();
		assert.equal(runs.length, 1000, 'each submission ran exactly once');
		assert.deepEqual(new Set(runs.map((r) => r.runId)), ids);
		assert.ok(runs.every((r) => r.status === 'succeeded'));
		const listed = await api.call('GET', '/v1/runs?limit=1000');
		assert.equal(listed.json.runs.length, 1000);
		assert.ok(listed.json.runs.every((r: { status: string; source: string }) => r.status === 'succeeded' && r.source === 'api'));
	});

	it('runs of one group queue in order, boundedly: past the bound a submission is refused (409), not lost', async () => {
		const small = await startTestApi({ maxQueue: 3 });
		try {
			const replies: Reply[] = [];
			for (let i = 0; i < 6; i++) replies.push(await small.call('POST', '/v1/runs', { body: waitWorkflow('same', i === 0 ? 300 : 0), headers: { 'Idempotency-Key': `q-${i}` } }));
			assert.deepEqual(replies.map((r) => r.json.status ?? r.json.error.code), ['started', 'queued', 'queued', 'queued', 'refused', 'refused']);
			assert.deepEqual(replies.slice(1, 4).map((r) => r.json.position), [1, 2, 3]);
			assert.match(replies[4].json.error.message, /queue of api:same is full/);
			await small.dispatcher.idle();
			const order = (await small.engine.runs()).map((r) => r.runId).reverse();
			assert.deepEqual(order, replies.slice(0, 4).map((r) => r.json.run_id), 'one after another, in order');
			assert.equal((await small.call('POST', '/v1/runs', { body: waitWorkflow('same'), headers: { 'Idempotency-Key': 'q-4' } })).status, 202, 'a refused key can come again');
		} finally {
			await small.close();
		}
	});

	it('the envelope gives variables, a group and a policy; problems in it are located in the body as sent', async () => {
		const body = { workflow: { name: 'vars', variables: { who: 'nobody' }, instructions: [{ id: 'say', type: 'util', operation: 'echo', parameters: { value: '${vars.who}' } }] }, variables: { who: 'api' }, policy: 'skip', concurrency_group: 'mine', origin: 'a test' };
		const r = await api.call('POST', '/v1/runs', { body });
		assert.equal(r.status, 202, r.text);
		const done = await finished(r.json.run_id);
		assert.equal(done.origin, 'a test');
		assert.equal(done.group, 'mine');
		const wf = await api.engine.runWorkflow(r.json.run_id);
		assert.equal(wf.variables?.who, 'api');

		const raw = '{\n  "variables": {},\n  "workflow": {\n    "name": "bad",\n    "instructions": [\n      { "type": "file", "operation": "crate" }\n    ]\n  }\n}';
		const bad = await api.call('POST', '/v1/runs', { raw });
		assert.equal(bad.status, 422);
		assert.equal(bad.json.error.code, 'invalid-workflow');
		const [p] = bad.json.error.problems;
		assert.equal(p.path, 'workflow.instructions[0].operation');
		assert.deepEqual([p.line, p.column], [6, 38]);
		assert.equal(raw.split('\n')[5].slice(37, 44), '"crate"');
		assert.match(bad.json.error.message, /line 6, column 38 workflow\.instructions\[0\]\.operation: unknown operation 'crate'/);

		const bare = await api.call('POST', '/v1/runs', { raw: '{"name": "b", "instructions": [{"type": "util", "operation": "nope"}]}' });
		assert.equal(bare.status, 422);
		assert.equal(bare.json.error.problems[0].path, 'instructions[0].operation');
		const shape = await api.call('POST', '/v1/runs', { body: { workflow: waitWorkflow('x'), policy: 'sometimes' } });
		assert.equal(shape.status, 422);
		assert.equal(shape.json.error.code, 'invalid-request');
		assert.equal(shape.json.error.problems[0].path, 'policy');
		assert.equal((await api.call('POST', '/v1/runs', { body: [1, 2] })).status, 422);
	});

	it('a step that needs approval refuses the run up front (409, naming it), unless it waits for decisions', async () => {
		const r = await api.call('POST', '/v1/runs', { body: approvalWorkflow('needs ok') });
		assert.equal(r.status, 409);
		assert.equal(r.json.error.code, 'refused');
		assert.deepEqual(r.json.error.steps.map((s: { id: string }) => s.id), ['ship']);
		assert.match(r.json.error.message, /wait_for_decisions/);
		assert.equal((await api.engine.runs()).length, 0);
	});

	it('with wait_for_decisions the decision is listed and answered through the API; the run goes on', async () => {
		const r = await api.call('POST', '/v1/runs', { body: { workflow: approvalWorkflow('ask'), wait_for_decisions: true } });
		assert.equal(r.status, 202);
		const listed = await until('a pending decision', async () => {
			const l = await api.call('GET', '/v1/decisions');
			return l.json.decisions.length ? l.json : undefined;
		});
		conforms('DecisionList', listed);
		const [d] = listed.decisions;
		assert.deepEqual([d.run_id, d.step_id, d.kind], [r.json.run_id, 'ship', 'approval']);
		const waiting = await run(r.json.run_id);
		assert.deepEqual([waiting.status, waiting.steps[0].state, waiting.steps[0].decision_id], ['running', 'waiting', d.decision_id]);
		assert.equal((await api.call('GET', '/v1/state')).json.decisions_pending, 1);
		const answered = await api.call('POST', `/v1/decisions/${d.decision_id}`, { body: { approve: true, reason: 'looks fine' } });
		assert.equal(answered.status, 200);
		conforms('DecisionAnswered', answered.json);
		assert.equal((await api.call('POST', `/v1/decisions/${d.decision_id}`, { body: { approve: true } })).status, 404, 'answered once');
		assert.equal((await finished(r.json.run_id)).status, 'succeeded');
	});

	it('a decision rejected through the API rejects the step', async () => {
		const r = await api.call('POST', '/v1/runs', { body: { workflow: approvalWorkflow('no'), wait_for_decisions: true } });
		const d = await until('a pending decision', () => api.broker.list()[0]);
		assert.equal((await api.call('POST', `/v1/decisions/${d.request.id}`, { body: { approve: false, reason: 'not today' } })).status, 200);
		const done = await finished(r.json.run_id);
		assert.equal(done.status, 'rejected');
	});

	it('cancel: a running run stops (202 cancelling), a queued one at once (200), an ended one is 409, an unknown one 404', async () => {
		const long = await api.call('POST', '/v1/runs', { body: { workflow: waitWorkflow('long', 30_000), concurrency_group: 'g' } });
		const queued = await api.call('POST', '/v1/runs', { body: { workflow: waitWorkflow('long', 0), concurrency_group: 'g' } });
		assert.equal(queued.json.status, 'queued');
		assert.equal((await api.call('GET', '/v1/state')).json.runs.queued, 1);
		const q = await api.call('POST', `/v1/runs/${queued.json.run_id}/cancel`);
		assert.equal(q.status, 200);
		conforms('CancelResult', q.json);
		assert.equal(q.json.status, 'cancelled');
		assert.equal((await run(queued.json.run_id)).status, 'cancelled');
		const c = await api.call('POST', `/v1/runs/${long.json.run_id}/cancel`);
		assert.deepEqual([c.status, c.json.status], [202, 'cancelling']);
		const done = await finished(long.json.run_id);
		assert.equal(done.status, 'cancelled');
		assert.equal(done.steps[0].state, 'cancelled');
		assert.equal((await api.call('POST', `/v1/runs/${long.json.run_id}/cancel`)).status, 409);
		assert.equal((await api.call('POST', '/v1/runs/20990101-000000-abcd/cancel')).status, 404);
	});

	it('skip policy: a second run of a busy group is skipped (409 skipped)', async () => {
		await api.call('POST', '/v1/runs', { body: { workflow: waitWorkflow('busy', 2000), concurrency_group: 'solo', policy: 'skip' } });
		const r = await api.call('POST', '/v1/runs', { body: { workflow: waitWorkflow('busy', 0), concurrency_group: 'solo', policy: 'skip' } });
		assert.equal(r.status, 409);
		assert.equal(r.json.error.code, 'skipped');
		api.dispatcher.list().forEach((x) => api.dispatcher.cancel(x.runId));
	});

	it('GET /v1/runs lists this server\'s runs and the workspace history (runs started elsewhere too), newest first, with ?limit', async () => {
		const elsewhere = await api.engine.run(api.engine.parse(JSON.stringify(waitWorkflow('by qo run'))));
		const mine = await api.call('POST', '/v1/runs', { body: waitWorkflow('by the api') });
		await api.dispatcher.idle();
		const all = await api.call('GET', '/v1/runs');
		conforms('RunList', all.json);
		assert.deepEqual(all.json.runs.map((r: { run_id: string }) => r.run_id), [mine.json.run_id, elsewhere.runId]);
		assert.equal(all.json.runs[1].source, undefined, 'not started through a trigger');
		assert.equal(all.json.runs[1].status, 'succeeded');
		assert.equal((await api.call('GET', '/v1/runs?limit=1')).json.runs.length, 1);
		assert.equal((await api.call('GET', '/v1/runs?limit=0')).status, 400);
		assert.equal((await api.call('GET', `/v1/runs/${elsewhere.runId}`)).json.steps[0].state, 'succeeded');
		assert.equal((await api.call('POST', `/v1/runs/${elsewhere.runId}/cancel`)).status, 409);
	});

	it('while shutting down, new runs get 503 and the rest still answers', async () => {
		api.server.stopAccepting();
		const r = await api.call('POST', '/v1/runs', { body: waitWorkflow('late') });
		assert.equal(r.status, 503);
		assert.equal(r.json.error.code, 'shutting-down');
		assert.equal((await api.call('GET', '/v1/state')).json.accepting, false);
	});
});
