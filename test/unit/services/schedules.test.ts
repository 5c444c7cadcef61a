import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createEngine, type Engine } from '../../../src/core/engine';
import type { LogLevel } from '../../../src/core/ports';
import { createScheduler, MAX_DELAY_MS, type ScheduleEvent, type Scheduler, type SchedulerOptions } from '../../../src/core/services/schedules/scheduler';
import { DecisionBroker } from '../../../src/core/services/triggers/decisionBroker';
import { Dispatcher, type Submission, type SubmissionResult } from '../../../src/core/services/triggers/dispatcher';
import { FakeClock } from '../../helpers/fakeClock';
import { tempDir } from '../../helpers/tmp';

const T0 = Date.parse('2030-01-01T00:00:30Z');
const MIN = 60_000;
const slot = (hhmm: string, day = '2030-01-01') => `${day}T${hhmm}:00.000Z`;

function write(ws: string, rel: string, value: unknown): string {
	mkdirSync(dirname(join(ws, rel)), { recursive: true });
	writeFileSync(join(ws, rel), typeof value === 'string' ? value : JSON.stringify(value, null, 2));
	return rel;
}

const workflow = (name: string, schedule?: unknown, ms = 0) => ({
	name,
	...(schedule !== undefined ? { settings: { schedule } } : {}),
	instructions: [{ id: 'w', type: 'util', operation: 'wait', parameters: { ms } }],
});

interface Harness {
	ws: string;
	engine: Engine;
	dispatcher: Dispatcher;
	clock: FakeClock;
	calls: Submission[];
	logs: string[];
	events: ScheduleEvent[];
	scheduler(opts?: Partial<SchedulerOptions>): Scheduler;
}

async function harness(ws = tempDir(), clock = new FakeClock(T0)): Promise<Harness> {
	const broker = new DecisionBroker();
	const engine = await createEngine({ workspace: ws, prompter: broker });
	const dispatcher = new Dispatcher({ engine, broker });
	await dispatcher.open();
	const h: Harness = {
		ws,
		engine,
		dispatcher,
		clock,
		calls: [],
		logs: [],
		events: [],
		scheduler(opts = {}) {
			const recording = {
				submit: (s: Submission) => {
					h.calls.push(s);
					return dispatcher.submit(s);
				},
			};
			const s = createScheduler({
				engine,
				dispatcher: recording,
				clock,
				logger: { log: (level: LogLevel, scope, message) => h.logs.push(`${level} [${scope}] ${message}`) },
				...opts,
			});
			s.onEvent((e) => h.events.push(e));
			return s;
		},
	};
	return h;
}

/** Polls (real time) until `cond` holds: submissions read the workflow file, which takes real I/O. */
async function until(cond: () => boolean, ms = 5_000): Promise<void> {
	const end = Date.now() + ms;
	while (!cond()) {
		if (Date.now() > end) assert.fail('timed out waiting');
		await new Promise((r) => setTimeout(r, 5));
	}
}

async function tick(clock: FakeClock, s: Scheduler, ms: number): Promise<void> {
	await clock.advance(ms);
	await s.settled();
}

