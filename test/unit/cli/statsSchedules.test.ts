// `qo stats` and `qo schedules` as a person runs them: the real binary in real temporary workspaces.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../helpers/tmp';
import { runQo } from '../../helpers/qo';

const ROOT = join(__dirname, '..', '..', '..');

const qo = (ws: string, ...args: string[]) => runQo(ws, args, { ...process.env, NO_COLOR: '1' });

function write(ws: string, name: string, value: unknown): string {
	writeFileSync(join(ws, name), typeof value === 'string' ? value : JSON.stringify(value, null, 2));
	return name;
}

const measured = {
	name: 'measured',
	settings: { on_failure: 'continue' },
	instructions: [
		{ id: 'pause', type: 'util', operation: 'wait', parameters: { ms: 30 } },
		{ id: 'note', type: 'file', operation: 'create', parameters: { path: 'out/${vars.n}.txt', content: 'x' } },
		{ id: 'boom', type: 'util', operation: 'fail', parameters: { message: 'no' } },
	],
	variables: { n: '0' },
};

describe('qo stats and qo schedules', function () {
	this.timeout(60_000);

	before(function () {
		if (!existsSync(join(ROOT, 'dist', 'cli.js'))) {
			const b = spawnSync(process.execPath, [join(ROOT, 'esbuild.config.mjs')], { cwd: ROOT, encoding: 'utf8' });
			assert.equal(b.status, 0, b.stderr);
		}
	});

	it('qo run feeds .quantum/metrics.json; qo stats shows the figures as tables, --json as data', () => {
		const ws = tempDir();
		assert.match(qo(ws, 'stats').stdout, /No figures yet/);
		const file = write(ws, 'm.workflow.json', measured);
		for (const n of ['1', '2']) assert.equal(qo(ws, 'run', file, '-q', '--var', `n=${n}`).status, 1);
		assert.ok(existsSync(join(ws, '.quantum', 'metrics.json')));
		const text = qo(ws, 'stats');
		assert.equal(text.status, 0, text.stderr);
		assert.match(text.stdout, /^Runs by workflow$/m);
		assert.match(text.stdout, /^ {2}measured +2 +0% /m);
		assert.match(text.stdout, /^Top steps by total time$/m);
		assert.match(text.stdout, /^ {2}measured › pause +2 +100% +\d+ ms +\d+ ms/m);
		assert.match(text.stdout, /^ {2}util\.fail +2 +0% /m);
		assert.match(text.stdout, /^ {2}file\.create +2 +100% /m);
		assert.ok(text.stdout.indexOf('measured › pause') < text.stdout.indexOf('measured › note'), 'steps by total time, longest first');
		const json = JSON.parse(qo(ws, 'stats', '--json').stdout);
		assert.equal(json.runs[0].count, 2);
		assert.deepEqual(json.runs[0].outcomes, { failed: 2 });
		const pause = json.steps.find((s: { step: string }) => s.step === 'pause');
		assert.ok(pause.p95Ms >= 29 && pause.meanMs >= 29, JSON.stringify(pause));
		assert.equal(json.quantileRelativeError, 0.02);
		// Commands that run nothing leave the figures alone.
		assert.equal(qo(ws, 'validate', file).status, 0);
		assert.equal(JSON.parse(qo(ws, 'stats', '--json').stdout).runs[0].count, 2);
	});

	it('a damaged metrics file: qo stats warns and shows none; the next qo run sets it aside and starts afresh', () => {
		const ws = tempDir();
		mkdirSync(join(ws, '.quantum'));
		writeFileSync(join(ws, '.quantum', 'metrics.json'), 'not json');
		const stats = qo(ws, 'stats');
		assert.equal(stats.status, 0);
		assert.match(stats.stderr, /warning: metrics file .*metrics\.json is corrupt .*showing no figures/);
		assert.match(stats.stdout, /No figures yet/);
		const run = qo(ws, 'run', write(ws, 'm.workflow.json', measured), '-q');
		assert.match(run.stderr, /warn: \[metrics\] .*starting fresh figures \(the damaged file is kept as .*metrics\.corrupt-\d+\.json\)/);
		assert.ok(readdirSync(join(ws, '.quantum')).some((f) => /^metrics\.corrupt-\d+\.json$/.test(f)));
		assert.equal(JSON.parse(qo(ws, 'stats', '--json').stdout).runs[0].count, 1);
	});

	it('qo schedules lists each schedule with its next run and the runs it missed; a bad cron exits 2 with file and line', () => {
		const ws = tempDir();
		write(ws, 'nightly.workflow.json', { name: 'nightly', settings: { schedule: { cron: '0 3 * * *', timezone: 'UTC', policy: 'queue' } }, instructions: [] });
		write(ws, 'yearly.workflow.json', { name: 'yearly', settings: { schedule: { cron: '0 0 1 1 *', timezone: 'UTC' } }, instructions: [] });
		// The schedule was last dealt with on 1 January 2020: every New Year since was missed.
		mkdirSync(join(ws, '.quantum'));
		write(ws, '.quantum/schedules.json', { version: 1, schedules: { yearly: { cron: '0 0 1 1 *', timezone: 'UTC', since: '2019-06-01T00:00:00.000Z', lastSlot: '2020-01-01T00:00:00.000Z' } } });
		const r = qo(ws, 'schedules');
		assert.equal(r.status, 0, r.stderr + r.stdout);
		const now = new Date();
		const tomorrow3 = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + (now.getUTCHours() >= 3 ? 1 : 0), 3));
		assert.match(r.stdout, /^NAME +CRON +NEXT RUN +POLICY +LAST SLOT +WORKFLOW$/m);
		assert.match(r.stdout, new RegExp(`^nightly +0 3 \\* \\* \\* \\(UTC\\) +${tomorrow3.toISOString().replace('T', ' ').slice(0, 19)} UTC +queue +— +nightly\\.workflow\\.json$`, 'm'));
		const years = now.getUTCFullYear() - 2020;
		assert.match(r.stdout, new RegExp(`yearly: missed ${years} runs from 2021-01-01 00:00:00 UTC to ${now.getUTCFullYear()}-01-01 00:00:00 UTC \\(not reported yet`));
		const list = JSON.parse(qo(ws, 'schedules', '--json').stdout);
		assert.deepEqual(list.map((s: { name: string }) => s.name), ['nightly', 'yearly']);
		assert.equal(list[1].missed.count, years);

		write(ws, 'bad.workflow.json', '{\n  "name": "bad",\n  "settings": {\n    "schedule": "0 25 * * *"\n  },\n  "instructions": []\n}\n');
		const bad = qo(ws, 'schedules');
		assert.equal(bad.status, 2);
		assert.match(bad.stdout, /✖ bad\.workflow\.json:4:17 settings\.schedule: schedule 'bad': invalid cron expression '0 25 \* \* \*'/);
		assert.match(qo(ws, 'schedules', '--files', 'nightly.workflow.json').stdout, /^nightly /m);
		assert.match(qo(tempDir(), 'schedules').stdout, /No schedules/);
	});
});
