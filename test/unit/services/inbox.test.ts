// The watched inbox on real folders with real chokidar: files dropped, written slowly, broken, duplicated, refused.
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine, type Engine } from '../../../src/core/engine';
import { Inbox, type InboxEvent, type InboxOptions } from '../../../src/core/services/inbox/inbox';
import { isInboxFileName } from '../../../src/core/services/inbox/inboxFiles';
import type { InboxResult } from '../../../src/core/services/inbox/inboxResult';
import { DecisionBroker } from '../../../src/core/services/triggers/decisionBroker';
import { Dispatcher } from '../../../src/core/services/triggers/dispatcher';
import { tempDir } from '../../helpers/tmp';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => T | undefined | false, ms = 15_000): Promise<T> {
	const until = Date.now() + ms;
	for (;;) {
		const v = fn();
		if (v) return v;
		if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
		await sleep(25);
	}
}

const workflow = (name: string, out = `out/${name}.txt`) => ({
	name,
	instructions: [{ id: 'write', type: 'file', operation: 'create', parameters: { path: out, content: name, overwrite: true } }],
});

interface Setup {
	ws: string;
	dir: string;
	engine: Engine;
	broker: DecisionBroker;
	dispatcher: Dispatcher;
	inbox: Inbox;
	events: InboxEvent[];
	dispose(): Promise<void>;
}

async function setup(opts: Partial<InboxOptions> = {}): Promise<Setup> {
	const ws = tempDir('qo-inbox-');
	const broker = new DecisionBroker();
	const engine = await createEngine({ workspace: ws, prompter: broker });
	const dispatcher = new Dispatcher({ engine, broker });
	await dispatcher.open();
	const inbox = new Inbox({ engine, dispatcher, stabilityMs: 200, pollMs: 40, incompleteGraceMs: 1500, ...opts });
	const events: InboxEvent[] = [];
	inbox.onEvent((e) => events.push(e));
	const dir = join(ws, '.quantum', 'inbox');
	return {
		ws,
		dir,
		engine,
		broker,
		dispatcher,
		inbox,
		events,
		async dispose() {
			await inbox.close();
			await dispatcher.dispose();
			await inbox.dispose();
		},
	};
}

function result(dir: string, where: 'done' | 'failed', name: string): InboxResult | undefined {
	const file = join(dir, where, name.replace(/\.json$/, '.result.json'));
	if (!existsSync(file)) return undefined;
	try {
		return JSON.parse(readFileSync(file, 'utf8')) as InboxResult;
	} catch {
		return undefined; // never happens with atomic writes; the assertion below would then time out
	}
}

const ended = (dir: string, where: 'done' | 'failed', name: string) => () => {
	const r = result(dir, where, name);
	return r?.run ? r : undefined;
};

