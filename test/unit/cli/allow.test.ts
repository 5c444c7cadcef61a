// Learned decisions on the command line: three alike answers to a rule are offered as --allow, never applied.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Cli, type Io } from '../../../src/cli/cli';
import { RunDisplay } from '../../../src/cli/display';
import { tempDir } from '../../helpers/tmp';

const QO = join(__dirname, '..', '..', '..', 'bin', 'qo.js');
const RISKY = { name: 'tidy', instructions: [{ id: 'clean', type: 'exec', operation: 'run', parameters: { command: 'rm -rf build' } }] };

describe('qo: learned decisions and --allow', function () {
	this.timeout(60_000);

	it('after three approvals of the same rule by a person, the summary offers --allow for it', async () => {
		const ws = tempDir();
		let text = '';
		const sink = new PassThrough();
		sink.on('data', (d: Buffer) => (text += d));
		const cli = new Cli({ stdout: sink, stderr: sink } as unknown as Io);
		const person = { decide: async () => ({ approve: true, by: 'user' as const }) };
		let rule = '';
		for (let i = 0; i < 3; i++) {
			const engine = await cli.engine({ workspace: ws }, { decide: async (r) => ((rule = r.rule ?? ''), person.decide()) });
			const r = await engine.run(engine.parse(JSON.stringify(RISKY), join(ws, 'tidy.json')));
			assert.equal(r.status, 'succeeded', r.message);
			cli.reportRun(r, new RunDisplay('plain', sink as unknown as NodeJS.WriteStream, false, false), 'plain');
			if (i < 2) assert.doesNotMatch(text, /Tip:/);
		}
		assert.match(rule, /^exec:risky:/);
		assert.match(text, new RegExp(`Tip: You approved ".*" 3 times in a row: always allow it\\? Pass --allow ${rule.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} and qo will not ask again\\.`));
	});

	it('--allow RULE lets the step go ahead without asking; without it a headless run needs approval (exit 3)', () => {
		const ws = tempDir();
		writeFileSync(join(ws, 'tidy.json'), JSON.stringify(RISKY));
		const env = { ...process.env, NO_COLOR: '1' };
		const asked = spawnSync(process.execPath, [QO, 'run', 'tidy.json'], { cwd: ws, encoding: 'utf8', env });
		assert.equal(asked.status, 3, asked.stdout);
		const plan = spawnSync(process.execPath, [QO, 'plan', 'tidy.json'], { cwd: ws, encoding: 'utf8', env });
		const rule = /\[rule (\S+)\]/.exec(plan.stdout)?.[1] ?? '';
		assert.match(rule, /^exec:risky:/);
		const allowed = spawnSync(process.execPath, [QO, '--allow', rule, 'run', 'tidy.json'], { cwd: ws, encoding: 'utf8', env });
		assert.equal(allowed.status, 0, allowed.stdout + allowed.stderr);
	});
});
