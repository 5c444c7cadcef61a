// `npm run demo:orchestrate` end to end: a goal analysed, planned, carried out by agents and reviewed, offline.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');

describe('the orchestration demo', function () {
	this.timeout(120_000);

	it('plans the goal, runs the agents, tests and review for real, and leaves a workspace qo can roll back', async () => {
		const env = { ...process.env, NO_COLOR: '1' };
		const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
			const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'demoOrchestrate.ts')], { cwd: ROOT, env });
			let out = '';
			child.stdout.on('data', (d: Buffer) => (out += d));
			child.stderr.on('data', (d: Buffer) => (out += d));
			child.on('close', (code) => resolve({ code, out }));
		});
		assert.equal(r.code, 0, r.out);
		assert.match(r.out, /» analysing: gpt-4o-mini/);
		assert.match(r.out, /implement → coder: capability 1\.00/);
		assert.match(r.out, /✔ tests\.2 run_command: run `node --test`/);
		assert.match(r.out, /check: npm run test — no findings/);
		assert.match(r.out, /SUCCEEDED .*4 succeeded/);
		assert.match(r.out, /LLM: [\d,]+ tokens .* in 6 calls, \$0\.\d{4}/);
		const ws = /Demo workspace: (\S+)/.exec(r.out)?.[1] ?? '';
		assert.match(readFileSync(join(ws, 'src/signup.js'), 'utf8'), /a valid email is required/);
		const rollback = await new Promise<number | null>((resolve) => spawn(process.execPath, [join(ROOT, 'bin', 'qo.js'), 'rollback'], { cwd: ws, env }).on('close', resolve));
		assert.equal(rollback, 0);
		assert.equal(readFileSync(join(ws, 'src/signup.js'), 'utf8'), readFileSync(join(ROOT, 'examples/orchestrate-demo/src/signup.js'), 'utf8'));
		rmSync(ws, { recursive: true, force: true });
	});
});
