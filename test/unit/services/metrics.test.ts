import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine, type Engine } from '../../../src/core/engine';
import type { EngineEvent } from '../../../src/core/engine/events';
import type { DecisionAnswer, DecisionPrompter } from '../../../src/core/ports';
import { MetricsStore, type MetricsSummary } from '../../../src/core/services/metrics/store';
import { RELATIVE_ERROR } from '../../../src/core/services/metrics/sketch';
import { tempDir } from '../../helpers/tmp';

const T = Date.parse('2030-01-01T00:00:00Z');
const clockAt = (t = T) => ({ now: () => t, sleep: async () => undefined });

/** Synthetic events of one run: its steps (id → type.operation) started, then finished as given. */
function runEvents(runId: string, workflow: string, steps: { id: string; handler: string; state: 'succeeded' | 'failed' | 'skipped'; ms?: number; agent?: string; usage?: [number, number, number?][] }[]): EngineEvent[] {
	const events: EngineEvent[] = [
		{
			type: 'run-started',
			runId,
			workflow,
			resumed: false,
			steps: steps.map((s) => ({ id: s.id, type: s.handler.split('.')[0], operation: s.handler.split('.')[1], dependencies: [], level: 0 })),
			criticalPath: [],
			levels: 1,
			concurrency: 4,
			mode: 'parallel',
		},
	];
	for (const s of steps) {
		if (s.agent) events.push({ type: 'allocation', runId, id: s.id, assignment: { agent: s.agent, reason: 'test' } });
		for (const [p, c, cost] of s.usage ?? []) events.push({ type: 'usage', runId, id: s.id, model: 'm', promptTokens: p, completionTokens: c, ...(cost !== undefined ? { costUsd: cost } : {}) });
		events.push({ type: 'step', runId, id: s.id, state: s.state, attempt: 1, at: T, ...(s.ms !== undefined ? { durationMs: s.ms } : {}) });
	}
	events.push({ type: 'run-finished', runId, status: steps.some((s) => s.state === 'failed') ? 'failed' : 'succeeded', durationMs: 100, counts: {} });
	return events;
}