describe('schedules: cron slots through the dispatcher, driven by a controllable clock', function () {
	this.timeout(60_000);

	it('fires at each slot, once, with the slot as idempotency key, the schedule as group and skip as policy', async () => {
		const h = await harness();
		write(h.ws, 'tick.workflow.json', workflow('tick', '* * * * *'));
		const s = h.scheduler();
		await s.start();
		assert.equal(s.list()[0].next, slot('00:01'));
		await tick(h.clock, s, 20_000);
		assert.equal(h.calls.length, 0, 'nothing before the first slot');
		for (let i = 0; i < 4; i++) {
			await tick(h.clock, s, MIN);
			await h.dispatcher.idle(); // each run ends before the next slot (else policy skip would skip it)
		}
		assert.deepEqual(
			h.calls.map((c) => c.idempotencyKey),
			['00:01', '00:02', '00:03', '00:04'].map((t) => `schedule:tick:${slot(t)}`),
		);
		const c = h.calls[0];
		assert.equal(c.source, 'schedule');
		assert.equal(c.group, 'tick');
		assert.equal(c.policy, 'skip');
		assert.equal(c.unattended, true);
		assert.match(c.origin ?? '', /schedule tick/);
		await s.stop();
		await h.dispatcher.idle();
		const runs = await h.engine.runs();
		assert.equal(runs.length, 4);
		assert.ok(runs.every((r) => r.status === 'succeeded'));
		const state = JSON.parse(readFileSync(join(h.ws, '.quantum', 'schedules.json'), 'utf8'));
		assert.equal(state.schedules.tick.lastSlot, slot('00:04'));
		assert.equal(state.schedules.tick.lastFired.outcome, 'started');
		await h.dispatcher.dispose();
	});

	it('a slow submission or a clock jumping back or forward never fires a slot twice', async () => {
		const ws = tempDir();
		const clock = new FakeClock(T0);
		write(ws, 'slow.workflow.json', workflow('slow'));
		const calls: string[] = [];
		const release: (() => void)[] = [];
		const slow = {
			submit: (sub: Submission) => {
				calls.push(sub.idempotencyKey);
				return new Promise<SubmissionResult>((resolve) => release.push(() => resolve({ status: 'started', runId: `r${calls.length}` })));
			},
		};
		const logs: string[] = [];
		const s = createScheduler({ engine: { workspace: ws, stateDir: join(ws, '.quantum') }, dispatcher: slow, clock, schedules: [{ name: 'slow', cron: '* * * * *', workflow: 'slow.workflow.json' }], files: [], logger: { log: (_l, _s, m) => logs.push(m) } });
		await s.start();
		await clock.advance(MIN);
		await until(() => calls.length === 1);
		for (let i = 0; i < 5; i++) await clock.advance(5_000); // the submission is still pending meanwhile
		assert.deepEqual(calls, [`schedule:slow:${slot('00:01')}`]);
		// The wall clock goes back five minutes: slots already dealt with do not come again.
		clock.jump(-5 * MIN);
		for (let i = 0; i < 6; i++) await clock.advance(MIN);
		await until(() => calls.length === 2);
		assert.deepEqual(calls, [`schedule:slow:${slot('00:01')}`, `schedule:slow:${slot('00:02')}`]);
		// Forward an hour (the machine slept): the latest slot runs, the ones in between are reported missed.
		clock.jump(60 * MIN);
		await clock.advance(MAX_DELAY_MS);
		await until(() => calls.length === 3);
		assert.equal(calls[2], `schedule:slow:${slot('01:03')}`);
		const [missed] = s.missed();
		assert.equal(missed.count, 60);
		assert.equal(missed.first, slot('00:03'));
		assert.equal(missed.last, slot('01:02'));
		assert.ok(logs.some((l) => /slow: missed 60 runs while the clock jumped/.test(l)), logs.join('\n'));
		for (const r of release) r();
		await s.settled();
		await s.stop();
		assert.equal(calls.length, 3);
		assert.equal(new Set(calls).size, 3);
	});

	it('a slot while the previous run still goes is skipped, and says so', async () => {
		const h = await harness();
		write(h.ws, 'long.workflow.json', workflow('long', '* * * * *', 30_000));
		const s = h.scheduler();
		await s.start();
		await tick(h.clock, s, MIN);
		await tick(h.clock, s, MIN);
		const fired = h.events.filter((e): e is Extract<ScheduleEvent, { type: 'schedule-fired' }> => e.type === 'schedule-fired');
		assert.deepEqual(
			fired.map((e) => e.result.status),
			['started', 'skipped'],
		);
		assert.ok(h.logs.some((l) => l === `warn [schedules] long: slot ${slot('00:02')} skipped: a run of long is still going (policy skip)`), h.logs.join('\n'));
		assert.equal(s.list()[0].lastFired?.outcome, 'skipped');
		await s.stop();
		await h.dispatcher.dispose(); // cancels the long run
		assert.equal((await h.engine.runs()).length, 1);
	});

	it('a scheduled workflow gone invalid or missing is reported at its slot, and later slots still come', async () => {
		const h = await harness();
		const file = write(h.ws, 'edit.workflow.json', workflow('edit', '* * * * *'));
		const s = h.scheduler();
		await s.start();
		write(h.ws, file, { name: 'edit', settings: { schedule: '* * * * *' }, instructions: [{ id: 'x', type: 'util', operation: 'wiat' }] });
		await tick(h.clock, s, MIN);
		rmSync(join(h.ws, file));
		await tick(h.clock, s, MIN);
		write(h.ws, file, workflow('edit', '* * * * *'));
		await tick(h.clock, s, MIN);
		const fired = h.events.flatMap((e) => (e.type === 'schedule-fired' ? [e.result.status] : []));
		assert.deepEqual(fired, ['invalid', 'error', 'started']);
		assert.ok(h.logs.some((l) => /^error \[schedules\] edit: slot 2030-01-01T00:01:00\.000Z: the workflow is invalid: .*edit\.workflow\.json:\d+:\d+ instructions\[0\]\.operation: unknown operation 'wiat'/.test(l)), h.logs.join('\n'));
		assert.ok(h.logs.some((l) => /^error \[schedules\] edit: slot 2030-01-01T00:02:00\.000Z could not be submitted: cannot read the workflow file .*edit\.workflow\.json: it does not exist/.test(l)), h.logs.join('\n'));
		await s.stop();
		await h.dispatcher.dispose();
	});

	it('reload picks up new and changed schedules; unchanged ones keep their place', async () => {
		const h = await harness();
		write(h.ws, 'a.workflow.json', workflow('a', '*/2 * * * *'));
		write(h.ws, 'b.workflow.json', workflow('b'));
		const s = h.scheduler({ files: ['a.workflow.json'] });
		await s.start();
		await tick(h.clock, s, 2 * MIN);
		await h.dispatcher.idle();
		await s.reload([{ name: 'b', cron: '* * * * *', workflow: 'b.workflow.json', policy: 'queue' }]);
		assert.deepEqual(s.list().map((i) => [i.name, i.next]), [['b', slot('00:03')], ['a', slot('00:04')]]);
		await tick(h.clock, s, 2 * MIN);
		await h.dispatcher.idle();
		assert.deepEqual(h.calls.map((c) => c.idempotencyKey).sort(), [`schedule:a:${slot('00:02')}`, `schedule:a:${slot('00:04')}`, `schedule:b:${slot('00:03')}`, `schedule:b:${slot('00:04')}`]);
		assert.deepEqual(s.missed(), []);
		await s.stop();
		await h.dispatcher.dispose();
	});

	it('after a restart, slots missed while nothing ran are reported (count, first, last) and not run', async () => {
		const ws = tempDir();
		const clock = new FakeClock(T0);
		write(ws, 'hourly.workflow.json', workflow('hourly', { cron: '*/5 * * * *', timezone: 'UTC' }));
		const first = await harness(ws, clock);
		const s1 = first.scheduler();
		await s1.start();
		await tick(clock, s1, 5 * MIN);
		assert.equal(first.calls.length, 1);
		await s1.stop();
		await first.dispatcher.dispose();

		// Down for an hour: a new process, a new dispatcher and scheduler.
		clock.jump(60 * MIN);
		const second = await harness(ws, clock);
		const s2 = second.scheduler();
		await s2.start();
		assert.deepEqual(s2.missed(), [
			{ name: 'hourly', count: 12, first: slot('00:10'), last: slot('01:05'), reason: 'while the orchestrator was not running', reportedAt: new Date(clock.now()).toISOString() },
		]);
		assert.ok(second.logs.some((l) => l.startsWith('warn [schedules] hourly: missed 12 runs while the orchestrator was not running (from 2030-01-01T00:10:00.000Z to 2030-01-01T01:05:00.000Z)')), second.logs.join('\n'));
		assert.ok(second.events.some((e) => e.type === 'schedule-missed' && e.missed.count === 12));
		assert.equal(second.calls.length, 0, 'missed slots are not replayed');
		assert.equal(s2.list()[0].missed?.count, 12);
		await tick(clock, s2, 5 * MIN);
		assert.deepEqual(second.calls.map((c) => c.idempotencyKey), [`schedule:hourly:${slot('01:10')}`]);
		await s2.stop();
		// A third start right away: nothing new was missed, the report stays in the file.
		const s3 = second.scheduler();
		await s3.start();
		assert.deepEqual(s3.missed(), []);
		assert.equal(s3.list()[0].missed?.count, 12);
		await s3.stop();
		await second.dispatcher.idle();
		assert.equal((await second.engine.runs()).length, 2);
		await second.dispatcher.dispose();
	});

	it('an invalid cron expression or time zone is an error naming the schedule and where it came from', async () => {
		const ws = tempDir();
		write(ws, 'ops/bad.workflow.json', `{\n  "name": "bad",\n  "settings": {\n    "schedule": "61 * * * *"\n  },\n  "instructions": []\n}\n`);
		write(ws, 'zone.workflow.json', `{\n  "name": "zone",\n  "settings": {\n    "schedule": {\n      "cron": "0 3 * * *",\n      "timezone": "Mars/Olympus"\n    }\n  },\n  "instructions": []\n}\n`);
		write(ws, 'never.workflow.json', workflow('never', { cron: '0 0 30 2 *' }));
		write(ws, 'shape.workflow.json', workflow('shape', 42));
		write(ws, 'ok.workflow.json', workflow('dup', '0 * * * *'));
		write(ws, 'z.workflow.json', workflow('dup', '0 * * * *'));
		const s = createScheduler({
			engine: { workspace: ws, stateDir: join(ws, '.quantum') },
			dispatcher: { submit: async () => ({ status: 'skipped', reason: 'x' }) },
			clock: new FakeClock(T0),
			schedules: [{ name: 'from-settings', cron: '* * *', workflow: 'ok.workflow.json' }, { name: 'no-cron', workflow: 'x.json' }, { name: 'gone', cron: '* * * * *', workflow: 'missing.workflow.json' }],
			optionsLabel: 'quantum.schedules',
		});
		await s.load();
		const problems = s.problems().map((p) => p.describe());
		const expect = [
			/^quantum\.schedules\[0\]\.cron: schedule 'from-settings': invalid cron expression '\* \* \*': invalid configuration format/,
			/^quantum\.schedules\[1\]\.cron: schedule 'no-cron': Invalid input/,
			/^quantum\.schedules\[2\]\.workflow: schedule 'gone': the workflow file missing\.workflow\.json does not exist/,
			/^ops\/bad\.workflow\.json:4:17 settings\.schedule: schedule 'bad': invalid cron expression '61 \* \* \* \*': Invalid value for minute: 61/,
			/^never\.workflow\.json:\d+:\d+ settings\.schedule\.cron: schedule 'never': the cron expression '0 0 30 2 \*' never matches a date$/,
			/^shape\.workflow\.json:\d+:\d+ settings\.schedule: schedule 'shape': a schedule is a cron expression/,
			/^z\.workflow\.json:\d+:\d+ settings\.schedule: schedule name 'dup' is already used by ok\.workflow\.json:\d+:\d+/,
			/^zone\.workflow\.json:6:19 settings\.schedule\.timezone: schedule 'zone': unknown time zone 'Mars\/Olympus'/,
		];
		assert.equal(problems.length, expect.length, problems.join('\n'));
		for (const re of expect) assert.ok(problems.some((p) => re.test(p)), `${re} not in\n${problems.join('\n')}`);
		const listed = s.list();
		assert.deepEqual(listed.filter((i) => !i.error).map((i) => i.name), ['dup']);
		assert.ok(listed.find((i) => i.name === 'bad')?.error?.includes('Invalid value for minute'));
	});

	it('lists every schedule with its next run, in its time zone; node_modules and .quantum are not searched', async () => {
		const ws = tempDir();
		write(ws, 'nightly.workflow.json', workflow('nightly', { cron: '0 3 * * *', timezone: 'America/New_York', policy: 'queue' }));
		write(ws, 'sub/quarter.workflow.json', workflow('quarter', '*/15 * * * *'));
		write(ws, 'node_modules/pkg/dep.workflow.json', workflow('dep', '* * * * *'));
		write(ws, '.quantum/plans/p.workflow.json', workflow('plan', '* * * * *'));
		write(ws, 'plain.workflow.json', workflow('plain'));
		write(ws, 'secs.json', workflow('unused'));
		const s = createScheduler({
			engine: { workspace: ws, stateDir: join(ws, '.quantum') },
			dispatcher: { submit: async () => ({ status: 'skipped', reason: 'x' }) },
			clock: new FakeClock(T0),
			schedules: [{ name: 'every-10s', cron: '*/10 * * * * *', workflow: 'secs.json', timezone: 'UTC' }],
		});
		await s.load();
		assert.deepEqual(
			s.list().map(({ name, next, policy, workflow: wf, timezone }) => ({ name, next, policy, wf, timezone })),
			[
				{ name: 'every-10s', next: '2030-01-01T00:00:40.000Z', policy: 'skip', wf: 'secs.json', timezone: 'UTC' },
				{ name: 'nightly', next: '2030-01-01T08:00:00.000Z', policy: 'queue', wf: 'nightly.workflow.json', timezone: 'America/New_York' },
				{ name: 'quarter', next: slot('00:15'), policy: 'skip', wf: 'sub/quarter.workflow.json', timezone: undefined },
			],
		);
		assert.match(s.list()[1].source, /^nightly\.workflow\.json:\d+:\d+$/);
		// A configured list of files replaces the default glob.
		const only = createScheduler({ engine: { workspace: ws, stateDir: join(ws, '.quantum') }, dispatcher: { submit: async () => ({ status: 'skipped', reason: 'x' }) }, clock: new FakeClock(T0), files: ['sub/*.workflow.json'] });
		await only.load();
		assert.deepEqual(only.list().map((i) => i.name), ['quarter']);
	});

	it('a slot days away is reached by re-arming capped waits, never one long timer', async () => {
		const ws = tempDir();
		write(ws, 'y.workflow.json', workflow('yearly', '0 0 4 1 *'));
		const clock = new FakeClock(T0);
		const calls: string[] = [];
		const s = createScheduler({ engine: { workspace: ws, stateDir: join(ws, '.quantum') }, dispatcher: { submit: async (x) => (calls.push(x.idempotencyKey), { status: 'started', runId: 'r' }) }, clock });
		await s.start();
		assert.equal(s.list()[0].next, '2030-01-04T00:00:00.000Z');
		await clock.advance(3 * 24 * 60 * MIN - MIN);
		assert.deepEqual(calls, []);
		assert.ok(clock.sleeps.every((ms) => ms <= MAX_DELAY_MS));
		assert.equal(clock.pending, 1, 'one timer armed at a time');
		await clock.advance(MIN);
		await s.settled();
		assert.deepEqual(calls, ['schedule:yearly:2030-01-04T00:00:00.000Z']);
		await s.stop();
		assert.equal(clock.pending, 0, 'stop disarms the timer');
	});
});
