import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine, type Engine, type EngineOptions } from '../../../src/core/engine';
import type { EngineEvent } from '../../../src/core/engine/events';
import { approveAll, type DecisionPrompter, type DecisionRequest } from '../../../src/core/ports';
import { runPaths } from '../../../src/core/state/runStore';
import { Journal, readJournal } from '../../../src/core/state/journal';
import { StateError, StepError } from '../../../src/core/errors';
import { tempDir } from '../../helpers/tmp';
import { withFullDisk, withWriteHook } from '../state/helpers';

async function engineIn(ws: string, opts: Partial<EngineOptions> = {}): Promise<{ engine: Engine; events: EngineEvent[] }> {
	const engine = await createEngine({ workspace: ws, ...opts });
	const events: EngineEvent[] = [];
	engine.events.on((e) => events.push(e));
	return { engine, events };
}

function workflow(engine: Engine, instructions: unknown[], extra: Record<string, unknown> = {}) {
	return engine.parse(JSON.stringify({ name: 'test', instructions, ...extra }), join(engine.workspace, 'wf.json'));
}

function stepStates(events: EngineEvent[], id: string): string[] {
	return events.filter((e): e is Extract<EngineEvent, { type: 'step' }> => e.type === 'step' && e.id === id).map((e) => e.state);
}

