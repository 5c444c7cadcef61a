// Many runs at once on one engine: steps contending for one file (or a named resource) never overlap, across runs,
// both finish, and each wait is reported; the resource manager holds steps back while the machine is busy.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine } from '../../../src/core/engine';
import type { EngineEvent } from '../../../src/core/engine/events';
import { PathLocks } from '../../../src/core/engine/pathLocks';
import { createOpenAiClient } from '../../../src/core/services/llm/client';
import { startScriptedOpenAi } from '../../helpers/scriptedOpenAi';
import { tempDir } from '../../helpers/tmp';

/** A step that appends its run's mark to shared.log slowly: a read, a pause, then the write (overlap would lose one). */
const appender = (name: string, mark: string) =>
	JSON.stringify({
		name,
		instructions: [
			{ id: 'append', type: 'exec', operation: 'run', parameters: { command: 'node', args: ['-e', `const fs=require('fs');const t=fs.readFileSync('shared.log','utf8');setTimeout(()=>fs.writeFileSync('shared.log',t+'${mark}\\n'),150)`] }, resources: ['shared-log'] },
			{ id: 'touch', type: 'file', operation: 'modify', parameters: { path: 'shared.txt', append: `${mark}\n` }, dependencies: ['append'] },
		],
	});

describe('runs side by side on one engine', function () {
	this.timeout(60_000);

	it('steps of two runs contending for one file and one named resource never overlap, both finish, and the waits are reported', async () => {
		const ws = tempDir();
		writeFileSync(join(ws, 'shared.log'), '');
		writeFileSync(join(ws, 'shared.txt'), '');
		const engine = await createEngine({ workspace: ws });
		const events: EngineEvent[] = [];
		engine.events.on((e) => events.push(e));
		const runs = await Promise.all(['a', 'b', 'c'].map((m) => engine.run(engine.parse(appender(`run ${m}`, m), join(ws, `${m}.json`)))));
		for (const r of runs) assert.equal(r.status, 'succeeded', r.message);
		assert.deepEqual(readFileSync(join(ws, 'shared.log'), 'utf8').split('\n').filter(Boolean).sort(), ['a', 'b', 'c'], 'no update lost: the resource kept them apart');
		assert.deepEqual(readFileSync(join(ws, 'shared.txt'), 'utf8').split('\n').filter(Boolean).sort(), ['a', 'b', 'c']);
		const conflicts = events.filter((e): e is Extract<EngineEvent, { type: 'conflict' }> => e.type === 'conflict');
		assert.ok(conflicts.length >= 2, 'the later steps waited');
		assert.ok(conflicts.some((c) => c.holders.some((h) => h.runId !== c.runId)), 'a wait across runs');
		const waiting = events.find((e) => e.type === 'step' && e.state === 'waiting' && /in use by step append of run/.test(e.message ?? ''));
		assert.ok(waiting, 'the waiting step says what it waits for and who holds it');
	});

	it('a read by one run waits while another run writes that file, and then reads what was written', async () => {
		const server = await startScriptedOpenAi([{ text: 'generated', delayMs: 400 }]);
		try {
			const ws = tempDir();
			writeFileSync(join(ws, 'data.txt'), 'old');
			const engine = await createEngine({ workspace: ws, llm: createOpenAiClient({ baseUrl: server.baseUrl, model: 'm' }) });
			const events: EngineEvent[] = [];
			engine.events.on((e) => events.push(e));
			const writer = JSON.stringify({ name: 'writer', instructions: [{ id: 'gen', type: 'llm', operation: 'generate', parameters: { prompt: 'x', output_path: 'data.txt' } }] });
			const reader = JSON.stringify({ name: 'reader', instructions: [{ id: 'pause', type: 'util', operation: 'wait', parameters: { ms: 100 } }, { id: 'r', type: 'file', operation: 'read', parameters: { path: 'data.txt' }, dependencies: ['pause'], update_context: true, context_key: 'seen' }] });
			const [w, r] = await Promise.all([engine.run(engine.parse(writer, join(ws, 'w.json'))), engine.run(engine.parse(reader, join(ws, 'r.json')))]);
			assert.equal(w.status, 'succeeded', w.message);
			assert.equal(r.status, 'succeeded', r.message);
			const conflict = events.find((e): e is Extract<EngineEvent, { type: 'conflict' }> => e.type === 'conflict' && e.id === 'r');
			assert.ok(conflict, 'the read waited');
			assert.deepEqual(conflict.paths, ['data.txt']);
			assert.deepEqual(conflict.holders, [{ runId: w.runId, stepId: 'gen' }]);
			assert.match(readFileSync(join(ws, '.quantum', 'context.json'), 'utf8'), /"seen": "generated"/, 'it read the finished write');
		} finally {
			await server.close();
		}
	});

	it('by setting, the lower priority number gets a freed path first', async () => {
		const locks = new PathLocks('priority');
		const order: string[] = [];
		const first = await locks.acquire({ reads: [], writes: ['x'] }, { runId: 'r1', stepId: 'holder' });
		const low = locks.acquire({ reads: [], writes: ['x'] }, { runId: 'r2', stepId: 'late-but-urgent', priority: -5 });
		const normal = locks.acquire({ reads: [], writes: ['x'] }, { runId: 'r3', stepId: 'early', priority: 0 });
		void normal.then((release) => (order.push('early'), release()));
		void low.then((release) => (order.push('late-but-urgent'), release()));
		// Arrival order would be early first; priority puts -5 ahead.
		const fifo = new PathLocks();
		const held = await fifo.acquire({ reads: [], writes: ['x'] });
		const seen: string[] = [];
		void fifo.acquire({ reads: [], writes: ['x'] }, { runId: 'a', stepId: 'one', priority: 5 }).then((r) => (seen.push('one'), r()));
		void fifo.acquire({ reads: [], writes: ['x'] }, { runId: 'b', stepId: 'two', priority: -5 }).then((r) => (seen.push('two'), r()));
		first();
		held();
		await new Promise((r) => setTimeout(r, 10));
		assert.deepEqual(order, ['late-but-urgent', 'early']);
		assert.deepEqual(seen, ['one', 'two']);
		assert.equal(locks.conflicts, 2);
	});

	it('the resource manager holds steps back while CPU or memory is above the limits, saying why, then lets them run', async () => {
		const ws = tempDir();
		let load = 3.5;
		const engine = await createEngine({ workspace: ws, resourceLimits: { cpu: 0.9, memory: 0.95 }, resourceProbe: () => ({ cpu: load, memory: 0.5 }) });
		const events: EngineEvent[] = [];
		engine.events.on((e) => events.push(e));
		setTimeout(() => (load = 0.2), 400);
		const t0 = Date.now();
		const r = await engine.run(engine.parse(JSON.stringify({ name: 'busy', instructions: [{ id: 'e', type: 'util', operation: 'echo', parameters: { value: 1 } }] }), join(ws, 'b.json')));
		assert.equal(r.status, 'succeeded');
		assert.ok(Date.now() - t0 >= 350, 'it waited for the load to fall');
		const held = events.find((e) => e.type === 'step' && e.state === 'waiting');
		assert.match(held?.type === 'step' ? (held.message ?? '') : '', /held back: CPU load 3\.50 per core is above the limit 0\.9/);
	});
});