describe('watched inbox', function () {
	this.timeout(60_000);

	it('a dropped file is run once and moved to done/ with its result, which gets the run’s final status when it ends', async () => {
		const s = await setup();
		await s.inbox.start();
		mkdirSync(s.dir, { recursive: true });
		writeFileSync(join(s.dir, 'hello.json'), JSON.stringify(workflow('hello')));
		const r = await waitFor('the run to end', ended(s.dir, 'done', 'hello.json'));
		assert.equal(r.status, 'started');
		assert.equal(r.file, 'hello.json');
		assert.equal(r.movedTo, 'done/hello.json');
		assert.equal(r.alreadyThere, false);
		assert.match(r.idempotencyKey, /^inbox:sha256:[0-9a-f]{64}$/);
		assert.equal(r.run?.status, 'succeeded');
		assert.ok(r.run?.finishedAt && r.decidedAt <= r.run.finishedAt);
		assert.equal(existsSync(join(s.dir, 'hello.json')), false);
		assert.equal(readFileSync(join(s.dir, 'done', 'hello.json'), 'utf8'), JSON.stringify(workflow('hello')));
		assert.equal(readFileSync(join(s.ws, 'out', 'hello.txt'), 'utf8'), 'hello');
		const runs = await s.engine.runs();
		assert.deepEqual(runs.map((x) => x.runId), [r.runId]);
		// The event follows the result file's update (written first, then told).
		await waitFor('the run-ended event', () => s.events.some((e) => e.type === 'run-ended'));
		assert.deepEqual(
			s.events.map((e) => e.type),
			['picked-up', 'decided', 'run-ended'],
		);
		await s.dispose();
	});

	it('an invalid workflow goes to failed/ with every problem at its line and column', async () => {
		const s = await setup();
		await s.inbox.start();
		const text = '{\n  "name": "bad",\n  "instructions": [\n    { "id": "a", "type": "file", "operation": "crate", "parameters": {} },\n    { "id": "b", "type": "util", "operation": "wait", "dependencies": ["nope"], "parameters": { "ms": 1 } }\n  ]\n}\n';
		writeFileSync(join(s.dir, 'bad.json'), text);
		const r = await waitFor('the result', () => result(s.dir, 'failed', 'bad.json'));
		assert.equal(r.status, 'invalid');
		assert.equal(r.movedTo, 'failed/bad.json');
		assert.equal(r.runId, undefined);
		assert.equal(r.problems?.length, 2);
		assert.deepEqual(
			r.problems?.map((p) => [p.line, p.path]),
			[
				[4, 'instructions[0].operation'],
				[5, 'instructions[1].dependencies[0]'],
			],
		);
		assert.match(r.problems![0].message, /unknown operation 'crate'.*did you mean 'create'/);
		assert.ok(r.problems![0].column! > 1);
		assert.match(r.reason ?? '', /\.quantum\/inbox\/bad\.json:4:\d+ instructions\[0\]\.operation/);
		assert.equal((await s.engine.runs()).length, 0);
		await s.dispose();
	});

	it('broken JSON is failed only after it stayed unchanged for the grace period, with the place of the error', async () => {
		const s = await setup({ incompleteGraceMs: 1200 });
		await s.inbox.start();
		const t0 = Date.now();
		writeFileSync(join(s.dir, 'broken.json'), '{\n  "name": "broken",\n  "instructions": [}\n');
		await waitFor('waiting', () => s.events.some((e) => e.type === 'waiting'));
		assert.equal(readdirSync(join(s.dir, 'failed')).length, 0, 'not failed while it might still be written');
		const r = await waitFor('the result', () => result(s.dir, 'failed', 'broken.json'));
		assert.ok(Date.now() - t0 >= 1200, 'not before the grace period');
		assert.equal(r.status, 'invalid');
		assert.equal(r.problems?.[0].line, 3);
		assert.ok(r.problems?.[0].column);
		await s.dispose();
	});

	it('a slow writer — short pauses, then one longer than the stability threshold — is picked up only when complete', async () => {
		const s = await setup({ stabilityMs: 200, incompleteGraceMs: 3000 });
		await s.inbox.start();
		const text = JSON.stringify(workflow('slow'), null, 2);
		const fd = openSync(join(s.dir, 'slow.json'), 'w');
		const pieces = 8;
		const size = Math.ceil(text.length / pieces);
		for (let i = 0; i < pieces; i++) {
			writeSync(fd, text.slice(i * size, (i + 1) * size));
			// Pauses shorter than the stability threshold, and once (half way) a pause well beyond it.
			await sleep(i === pieces / 2 ? 900 : 60);
		}
		closeSync(fd);
		const r = await waitFor('the run to end', ended(s.dir, 'done', 'slow.json'));
		assert.equal(r.status, 'started');
		assert.equal(r.run?.status, 'succeeded');
		assert.equal(readdirSync(join(s.dir, 'failed')).length, 0, 'never failed while being written');
		assert.ok(s.events.some((e) => e.type === 'waiting' && e.file === 'slow.json'), 'it was seen incomplete and waited');
		assert.equal((await s.engine.runs()).length, 1);
		await s.dispose();
	});

	it('the same content twice runs once: the second goes to done/ as a duplicate of the first run, under a timestamped name', async () => {
		const s = await setup();
		await s.inbox.start();
		const text = JSON.stringify(workflow('twice'));
		writeFileSync(join(s.dir, 'twice.json'), text);
		const first = await waitFor('the first run', ended(s.dir, 'done', 'twice.json'));
		writeFileSync(join(s.dir, 'twice.json'), text);
		writeFileSync(join(s.dir, 'again.json'), text);
		const again = await waitFor('the second file', ended(s.dir, 'done', 'again.json'));
		const stamped = await waitFor('the renamed duplicate', () => readdirSync(join(s.dir, 'done')).find((n) => /^twice-\d{8}T\d{9}Z\.json$/.test(n)));
		const second = await waitFor('its result', ended(s.dir, 'done', stamped));
		for (const dup of [second, again]) {
			assert.equal(dup.status, 'duplicate');
			assert.equal(dup.runId, first.runId);
			assert.equal(dup.run?.status, 'succeeded', 'the first run’s end');
			assert.ok(dup.firstSeenAt);
		}
		assert.equal(second.movedTo, `done/${stamped}`);
		assert.deepEqual(JSON.parse(readFileSync(join(s.dir, 'done', 'twice.result.json'), 'utf8')).status, 'started', 'the first result is kept');
		assert.equal((await s.engine.runs()).length, 1);
		await s.dispose();
	});

	it('a run needing approval is refused by default and moved to failed/ with the reason', async () => {
		const s = await setup();
		await s.inbox.start();
		const wf = { name: 'ship', instructions: [{ id: 'deploy', type: 'util', operation: 'echo', parameters: { value: 1 }, requires_approval: true }] };
		writeFileSync(join(s.dir, 'ship.json'), JSON.stringify(wf));
		const r = await waitFor('the result', () => result(s.dir, 'failed', 'ship.json'));
		assert.equal(r.status, 'refused');
		assert.match(r.reason ?? '', /nobody is watching this inbox run and a step needs approval \(deploy\)/);
		assert.equal((await s.engine.runs()).length, 0);
		await s.dispose();
	});

	it('with waitForDecisions the run waits for an answer instead of being refused; the result follows it', async () => {
		const s = await setup({ waitForDecisions: true });
		await s.inbox.start();
		const wf = { name: 'ask', instructions: [{ id: 'deploy', type: 'util', operation: 'echo', parameters: { value: 1 }, requires_approval: true }] };
		writeFileSync(join(s.dir, 'ask.json'), JSON.stringify(wf));
		const r = await waitFor('the result', () => result(s.dir, 'done', 'ask.json'));
		assert.equal(r.status, 'started');
		assert.equal(r.run, undefined, 'still waiting for the decision');
		const [pending] = await waitFor('the decision', () => (s.broker.list().length ? s.broker.list() : undefined));
		assert.equal(pending.request.stepId, 'deploy');
		s.broker.answer(pending.request.id, { approve: true });
		assert.equal((await waitFor('the end', ended(s.dir, 'done', 'ask.json'))).run?.status, 'succeeded');
		writeFileSync(join(s.dir, 'ask2.json'), JSON.stringify({ ...wf, name: 'ask2' }));
		await waitFor('the second decision', () => s.broker.list().length === 1);
		await s.dispose();
		assert.equal(result(s.dir, 'done', 'ask2.json')?.run?.status, 'cancelled', 'stopping the orchestrator ends it, and the result says so');
	});

	it('files already in the inbox when the watcher starts are processed too, and say so', async () => {
		const s = await setup();
		mkdirSync(s.dir, { recursive: true });
		writeFileSync(join(s.dir, 'early.json'), JSON.stringify(workflow('early')));
		const existing = await s.inbox.start();
		assert.deepEqual(existing, ['early.json']);
		const r = await waitFor('the run to end', ended(s.dir, 'done', 'early.json'));
		assert.equal(r.alreadyThere, true);
		assert.ok(s.events.some((e) => e.type === 'picked-up' && e.alreadyThere));
		writeFileSync(join(s.dir, 'late.json'), JSON.stringify(workflow('late')));
		assert.equal((await waitFor('the late one', ended(s.dir, 'done', 'late.json'))).alreadyThere, false);
		await s.dispose();
	});

	it('only *.json files directly in the folder: hidden, temporary, editor and subfolder files are left alone', async () => {
		const s = await setup();
		const ignored = ['.hidden.json', 'x.json.tmp', 'x.json.part', '.x.json.swp', 'x.json~', '~$x.json', 'notes.txt'];
		for (const n of ignored) assert.equal(isInboxFileName(n), false, n);
		mkdirSync(join(s.dir, 'nested'), { recursive: true });
		await s.inbox.start();
		const text = JSON.stringify(workflow('ignored'));
		for (const n of ignored) writeFileSync(join(s.dir, n), text);
		writeFileSync(join(s.dir, 'nested', 'deep.json'), text);
		writeFileSync(join(s.dir, 'done', 'placed.json'), text);
		// A tool that writes a temporary file and renames it when complete: picked up under its final name only.
		writeFileSync(join(s.dir, 'real.json.tmp'), JSON.stringify(workflow('real')));
		renameSync(join(s.dir, 'real.json.tmp'), join(s.dir, 'real.json'));
		await waitFor('the real one', ended(s.dir, 'done', 'real.json'));
		await sleep(600);
		for (const n of ignored) assert.equal(existsSync(join(s.dir, n)), true, `${n} left alone`);
		assert.equal(existsSync(join(s.dir, 'nested', 'deep.json')), true);
		assert.equal(result(s.dir, 'done', 'placed.json'), undefined);
		assert.equal((await s.engine.runs()).length, 1);
		await s.dispose();
	});

	it('runOnce processes what is there, waits for the runs to end, and returns the results', async () => {
		const s = await setup();
		mkdirSync(s.dir, { recursive: true });
		writeFileSync(join(s.dir, 'a.json'), JSON.stringify(workflow('a')));
		writeFileSync(join(s.dir, 'b.json'), '{"name": "b", "instructions": [{"type": "nope", "operation": "x"}]}');
		const results = await s.inbox.runOnce();
		assert.deepEqual(results.map((r) => [r.file, r.status]).sort(), [
			['a.json', 'started'],
			['b.json', 'invalid'],
		]);
		assert.equal(result(s.dir, 'done', 'a.json')?.run?.status, 'succeeded');
		assert.ok(result(s.dir, 'failed', 'b.json'));
		await s.dispose();
	});

	it('a second watcher on the same folder is refused; after dispose nothing more is picked up', async () => {
		const s = await setup();
		await s.inbox.start();
		const other = new Inbox({ engine: s.engine, dispatcher: s.dispatcher });
		await assert.rejects(other.start(), /\.quantum\/inbox is already watched by process \d+ \(since [^)]+\); stop that one first/);
		await s.dispose();
		writeFileSync(join(s.dir, 'after.json'), JSON.stringify(workflow('after')));
		await sleep(500);
		assert.equal(existsSync(join(s.dir, 'after.json')), true);
	});

	it('hot reload: a watched workflow runs again when its content changes, never for a save without changes', async () => {
		const s = await setup({ watch: ['flows/dev.workflow.json'], reload: { debounceMs: 100 } });
		mkdirSync(join(s.ws, 'flows'));
		const file = join(s.ws, 'flows', 'dev.workflow.json');
		writeFileSync(file, JSON.stringify(workflow('dev', 'out/dev-1.txt')));
		await s.inbox.start();
		const reloads = () => s.events.filter((e) => e.type === 'reload');
		const endedRuns = () => s.events.filter((e) => e.type === 'reload-ended');
		writeFileSync(file, JSON.stringify(workflow('dev', 'out/dev-1.txt'))); // saved, unchanged
		await waitFor('the unchanged save', () => reloads().length === 1);
		assert.equal(reloads()[0].type === 'reload' && reloads()[0].status, 'unchanged');
		writeFileSync(file, JSON.stringify(workflow('dev', 'out/dev-2.txt')));
		await waitFor('the run', () => endedRuns().length === 1);
		assert.equal(existsSync(join(s.ws, 'out', 'dev-2.txt')), true);
		// An editor's atomic save (a temporary file renamed over the original) counts as a change too.
		writeFileSync(`${file}.tmp`, JSON.stringify(workflow('dev', 'out/dev-3.txt')));
		renameSync(`${file}.tmp`, file);
		await waitFor('the second run', () => endedRuns().length === 2);
		assert.equal(existsSync(join(s.ws, 'out', 'dev-3.txt')), true);
		writeFileSync(file, '{"name": "dev", "instructions": [{"type": "file", "operation": "crate"}]}');
		const invalid = await waitFor('the invalid version', () => reloads().find((e) => e.type === 'reload' && e.status === 'invalid'));
		assert.equal(invalid.type === 'reload' && invalid.problems?.[0].path, 'instructions[0].operation');
		assert.equal((await s.engine.runs()).length, 2);
		await s.dispose();
	});

	it('hot reload cancels the run still going when a newer version arrives', async () => {
		const s = await setup({ watch: ['long.json'], reload: { debounceMs: 50 } });
		const file = join(s.ws, 'long.json');
		const long = (ms: number) => JSON.stringify({ name: 'long', instructions: [{ id: 'w', type: 'util', operation: 'wait', parameters: { ms } }] });
		writeFileSync(file, long(1));
		await s.inbox.start();
		writeFileSync(file, long(20_000));
		await waitFor('the long run', () => s.events.some((e) => e.type === 'reload' && e.status === 'started'));
		writeFileSync(file, long(2));
		await waitFor('both ends', () => s.events.filter((e) => e.type === 'reload-ended').length === 2);
		const ends = s.events.flatMap((e) => (e.type === 'reload-ended' ? [e.status] : []));
		assert.deepEqual(ends.sort(), ['cancelled', 'succeeded']);
		await s.dispose();
	});
});
