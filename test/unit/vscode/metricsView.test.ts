import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '../../../src/core/engine';
import { MetricsStore } from '../../../src/core/services/metrics/store';
import { hostToWebviewSchema } from '../../../src/protocol/messages';
import { metricsView } from '../../../src/vscode/model/metricsView';

describe("the board's metrics (from the telemetry store)", () => {
	it('real runs give the top handlers and steps by time with counts, success rate, mean and p95, valid for the protocol', async () => {
		const ws = await mkdtemp(join(tmpdir(), 'qo-metrics-view-'));
		try {
			const engine = await createEngine({ workspace: ws, stateDir: join(ws, '.quantum') });
			const store = await MetricsStore.open(engine.stateDir);
			const sub = store.subscribe(engine.events);
			const workflow = {
				version: 1,
				name: 'mv',
				instructions: [
					{ id: 'a', type: 'file', operation: 'create', parameters: { path: 'a.txt', content: 'a' } },
					{ id: 'b', type: 'util', operation: 'echo', dependencies: ['a'], parameters: { value: 'b' } },
				],
			};
			for (let i = 0; i < 2; i++) {
				const r = await engine.run(engine.parse(JSON.stringify({ ...workflow, instructions: workflow.instructions.map((x) => (x.id === 'a' ? { ...x, parameters: { ...x.parameters, overwrite: true } } : x)) }), 'mv.json'));
				assert.equal(r.status, 'succeeded', r.message);
			}
			const view = metricsView([{ folder: 'ws', summary: store.summary() }]);
			assert.equal(view.runs.count, 2);
			assert.equal(view.runs.successRate, 1);
			const create = view.handlers.find((h) => h.label === 'file.create');
			assert.ok(create, JSON.stringify(view.handlers));
			assert.equal(create.count, 2);
			assert.equal(create.successRate, 1);
			assert.ok(create.meanMs !== undefined && create.p95Ms !== undefined);
			assert.deepEqual(view.steps.map((s) => s.label).sort(), ['mv › a', 'mv › b']);
			// Sorted by total time, longest first.
			for (let i = 1; i < view.handlers.length; i++) assert.ok(view.handlers[i - 1].totalMs >= view.handlers[i].totalMs);
			assert.ok(hostToWebviewSchema.safeParse({ type: 'metrics', metrics: view }).success);
			sub.dispose();
			await store.close();
			engine.dispose();
		} finally {
			await rm(ws, { recursive: true, force: true });
		}
	});

	it('several folders: rows are prefixed with the folder, cut to the top N, runs added up', () => {
		const fig = (count: number, totalMs: number) => ({ count, succeeded: count, failed: 0, outcomes: { succeeded: count }, successRate: 1, timed: count, totalMs, meanMs: totalMs / count, perMinute: 0, promptTokens: 0, completionTokens: 0, costUsd: 0, llmCalls: 0 });
		const summary = (n: number) => ({
			since: '2026-11-25T00:00:00.000Z',
			updatedAt: `2026-11-25T0${n}:00:00.000Z`,
			runs: [{ workflow: 'w', ...fig(n, 10) }],
			steps: [],
			handlers: Array.from({ length: 5 }, (_, i) => ({ handler: `h${i}`, ...fig(1, (i + 1) * n) })),
			agents: [],
			conflicts: {},
			queue: { queued: 0, waiting: 0, running: 0 },
			quantileRelativeError: 0.01,
		});
		const view = metricsView([{ folder: 'one', summary: summary(1) }, { folder: 'two', summary: summary(2) }], 4);
		assert.deepEqual(view.handlers.map((h) => h.label), ['two: h4', 'two: h3', 'two: h2', 'one: h4']);
		assert.equal(view.runs.count, 3);
		assert.equal(view.updatedAt, '2026-11-25T02:00:00.000Z');
	});
});