/** A seeded PRNG (mulberry32), so the distribution is the same on every run. */
function random(seed: number): () => number {
	return () => {
		seed |= 0;
		seed = (seed + 0x6d2b79f5) | 0;
		let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

const row = <T extends { count: number }>(rows: T[], pick: (r: T) => boolean): T => {
	const r = rows.find(pick);
	assert.ok(r, 'row missing');
	return r;
};

describe('metrics: figures from the event stream, persisted, exported', function () {
	this.timeout(60_000);

	it('counts runs, steps and handlers of real engine runs, with outcomes, durations and throughput', async () => {
		const ws = tempDir();
		const engine = await createEngine({ workspace: ws });
		const store = await MetricsStore.open(engine.stateDir);
		store.subscribe(engine.events);
		const wf = engine.parse(
			JSON.stringify({
				name: 'measured',
				settings: { on_failure: 'continue' },
				instructions: [
					{ id: 'slow', type: 'util', operation: 'wait', parameters: { ms: 60 } },
					{ id: 'quick', type: 'util', operation: 'wait', parameters: { ms: 0 } },
					{ id: 'boom', type: 'util', operation: 'fail', parameters: { message: 'no' } },
					{ id: 'after', type: 'util', operation: 'echo', parameters: { value: 1 }, dependencies: ['boom'] },
				],
			}),
		);
		for (let i = 0; i < 3; i++) await engine.run(wf);
		const s = store.summary();
		const run = row(s.runs, (r) => r.workflow === 'measured');
		assert.equal(run.count, 3);
		assert.deepEqual(run.outcomes, { failed: 3 });
		assert.equal(run.timed, 3);
		const slow = row(s.steps, (r) => r.step === 'slow');
		assert.equal(slow.workflow, 'measured');
		assert.deepEqual([slow.count, slow.succeeded, slow.successRate], [3, 3, 1]);
		assert.ok(slow.meanMs! >= 55 && slow.p95Ms! >= 55 * (1 - RELATIVE_ERROR), `mean ${slow.meanMs}, p95 ${slow.p95Ms}`);
		assert.deepEqual(row(s.steps, (r) => r.step === 'boom').outcomes, { failed: 3 });
		const after = row(s.steps, (r) => r.step === 'after');
		assert.deepEqual([after.count, after.outcomes.skipped], [0, 3], 'skipped steps are counted apart, not as finished');
		const wait = row(s.handlers, (r) => r.handler === 'util.wait');
		assert.deepEqual([wait.count, wait.succeeded, wait.timed], [6, 6, 6]);
		assert.equal(wait.perMinute, 6 / 15);
		assert.equal(row(s.handlers, (r) => r.handler === 'util.fail').successRate, 0);
		assert.deepEqual(store.queue(), { queued: 0, waiting: 0, running: 0 });
		await store.close();
	});

	it('shows steps queued for a slot and waiting for a decision right now', async () => {
		const ws = tempDir();
		let answer!: (a: DecisionAnswer) => void;
		let asked!: () => void;
		const askedP = new Promise<void>((r) => (asked = r));
		const prompter: DecisionPrompter = { decide: () => (asked(), new Promise((r) => (answer = r))) };
		const engine: Engine = await createEngine({ workspace: ws, prompter });
		const store = await MetricsStore.open(engine.stateDir);
		store.subscribe(engine.events);
		const wf = engine.parse(
			JSON.stringify({
				name: 'busy',
				settings: { max_parallel: 2 },
				instructions: [
					{ id: 'ask', type: 'util', operation: 'echo', parameters: { value: 1 }, requires_approval: true },
					{ id: 'a', type: 'util', operation: 'wait', parameters: { ms: 400 } },
					{ id: 'b', type: 'util', operation: 'wait', parameters: { ms: 0 } },
					{ id: 'c', type: 'util', operation: 'wait', parameters: { ms: 0 } },
				],
			}),
		);
		const running = engine.run(wf);
		await askedP;
		await new Promise((r) => setTimeout(r, 50));
		const q = store.queue();
		assert.equal(q.waiting, 1, JSON.stringify(q));
		assert.equal(q.running, 1, JSON.stringify(q));
		assert.equal(q.queued, 2, JSON.stringify(q));
		assert.match(store.prometheusText(), /^qo_steps_now\{state="queued"\} 2$/m);
		answer({ approve: true });
		await running;
		assert.deepEqual(store.queue(), { queued: 0, waiting: 0, running: 0 });
		await store.close();
	});

	it('p95 (and p50, p99) stay within the documented relative error on a known distribution', async () => {
		const store = await MetricsStore.open(tempDir(), { clock: clockAt() });
		const rnd = random(42);
		// Log-normal-ish durations from 1 ms to ~1 min, plus some zeros.
		const values = Array.from({ length: 20_000 }, (_, i) => (i % 50 === 0 ? 0 : Math.round(Math.exp(rnd() * 11))));
		const started = runEvents('r1', 'dist', [{ id: 's', handler: 'util.wait', state: 'succeeded' }])[0];
		store.record(started);
		for (const ms of values) store.record({ type: 'step', runId: 'r1', id: 's', state: 'succeeded', attempt: 1, at: T, durationMs: ms });
		const sorted = [...values].sort((a, b) => a - b);
		const exact = (q: number) => sorted[Math.ceil(q * sorted.length) - 1];
		const s = row(store.summary().steps, (r) => r.step === 's');
		for (const [q, got] of [[0.5, s.p50Ms], [0.95, s.p95Ms], [0.99, s.p99Ms]] as const) {
			const want = exact(q);
			assert.ok(Math.abs(got! - want) <= RELATIVE_ERROR * want, `p${q * 100}: ${got} vs exact ${want}`);
		}
		assert.equal(s.meanMs, values.reduce((a, b) => a + b, 0) / values.length, 'the mean is exact');
		const buckets = Object.keys(JSON.parse(JSON.stringify(store.data())).steps.dist.s.durations.buckets).length;
		assert.ok(buckets < 600, `bounded memory: ${buckets} buckets for 20,000 values`);
	});

	it('per agent: tasks from allocation events, tokens and cost from usage events', async () => {
		const store = await MetricsStore.open(tempDir(), { clock: clockAt() });
		const events = [
			...runEvents('r1', 'agents', [
				{ id: 'code', handler: 'agent.run', state: 'succeeded', ms: 4000, agent: 'coder', usage: [[1000, 200, 0.01], [500, 100, 0.005]] },
				{ id: 'review', handler: 'agent.run', state: 'failed', ms: 2000, agent: 'reviewer', usage: [[300, 30]] },
				{ id: 'plain', handler: 'llm.call', state: 'succeeded', ms: 10, usage: [[10, 5, 0.001]] },
			]),
			...runEvents('r2', 'agents', [{ id: 'code', handler: 'agent.run', state: 'succeeded', ms: 6000, agent: 'coder' }]),
		];
		for (const e of events) store.record(e);
		const s = store.summary();
		const coder = row(s.agents, (r) => r.agent === 'coder');
		assert.deepEqual([coder.count, coder.succeeded, coder.meanMs, coder.promptTokens, coder.completionTokens, coder.llmCalls], [2, 2, 5000, 1500, 300, 2]);
		assert.ok(Math.abs(coder.costUsd - 0.015) < 1e-12);
		const reviewer = row(s.agents, (r) => r.agent === 'reviewer');
		assert.deepEqual([reviewer.count, reviewer.failed, reviewer.successRate, reviewer.promptTokens, reviewer.costUsd], [1, 1, 0, 300, 0]);
		assert.equal(s.agents.length, 2, 'a step no agent took is not an agent figure');
		assert.equal(row(s.handlers, (r) => r.handler === 'agent.run').promptTokens, 1800);
		const run = row(s.runs, (r) => r.workflow === 'agents');
		assert.deepEqual([run.count, run.promptTokens, run.completionTokens, run.llmCalls], [2, 1810, 335, 4]);
	});

	it('persists across restarts (debounced atomic writes), adds up figures of two processes, and survives a damaged file', async () => {
		const dir = tempDir();
		const a = await MetricsStore.open(dir, { saveDelayMs: 30 });
		for (const e of runEvents('r1', 'persist', [{ id: 'x', handler: 'util.echo', state: 'succeeded', ms: 12 }])) a.record(e);
		a.countConflict('file-write');
		assert.equal(existsSync(join(dir, 'metrics.json')), false, 'not written at every event');
		await new Promise((r) => setTimeout(r, 200));
		assert.equal(existsSync(join(dir, 'metrics.json')), true, 'written a moment later');
		assert.deepEqual(readdirSync(dir), ['metrics.json'], 'no temp file left');
		const before: MetricsSummary = a.summary();

		const b = await MetricsStore.open(dir);
		assert.deepEqual({ ...b.summary(), queue: before.queue }, before, 'the same figures after a restart');

		// Two processes (a still open, b) each record a run; the file holds both.
		for (const e of runEvents('r2', 'persist', [{ id: 'x', handler: 'util.echo', state: 'succeeded', ms: 20 }])) a.record(e);
		for (const e of runEvents('r3', 'persist', [{ id: 'x', handler: 'util.echo', state: 'failed', ms: 30 }])) b.record(e);
		b.countConflict('file-write', 2);
		await a.flush();
		await b.flush();
		const c = await MetricsStore.open(dir);
		const x = row(c.summary().steps, (r) => r.step === 'x');
		assert.deepEqual([x.count, x.succeeded, x.failed, x.totalMs], [3, 2, 1, 62]);
		assert.deepEqual(c.summary().conflicts, { 'file-write': 3 });
		await a.close();
		await b.close();

		writeFileSync(join(dir, 'metrics.json'), '{"version": 1, "runs": {tru');
		const d = await MetricsStore.open(dir);
		assert.equal(d.warnings.length, 1);
		assert.match(d.warnings[0], /metrics file .*metrics\.json is corrupt .*; starting fresh figures \(the damaged file is kept as .*metrics\.corrupt-\d+\.json\)/);
		assert.deepEqual(d.summary().steps, []);
		assert.ok(readdirSync(dir).some((f) => /^metrics\.corrupt-\d+\.json$/.test(f)));
		for (const e of runEvents('r4', 'persist', [{ id: 'x', handler: 'util.echo', state: 'succeeded', ms: 5 }])) d.record(e);
		await d.close();
		const again = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'));
		assert.equal(again.steps.persist.x.outcomes.succeeded, 1);

		writeFileSync(join(dir, 'metrics.json'), '{"something": "else"}');
		assert.match((await MetricsStore.open(dir)).warnings[0] ?? '', /not a version 1 metrics file/);
	});

	it('exports Prometheus text format 0.0.4: HELP and TYPE for every family, valid names, escaped labels', async () => {
		const store = await MetricsStore.open(tempDir(), { clock: clockAt() });
		const odd = 'we"ird \\ name\nnext line';
		for (const e of runEvents('r1', odd, [
			{ id: 'a', handler: 'util.echo', state: 'succeeded', ms: 1500, agent: 'coder', usage: [[10, 2, 0.5]] },
			{ id: 'b', handler: 'util.fail', state: 'failed', ms: 0 },
			{ id: 'c', handler: 'util.echo', state: 'skipped' },
		])) store.record(e);
		store.countConflict('file-write');
		const text = store.prometheusText();
		const families = parsePrometheus(text);
		for (const name of ['qo_run_finished_total', 'qo_step_duration_seconds', 'qo_handler_throughput_per_minute', 'qo_agent_tokens_total', 'qo_agent_cost_usd_total', 'qo_steps_now', 'qo_conflicts_total']) {
			assert.ok(families.has(name), `${name} missing`);
		}
		const finished = families.get('qo_step_finished_total')!;
		assert.equal(finished.type, 'counter');
		const a = finished.samples.find((s) => s.labels.step === 'a')!;
		assert.equal(a.labels.workflow, odd, 'label values round-trip through escaping');
		assert.deepEqual([a.labels.outcome, a.value], ['succeeded', 1]);
		const duration = families.get('qo_step_duration_seconds')!;
		assert.equal(duration.type, 'summary');
		const p95 = duration.samples.find((s) => s.name === 'qo_step_duration_seconds' && s.labels.step === 'a' && s.labels.quantile === '0.95')!;
		assert.ok(Math.abs(p95.value - 1.5) <= 1.5 * RELATIVE_ERROR);
		assert.equal(duration.samples.find((s) => s.name === 'qo_step_duration_seconds_count' && s.labels.step === 'a')!.value, 1);
		assert.equal(duration.samples.find((s) => s.name === 'qo_step_duration_seconds_sum' && s.labels.step === 'a')!.value, 1.5);
		assert.deepEqual(
			families.get('qo_agent_tokens_total')!.samples.map((s) => [s.labels.agent, s.labels.kind, s.value]),
			[['coder', 'prompt', 10], ['coder', 'completion', 2]],
		);
		assert.deepEqual(families.get('qo_conflicts_total')!.samples.map((s) => [s.labels.kind, s.value]), [['file-write', 1]]);
		assert.ok(text.endsWith('\n'));
	});
});

interface Sample {
	name: string;
	labels: Record<string, string>;
	value: number;
}

/** A strict reader of the text format: every line a HELP, a TYPE or a sample of a family declared above it. */
function parsePrometheus(text: string): Map<string, { type: string; help: string; samples: Sample[] }> {
	const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
	const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
	const families = new Map<string, { type: string; help: string; samples: Sample[] }>();
	const help = new Map<string, string>();
	for (const line of text.replace(/\n$/, '').split('\n')) {
		let m = /^# HELP (\S+) (.*)$/.exec(line);
		if (m) {
			assert.match(m[1], NAME);
			assert.ok(!help.has(m[1]), `HELP twice for ${m[1]}`);
			help.set(m[1], m[2]);
			continue;
		}
		m = /^# TYPE (\S+) (counter|gauge|summary|histogram|untyped)$/.exec(line);
		if (m) {
			assert.ok(help.has(m[1]), `TYPE before HELP for ${m[1]}`);
			assert.ok(!families.has(m[1]), `TYPE twice for ${m[1]}`);
			if (m[2] === 'counter') assert.match(m[1], /_total$/, 'counters end in _total');
			families.set(m[1], { type: m[2], help: help.get(m[1])!, samples: [] });
			continue;
		}
		assert.ok(!line.startsWith('#'), `unexpected comment: ${line}`);
		m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
		assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
		const [, name, , body, raw] = m;
		const labels: Record<string, string> = {};
		let rest = body ?? '';
		while (rest.length) {
			const lm = /^([^=]+)="((?:[^"\\]|\\.)*)"(,|$)/.exec(rest);
			assert.ok(lm, `bad labels in ${line}`);
			assert.match(lm[1], LABEL);
			labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
			rest = rest.slice(lm[0].length);
		}
		const value = raw === 'NaN' ? NaN : raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
		assert.ok(!Number.isNaN(value) || raw === 'NaN', `bad value in ${line}`);
		const family = families.get(name) ?? families.get(name.replace(/_(sum|count)$/, ''));
		assert.ok(family, `sample ${name} before its TYPE`);
		if (family.type === 'summary' && name === [...families.entries()].find(([, f]) => f === family)![0]) assert.ok('quantile' in labels, `${line} lacks a quantile`);
		family.samples.push({ name, labels, value });
	}
	return families;
}
