// The rest of the API over real HTTP: state, checkpoints, goals, /metrics as Prometheus text, and the OpenAPI
// document against the route table and the live server.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { API_ROUTES } from '../../../src/core/services/api/routes';
import { startTestApi, until, waitWorkflow, type TestApi } from '../../helpers/apiClient';
import { baseRegistry, nodeScript, projectWorkspace } from '../orchestrate/helpers';

interface Sample {
	name: string;
	labels: Record<string, string>;
	value: number;
}

/** A strict reader of Prometheus text format 0.0.4: throws on any line it would not accept. */
export function parsePrometheus(text: string): { types: Map<string, string>; samples: Sample[] } {
	assert.ok(text.endsWith('\n'), 'ends with a newline');
	const types = new Map<string, string>();
	const helped = new Set<string>();
	const samples: Sample[] = [];
	const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
	for (const line of text.slice(0, -1).split('\n')) {
		let m: RegExpExecArray | null;
		if ((m = new RegExp(`^# HELP (${NAME}) (.*)$`).exec(line))) {
			assert.ok(!helped.has(m[1]), `one HELP for ${m[1]}`);
			helped.add(m[1]);
		} else if ((m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line))) {
			assert.ok(!types.has(m[1]), `one TYPE for ${m[1]}`);
			types.set(m[1], m[2]);
		} else if ((m = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: -?\\d+)?$`).exec(line))) {
			const [, name, labelText, value] = m;
			assert.ok(types.has(name), `${name}: a sample after its TYPE line`);
			if (types.get(name) === 'counter') assert.match(name, /_total$/, 'counters end in _total');
			const labels: Record<string, string> = {};
			const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/y;
			let pos = 0;
			while (labelText && pos < labelText.length) {
				labelRe.lastIndex = pos;
				const l = labelRe.exec(labelText);
				assert.ok(l, `label syntax in ${line}`);
				labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
				pos = labelRe.lastIndex;
			}
			const v = value === '+Inf' ? Infinity : value === '-Inf' ? -Infinity : Number(value);
			assert.ok(value === 'NaN' || !Number.isNaN(v), `a number: ${line}`);
			samples.push({ name, labels, value: v });
		} else {
			assert.fail(`not a Prometheus text line: ${JSON.stringify(line)}`);
		}
	}
	return { types, samples };
}

describe('local API: state, checkpoints, goals, metrics and the OpenAPI document', function () {
	this.timeout(60_000);
	let api: TestApi;

	afterEach(async () => {
		await api?.close();
	});

	it('GET /v1/state: uptime, runs running and queued, pending decisions, goals', async () => {
		api = await startTestApi();
		await api.call('POST', '/v1/runs', { body: { workflow: waitWorkflow('slow', 5000), concurrency_group: 'g' } });
		await api.call('POST', '/v1/runs', { body: { workflow: waitWorkflow('slow', 0), concurrency_group: 'g' } });
		const s = await api.call('GET', '/v1/state');
		assert.equal(s.status, 200);
		assert.deepEqual(s.json.runs, { running: 1, queued: 1 });
		assert.equal(s.json.decisions_pending, 0);
		assert.equal(s.json.workspace, api.ws);
		assert.ok(s.json.uptime_seconds >= 0);
		assert.equal(s.json.accepting, true);
		for (const r of api.dispatcher.list()) api.dispatcher.cancel(r.runId);
	});

	it('POST /v1/checkpoints saves the given paths (201); the same name again is 409, a bad name 422, a path outside is skipped', async () => {
		api = await startTestApi();
		writeFileSync(join(api.ws, 'notes.txt'), 'keep me\n');
		const r = await api.call('POST', '/v1/checkpoints', { body: { name: 'before-change', paths: ['notes.txt'] } });
		assert.equal(r.status, 201, r.text);
		assert.deepEqual([r.json.name, r.json.files], ['before-change', 1]);
		assert.equal((await api.engine.checkpoints.list())[0].name, 'before-change');
		const again = await api.call('POST', '/v1/checkpoints', { body: { name: 'before-change', paths: ['notes.txt'] } });
		assert.equal(again.status, 409);
		assert.match(again.json.error.message, /already exists/);
		assert.equal((await api.call('POST', '/v1/checkpoints', { body: { name: 'before-change', paths: ['notes.txt'], replace: true } })).status, 201);
		assert.equal((await api.call('POST', '/v1/checkpoints', { body: { name: '../escape' } })).status, 422);
		const outside = await api.call('POST', '/v1/checkpoints', { body: { name: 'out', paths: ['../../etc/passwd'] } });
		assert.equal(outside.json.files, 0);
		assert.match(outside.json.skipped[0].reason, /escapes the workspace/, 'a path outside is reported, never saved');
	});

	it('GET /metrics is Prometheus text: runs by source and status, queue, decisions, uptime, requests', async () => {
		api = await startTestApi();
		await api.call('POST', '/v1/runs', { body: waitWorkflow('m1') });
		await api.call('POST', '/v1/runs', { body: { id: 'f', type: 'exec', operation: 'run', parameters: { command: process.execPath, args: ['-e', 'process.exit(1)'] } } });
		await api.dispatcher.idle();
		await api.call('GET', '/v1/nowhere');
		const r = await api.call('GET', '/metrics');
		assert.equal(r.status, 200);
		assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
		const { types, samples } = parsePrometheus(r.text);
		const value = (name: string, labels: Record<string, string> = {}) => samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
		assert.equal(types.get('qo_runs_finished_total'), 'counter');
		assert.equal(value('qo_runs_submitted_total', { source: 'api' }), 2);
		assert.equal(value('qo_runs_finished_total', { source: 'api', status: 'succeeded' }), 1);
		assert.equal(value('qo_runs_finished_total', { source: 'api', status: 'failed' }), 1);
		assert.equal(value('qo_queue_length'), 0);
		assert.equal(value('qo_runs_running'), 0);
		assert.equal(value('qo_decisions_pending'), 0);
		assert.equal(types.get('qo_uptime_seconds'), 'gauge');
		assert.equal(value('qo_api_requests_total', { code: '404' }), 1);
		assert.equal(value('qo_goals_active'), 0);
		assert.equal((await api.call('GET', '/metrics', { token: null })).status, 401, 'metrics need the token too');
	});

	it('a metricsText provider (the telemetry store) replaces the default body', async () => {
		api = await startTestApi({ metricsText: async () => '# HELP qo_custom_total A test.\n# TYPE qo_custom_total counter\nqo_custom_total{label="a \\"quoted\\" one"} 3\n' });
		const r = await api.call('GET', '/metrics');
		const { samples } = parsePrometheus(r.text);
		assert.deepEqual(samples, [{ name: 'qo_custom_total', labels: { label: 'a "quoted" one' }, value: 3 }]);
	});

	it('POST /v1/goals with plan_only: analysed and planned offline in the background, the plan saved, nothing run', async () => {
		const ws = projectWorkspace({ test: nodeScript('ok') });
		api = await startTestApi({ workspace: ws, registry: baseRegistry() });
		const r = await api.call('POST', '/v1/goals', { body: { goal: 'Run the tests', plan_only: true } });
		assert.equal(r.status, 202, r.text);
		assert.deepEqual(Object.keys(r.json), ['goal_id', 'status']);
		const g = await until('the goal to end', async () => {
			const x = await api.call('GET', `/v1/goals/${r.json.goal_id}`);
			return x.json.done ? x.json : undefined;
		});
		assert.equal(g.outcome, 'planned', g.message);
		assert.ok(existsSync(g.plan_file), 'the plan file exists');
		assert.deepEqual(g.transitions.map((t: { state: string }) => t.state), ['analysing', 'planning', 'review', 'completing']);
		assert.deepEqual(g.run_ids, []);
		assert.equal((await api.engine.runs()).length, 0);
		const list = await api.call('GET', '/v1/goals');
		assert.deepEqual(list.json.goals.map((x: { goal_id: string }) => x.goal_id), [r.json.goal_id]);
		assert.equal((await api.call('POST', '/v1/goals', { body: { goal: '   ' } })).status, 422);
	});

	it('a goal whose plan needs approval waits in the decision queue; answered through the API, it succeeds', async () => {
		const ws = projectWorkspace({ test: nodeScript('ok'), deploy: 'echo shipped > shipped.txt' });
		api = await startTestApi({ workspace: ws, registry: baseRegistry() });
		const r = await api.call('POST', '/v1/goals', { body: { goal: 'Deploy the app to production', wait_for_decisions: true } });
		assert.equal(r.status, 202);
		const d = await until('a decision', async () => (await api.call('GET', '/v1/decisions')).json.decisions[0], 30_000);
		assert.equal(d.step_id, 'deploy');
		const escalating = (await api.call('GET', `/v1/goals/${r.json.goal_id}`)).json;
		assert.equal(escalating.state, 'escalating');
		assert.equal(escalating.run_id, d.run_id);
		assert.equal((await api.call('POST', `/v1/decisions/${d.decision_id}`, { body: { approve: true } })).status, 200);
		const g = await until('the goal to end', async () => {
			const x = await api.call('GET', `/v1/goals/${r.json.goal_id}`);
			return x.json.done ? x.json : undefined;
		}, 30_000);
		assert.equal(g.outcome, 'succeeded', g.message);
		assert.equal(readFileSync(join(ws, 'shipped.txt'), 'utf8').trim(), 'shipped');
		assert.equal((await api.call('GET', `/v1/runs/${g.run_id}`)).json.status, 'succeeded');
	});

	it('a goal that does not wait for decisions has its approvals refused: the run is rejected, never silently passed', async () => {
		const ws = projectWorkspace({ test: nodeScript('ok'), deploy: 'echo shipped > shipped.txt' });
		api = await startTestApi({ workspace: ws, registry: baseRegistry() });
		const r = await api.call('POST', '/v1/goals', { body: { goal: 'Deploy the app to production' } });
		const g = await until('the goal to end', async () => {
			const x = await api.call('GET', `/v1/goals/${r.json.goal_id}`);
			return x.json.done ? x.json : undefined;
		}, 30_000);
		assert.equal(g.outcome, 'rejected', g.message);
		assert.equal(existsSync(join(ws, 'shipped.txt')), false);
	});

	it('schemas/openapi.json documents exactly the route table, and the server answers every documented route', async () => {
		const doc = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'schemas', 'openapi.json'), 'utf8'));
		assert.equal(doc.openapi, '3.1.0');
		const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
		assert.deepEqual(documented.sort(), API_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
		// Every internal $ref resolves.
		const refs = JSON.stringify(doc).match(/"\$ref":"#\/[^"]+"/g) ?? [];
		for (const ref of refs) {
			const target = ref.slice(9, -1).split('/').slice(1).reduce((node: Record<string, unknown> | undefined, key) => node?.[key] as Record<string, unknown> | undefined, doc);
			assert.ok(target, `${ref} resolves`);
		}
		api = await startTestApi();
		for (const line of documented) {
			const [method, p] = line.split(' ');
			const r = await api.call(method, p.replace('{id}', 'x'), method === 'POST' ? { body: {} } : {});
			assert.notEqual(r.status, 405, line);
			assert.ok(r.status !== 404 || (r.json.error.message.startsWith('no ') && !r.json.error.message.startsWith('no route')), `${line} is served (${r.text})`);
		}
	});
});