describe('engine', () => {
	it('runs a workflow, passes outputs between steps, and reports every state change', async () => {
		const ws = tempDir();
		const { engine, events } = await engineIn(ws);
		const wf = workflow(engine, [
			{ id: 'make', type: 'file', operation: 'create', parameters: { path: 'a.txt', content: 'alpha' } },
			{ id: 'read', type: 'file', operation: 'read', parameters: { path: 'a.txt' }, dependencies: ['make'] },
			{ id: 'echo', type: 'util', operation: 'echo', parameters: { value: 'got ${steps.read.output}' } },
		]);
		const result = await engine.run(wf);
		assert.equal(result.status, 'succeeded');
		assert.equal(readFileSync(join(ws, 'a.txt'), 'utf8'), 'alpha');
		assert.deepEqual(stepStates(events, 'echo'), ['queued', 'running', 'succeeded']);
		assert.equal(events[0].type, 'run-started');
		assert.equal(events.at(-1)!.type, 'run-finished');
	});

	it('a failed step skips its dependents and the run fails with the step named', async () => {
		const ws = tempDir();
		const { engine } = await engineIn(ws);
		const wf = workflow(engine, [
			{ id: 'boom', type: 'util', operation: 'fail', parameters: { message: 'no luck' } },
			{ id: 'after', type: 'util', operation: 'echo', parameters: { value: 1 }, dependencies: ['boom'] },
			{ id: 'cleanup', type: 'util', operation: 'echo', parameters: { value: 2 }, dependencies: ['boom'], run_if: 'failure' },
		]);
		const result = await engine.run(wf);
		assert.equal(result.status, 'failed');
		assert.match(result.message!, /boom: no luck/);
		assert.deepEqual(result.counts, { failed: 1, skipped: 1, succeeded: 1 });
	});

	it('rolls a run back byte for byte: created files go, modified and deleted ones come back with their modes', async () => {
		const ws = tempDir();
		const binary = Buffer.from([0, 1, 2, 255, 254, 10, 13, 0]);
		writeFileSync(join(ws, 'keep.bin'), binary);
		writeFileSync(join(ws, 'edit.sh'), '#!/bin/sh\necho old\n');
		chmodSync(join(ws, 'edit.sh'), 0o755);
		mkdirSync(join(ws, 'dir'));
		writeFileSync(join(ws, 'dir', 'gone.txt'), 'bye');
		const { engine } = await engineIn(ws);
		const wf = workflow(engine, [
			{ id: 'new', type: 'file', operation: 'create', parameters: { path: 'new/file.txt', content: 'fresh' } },
			{ id: 'edit', type: 'file', operation: 'modify', parameters: { path: 'edit.sh', find: 'old', replace: 'new' } },
			{ id: 'bin', type: 'file', operation: 'modify', parameters: { path: 'keep.bin', content: 'text now' } },
			{ id: 'rm', type: 'file', operation: 'delete', parameters: { path: 'dir', recursive: true } },
		]);
		const result = await engine.run(wf);
		assert.equal(result.status, 'succeeded');
		assert.equal(readFileSync(join(ws, 'edit.sh'), 'utf8'), '#!/bin/sh\necho new\n');
		assert.equal(existsSync(join(ws, 'dir')), false);
		const rb = await engine.rollback(result.runId);
		assert.deepEqual(rb.conflicts, []);
		assert.equal(existsSync(join(ws, 'new')), false);
		assert.equal(readFileSync(join(ws, 'edit.sh'), 'utf8'), '#!/bin/sh\necho old\n');
		assert.equal(statSync(join(ws, 'edit.sh')).mode & 0o777, 0o755);
		assert.deepEqual(readFileSync(join(ws, 'keep.bin')), binary);
		assert.equal(readFileSync(join(ws, 'dir', 'gone.txt'), 'utf8'), 'bye');
		assert.equal((await engine.runs())[0].status, 'rolled_back');
	});

	it('leaves a file the user changed after the run alone on rollback, and reports the conflict', async () => {
		const ws = tempDir();
		writeFileSync(join(ws, 'notes.txt'), 'v1');
		const { engine } = await engineIn(ws);
		const result = await engine.run(workflow(engine, [{ type: 'file', operation: 'modify', parameters: { path: 'notes.txt', content: 'v2' } }]));
		writeFileSync(join(ws, 'notes.txt'), 'user edit');
		const rb = await engine.rollback(result.runId);
		assert.equal(rb.conflicts.length, 1);
		assert.equal(readFileSync(join(ws, 'notes.txt'), 'utf8'), 'user edit');
		const forced = await engine.rollback(result.runId, { force: true });
		assert.deepEqual(forced.conflicts, []);
		assert.equal(readFileSync(join(ws, 'notes.txt'), 'utf8'), 'v1');
	});

	it('a step that requires approval is rejected headless, its dependents skipped, and the run says "rejected"', async () => {
		const ws = tempDir();
		const { engine } = await engineIn(ws);
		const wf = workflow(engine, [
			{ id: 'ask', type: 'file', operation: 'create', parameters: { path: 'x.txt', content: 'x' }, requires_approval: true },
			{ id: 'next', type: 'util', operation: 'echo', parameters: { value: 1 }, dependencies: ['ask'] },
		]);
		const result = await engine.run(wf);
		assert.equal(result.status, 'rejected');
		assert.match(result.message!, /not approved: no one to ask/);
		assert.equal(existsSync(join(ws, 'x.txt')), false);
		assert.equal(result.counts.skipped, 1);
	});

	it("the plan of a step that waits for another step's output still resolves its variables", async () => {
		const ws = tempDir();
		const { engine } = await engineIn(ws);
		const wf = workflow(
			engine,
			[
				{ id: 'a', type: 'util', operation: 'echo', parameters: { value: 'x' } },
				{ id: 'b', type: 'file', operation: 'modify', parameters: { path: '${vars.dir}/f.md', append: '${steps.a.output}' } },
			],
			{ variables: { dir: 'out' } },
		);
		const plan = await engine.plan(wf);
		assert.equal(plan.steps[1].summary, 'append to out/f.md');
		assert.deepEqual(plan.steps[1].touches.writes, ['out/f.md']);
	});

	it('tells a run from its journal: start, each step, decisions, the end and a rollback', async () => {
		const ws = tempDir();
		const { engine } = await engineIn(ws, { prompter: approveAll });
		const result = await engine.run(
			workflow(engine, [
				{ id: 'w', type: 'file', operation: 'create', parameters: { path: 'a.txt', content: 'a' }, requires_approval: true },
				{ id: 'e', type: 'util', operation: 'echo', parameters: { value: 1 } },
			]),
		);
		await engine.rollback(result.runId);
		const log = (await engine.runLog(result.runId)).join('\n');
		assert.match(log, /started test/);
		assert.match(log, /w: approval approved/);
		assert.match(log, / w succeeded/);
		assert.match(log, / e succeeded/);
		assert.match(log, /finished: succeeded/);
		assert.match(log, /rolled back/);
		const wf = await engine.runWorkflow(result.runId);
		assert.deepEqual(wf.instructions.map((i) => i.id), ['w', 'e']);
	});

	it('edit-then-approve runs the step with the edited parameters', async () => {
		const ws = tempDir();
		const asked: DecisionRequest[] = [];
		const prompter: DecisionPrompter = {
			async decide(req) {
				asked.push(req);
				return { approve: true, parameters: { ...req.parameters, content: 'edited' } };
			},
		};
		const { engine } = await engineIn(ws, { prompter });
		const result = await engine.run(
			workflow(engine, [{ id: 'w', type: 'file', operation: 'create', parameters: { path: 'y.txt', content: 'orig' }, requires_approval: true }]),
		);
		assert.equal(result.status, 'succeeded');
		assert.equal(asked.length, 1);
		assert.match(asked[0].summary, /y\.txt/);
		assert.equal(readFileSync(join(ws, 'y.txt'), 'utf8'), 'edited');
	});

	it('writes to files tools trust (.vscode/) need approval even without requires_approval', async () => {
		const ws = tempDir();
		const { engine } = await engineIn(ws);
		const result = await engine.run(workflow(engine, [{ type: 'file', operation: 'create', parameters: { path: '.vscode/settings.json', content: '{}' } }]));
		assert.equal(result.status, 'rejected');
		assert.equal(existsSync(join(ws, '.vscode')), false);
	});

	it('retries a failing step with backoff and reports each retry', async () => {
		const ws = tempDir();
		const { engine, events } = await engineIn(ws);
		const wf = workflow(engine, [
			{
				id: 'flaky',
				type: 'exec',
				operation: 'run',
				parameters: { command: 'n=$(cat count 2>/dev/null || echo 0); echo $((n+1)) > count; [ $n -ge 2 ]' },
				retry: { attempts: 4, backoff_ms: 5, max_backoff_ms: 20 },
			},
		]);
		const result = await engine.run(wf);
		assert.equal(result.status, 'succeeded');
		assert.deepEqual(stepStates(events, 'flaky').filter((s) => s === 'retrying').length, 2);
	});

	it('a step past its timeout fails with a timeout message and its process is stopped', async () => {
		const ws = tempDir();
		const { engine } = await engineIn(ws);
		const started = Date.now();
		const result = await engine.run(workflow(engine, [{ id: 'slow', type: 'exec', operation: 'run', parameters: { command: 'sleep 30' }, timeout_ms: 200 }]));
		assert.equal(result.status, 'failed');
		assert.match(result.message!, /timed out after 200 ms/);
		assert.ok(Date.now() - started < 10_000);
	});

	it('cancelling a run stops running commands and cancels the rest', async () => {
		const ws = tempDir();
		const { engine } = await engineIn(ws);
		const controller = new AbortController();
		const wf = workflow(engine, [
			{ id: 'long', type: 'exec', operation: 'run', parameters: { command: 'sleep 30' } },
			{ id: 'later', type: 'util', operation: 'echo', parameters: { value: 1 }, dependencies: ['long'] },
		]);
		setTimeout(() => controller.abort(), 200);
		const started = Date.now();
		const result = await engine.run(wf, { signal: controller.signal });
		assert.equal(result.status, 'cancelled');
		assert.equal(result.counts.cancelled, 2);
		assert.ok(Date.now() - started < 10_000);
	});

	it('global context set by one run is visible to the next', async () => {
		const ws = tempDir();
		const { engine } = await engineIn(ws);
		await engine.run(workflow(engine, [{ id: 'v', type: 'util', operation: 'echo', parameters: { value: 42 }, update_context: true, context_key: 'answer' }]));
		const second = await engine.run(workflow(engine, [{ id: 'use', type: 'file', operation: 'create', parameters: { path: 'ctx.txt', content: 'answer=${context.answer}' } }]));
		assert.equal(second.status, 'succeeded');
		assert.equal(readFileSync(join(ws, 'ctx.txt'), 'utf8'), 'answer=42');
	});

	it('on_failure "rollback" undoes the run, including undo commands, when a step fails', async () => {
		const ws = tempDir();
		const { engine } = await engineIn(ws);
		const wf = workflow(
			engine,
			[
				{ id: 'made', type: 'file', operation: 'create', parameters: { path: 'made.txt', content: 'x' } },
				{ id: 'side', type: 'exec', operation: 'run', parameters: { command: 'touch side-effect' }, undo: { command: 'rm -f side-effect' } },
				{ id: 'boom', type: 'util', operation: 'fail', parameters: { message: 'stop here' }, dependencies: ['made', 'side'] },
			],
			{ settings: { on_failure: 'rollback' } },
		);
		const result = await engine.run(wf);
		assert.equal(result.status, 'rolled_back');
		assert.equal(existsSync(join(ws, 'made.txt')), false);
		assert.equal(existsSync(join(ws, 'side-effect')), false);
		assert.equal(result.rollback!.compensations.length, 1);
	});

	it('resumes an interrupted run: finished steps are not run again, the rest are', async () => {
		const ws = tempDir();
		const { engine } = await engineIn(ws, { prompter: approveAll });
		const file = join(ws, 'wf.json');
		writeFileSync(
			file,
			JSON.stringify({
				name: 'resumable',
				instructions: [
					{ id: 'one', type: 'exec', operation: 'run', parameters: { command: 'echo x >> one.log' } },
					{ id: 'two', type: 'file', operation: 'create', parameters: { path: 'two.txt', content: 'two' }, dependencies: ['one'] },
				],
			}),
		);
		const wf = await engine.load(file);
		const first = await engine.run(wf);
		assert.equal(first.status, 'succeeded');
		// Make it look interrupted: drop the run-end and the second step's end from the journal.
		const paths = runPaths(engine.stateDir, first.runId);
		const records = (await readJournal(paths.journal)).records.filter((r) => r.t !== 'run-end' && !(r.t === 'step-end' && r.id === 'two'));
		rmSync(paths.journal);
		rmSync(join(ws, 'two.txt'));
		const j = await Journal.open(paths.journal);
		for (const r of records) j.append(r);
		await j.flush();
		await j.close();
		const resumed = await engine.resume(first.runId);
		assert.equal(resumed.status, 'succeeded');
		assert.equal(readFileSync(join(ws, 'one.log'), 'utf8'), 'x\n', 'the finished exec step ran again');
		assert.equal(readFileSync(join(ws, 'two.txt'), 'utf8'), 'two');
		await assert.rejects(engine.resume(first.runId), /already succeeded/);
	});

	it('refuses to resume when the workflow file changed, unless forced', async () => {
		const ws = tempDir();
		const { engine } = await engineIn(ws);
		const file = join(ws, 'wf.json');
		writeFileSync(file, JSON.stringify({ name: 'w', instructions: [{ id: 'f', type: 'util', operation: 'fail', parameters: { message: 'x' } }] }));
		const first = await engine.run(await engine.load(file));
		assert.equal(first.status, 'failed');
		writeFileSync(file, JSON.stringify({ name: 'w', instructions: [{ id: 'f', type: 'util', operation: 'echo', parameters: { value: 'fixed' } }] }));
		await assert.rejects(engine.resume(first.runId), /changed since run .* started; resume with --force/);
		const forced = await engine.resume(first.runId, { force: true });
		assert.equal(forced.status, 'succeeded');
	});

	it('until its journal header is durable a new run starts only pure steps; a step with effects waits for it', async () => {
		const ws = tempDir();
		const { engine, events } = await engineIn(ws);
		const wf = workflow(engine, [
			{ id: 'pure', type: 'util', operation: 'echo', parameters: { value: 1 } },
			{ id: 'write', type: 'file', operation: 'create', parameters: { path: 'w.txt', content: 'w' } },
		]);
		let release!: () => void;
		const held = new Promise<void>((resolve) => (release = resolve));
		let headerWrites = 0;
		// The journal's first write (the header) waits; every other write goes through at once.
		const running = withWriteHook((file) => (file.endsWith('journal.log') && headerWrites++ === 0 ? held.then(() => undefined) : undefined), () => engine.run(wf));
		for (let k = 0; k < 100 && !stepStates(events, 'pure').includes('succeeded'); k++) await new Promise((r) => setTimeout(r, 10));
		assert.deepEqual(stepStates(events, 'pure'), ['queued', 'running', 'succeeded'], 'the pure step ran meanwhile');
		assert.deepEqual(stepStates(events, 'write'), ['queued'], 'the file step waits for the header');
		assert.equal(existsSync(join(ws, 'w.txt')), false);
		release();
		const result = await running;
		assert.equal(result.status, 'succeeded');
		assert.equal(readFileSync(join(ws, 'w.txt'), 'utf8'), 'w');
		const records = (await readJournal(runPaths(engine.stateDir, result.runId).journal)).records;
		assert.equal(records[0].t, 'run', 'the header is the first record');
	});

	it('a run whose journal header cannot be written never started: it throws, and no effect or context is kept', async () => {
		const ws = tempDir();
		const { engine, events } = await engineIn(ws);
		const wf = workflow(engine, [
			{ id: 'ctx', type: 'util', operation: 'set_context', parameters: { key: 'k', value: 'v' } },
			{ id: 'write', type: 'file', operation: 'create', parameters: { path: 'w.txt', content: 'w' } },
		]);
		await withFullDisk(() => assert.rejects(engine.run(wf), (err: unknown) => StateError.is(err, 'disk-full')), (file) => file.endsWith('journal.log'));
		assert.equal(existsSync(join(ws, 'w.txt')), false, 'the file step never ran');
		assert.notEqual(stepStates(events, 'write').at(-1), 'succeeded');
		assert.equal(existsSync(join(engine.stateDir, 'context.json')), false, 'the pure step\'s context is not kept');
		assert.equal(events.some((e) => e.type === 'run-finished'), false);
		const [run] = await engine.runs();
		assert.equal(run.status, 'interrupted', 'the run folder holds no started run');
		assert.equal(run.steps.total, 0);
	});

	it('a workflow whose plan fails leaves no run behind', async () => {
		const ws = tempDir();
		const { engine } = await engineIn(ws);
		const bad = {
			name: 'bad',
			variables: {},
			settings: {},
			instructions: [{ id: 'w', type: 'util', operation: 'wait', parameters: { ms: 'soon' }, dependencies: [], priority: 0, index: 0 }],
		};
		await assert.rejects(engine.run(bad as never), (err: unknown) => StepError.is(err, 'parameters'));
		assert.deepEqual(await engine.runs(), []);
		assert.deepEqual(readdirSync(join(engine.stateDir, 'runs')), [], 'the run folder made for it is gone');
	});

	it('a committed run can no longer be rolled back', async () => {
		const ws = tempDir();
		const { engine } = await engineIn(ws);
		const result = await engine.run(workflow(engine, [{ type: 'file', operation: 'create', parameters: { path: 'c.txt', content: 'c' } }]));
		await engine.commit(result.runId);
		await assert.rejects(engine.rollback(result.runId), /was committed/);
		assert.equal(readFileSync(join(ws, 'c.txt'), 'utf8'), 'c');
	});
});
