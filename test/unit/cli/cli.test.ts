// The real `qo` binary in real temporary workspaces: exit codes, output a person reads, output a machine reads.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../helpers/tmp';
import { eslintProject } from '../quality/fixtures';

const ROOT = join(__dirname, '..', '..', '..');
const QO = join(ROOT, 'bin', 'qo.js');

function qo(ws: string, ...args: string[]) {
	const r = spawnSync(process.execPath, [QO, ...args], { cwd: ws, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
	// Whatever happens, a user never sees a stack trace.
	assert.doesNotMatch(r.stderr + r.stdout, /\n\s+at .+:\d+:\d+\)?\n/, `stack trace printed:\n${r.stderr}`);
	return r;
}

function write(ws: string, name: string, workflow: unknown): string {
	writeFileSync(join(ws, name), typeof workflow === 'string' ? workflow : JSON.stringify(workflow, null, 2));
	return name;
}

const ok = { name: 'ok', instructions: [{ id: 'hello', type: 'file', operation: 'create', parameters: { path: 'out/hello.txt', content: 'hi ${vars.who}' } }], variables: { who: 'you' } };

describe('qo command line', function () {
	this.timeout(60_000);

	before(function () {
		if (!existsSync(join(ROOT, 'dist', 'cli.js'))) {
			const b = spawnSync(process.execPath, [join(ROOT, 'esbuild.config.mjs')], { cwd: ROOT, encoding: 'utf8' });
			assert.equal(b.status, 0, b.stderr);
		}
	});

	it('run: exit 0, one line per step, a summary with how to undo, and the files written', () => {
		const ws = tempDir();
		const r = qo(ws, 'run', write(ws, 'ok.json', ok));
		assert.equal(r.status, 0, r.stderr);
		assert.match(r.stdout, /✔ hello/);
		assert.match(r.stdout, /SUCCEEDED \S+ in .*1 succeeded/);
		assert.match(r.stdout, /Undo: qo rollback/);
		assert.equal(readFileSync(join(ws, 'out/hello.txt'), 'utf8'), 'hi you');
	});

	it('run --var overrides a variable; --dry-run shows the plan and writes nothing', () => {
		const ws = tempDir();
		const file = write(ws, 'ok.json', ok);
		const dry = qo(ws, 'run', file, '--dry-run');
		assert.equal(dry.status, 0);
		assert.match(dry.stdout, /Plan for ok/);
		assert.equal(existsSync(join(ws, 'out')), false);
		assert.equal(qo(ws, 'run', file, '--var', 'who=there', '-q').status, 0);
		assert.equal(readFileSync(join(ws, 'out/hello.txt'), 'utf8'), 'hi there');
		// A variable the file does not declare, given only on the command line, validates and is used.
		const extra = write(ws, 'extra.json', { name: 'extra', instructions: [{ type: 'file', operation: 'create', parameters: { path: 'out/${vars.name}.txt', content: 'x' } }] });
		assert.equal(qo(ws, 'validate', extra).status, 2);
		assert.equal(qo(ws, 'run', extra, '--var', 'name=given', '-q').status, 0);
		assert.equal(existsSync(join(ws, 'out/given.txt')), true);
	});

	it('run --json prints one parseable event per line and a final result', () => {
		const ws = tempDir();
		const r = qo(ws, 'run', write(ws, 'ok.json', ok), '--json');
		assert.equal(r.status, 0);
		const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
		assert.equal(events[0].type, 'run-started');
		assert.ok(events.some((e) => e.type === 'step' && e.id === 'hello' && e.state === 'succeeded'));
		assert.deepEqual(events.at(-1).type, 'result');
		assert.equal(events.at(-1).status, 'succeeded');
	});

	it('a failed step exits 1 and says which step and why', () => {
		const ws = tempDir();
		const r = qo(ws, 'run', write(ws, 'f.json', { name: 'f', instructions: [{ id: 'bad', type: 'exec', operation: 'run', parameters: { command: 'echo nope >&2; exit 4' } }] }));
		assert.equal(r.status, 1);
		assert.match(r.stdout, /✖ bad .*exited with code 4/);
		assert.match(r.stdout, /nope/);
	});

	it('a step needing approval exits 3 without a terminal, and runs with --yes', () => {
		const ws = tempDir();
		const file = write(ws, 'a.json', { name: 'a', instructions: [{ id: 'ask', type: 'util', operation: 'echo', parameters: { value: 1 }, requires_approval: true }] });
		const r = qo(ws, 'run', file);
		assert.equal(r.status, 3);
		assert.match(r.stdout, /not approved: no one to ask/);
		assert.equal(qo(ws, 'run', file, '--yes', '-q').status, 0);
	});

	it('the escalation policy applies headless too: rm -r and deletions ask (exit 3), plan shows them, --no-policy turns it off', () => {
		const ws = tempDir();
		writeFileSync(join(ws, 'old.txt'), 'old');
		const file = write(ws, 'p.json', {
			name: 'p',
			instructions: [
				{ id: 'rm_build', type: 'exec', operation: 'run', parameters: { command: 'echo cleaning && rm -rf build' } },
				{ id: 'drop', type: 'file', operation: 'delete', parameters: { path: 'old.txt' } },
			],
		});
		const plan = qo(ws, 'plan', file);
		assert.match(plan.stdout, /rm_build: .*rm -rf build.*\[rule exec:risky:/);
		assert.match(plan.stdout, /drop: it deletes old\.txt \[rule file:delete\]/);
		const r = qo(ws, 'run', file);
		assert.equal(r.status, 3, r.stdout);
		assert.equal(readFileSync(join(ws, 'old.txt'), 'utf8'), 'old');
		assert.equal(qo(ws, '--no-policy', 'run', file, '-q').status, 0);
		assert.equal(existsSync(join(ws, 'old.txt')), false);
	});

	it('a second rollback says there is nothing to do; commit without an id skips rolled-back runs', () => {
		const ws = tempDir();
		assert.equal(qo(ws, 'run', write(ws, 'ok.json', ok), '-q').status, 0);
		assert.equal(qo(ws, 'rollback').status, 0);
		const again = qo(ws, 'rollback');
		assert.equal(again.status, 0);
		assert.match(again.stdout, /already rolled back: nothing to do/);
		assert.match(qo(ws, 'commit').stdout, /No run to commit/);
	});

	it('log tells the newest run from its journal', () => {
		const ws = tempDir();
		assert.equal(qo(ws, 'run', write(ws, 'ok.json', ok), '-q').status, 0);
		const r = qo(ws, 'log');
		assert.equal(r.status, 0, r.stderr);
		assert.match(r.stdout, /started ok/);
		assert.match(r.stdout, /hello succeeded/);
		assert.match(r.stdout, /finished: succeeded/);
		assert.equal(qo(ws, 'log', 'nope').status, 2);
	});

	it('invalid input exits 2 with file, line and JSON path, and every problem listed', () => {
		const ws = tempDir();
		const file = write(ws, 'bad.json', {
			name: 'bad',
			instructions: [
				{ id: 'a', type: 'file', operation: 'crate', parameters: { path: 'x' } },
				{ id: 'b', type: 'util', operation: 'echo', dependencies: ['ghost'], parameters: { value: 1 } },
			],
		});
		const r = qo(ws, 'validate', file);
		assert.equal(r.status, 2);
		assert.match(r.stdout, /bad\.json: 2 problems/);
		assert.match(r.stdout, /bad\.json:\d+:\d+ instructions\[0\]\.operation: unknown operation 'crate'.*did you mean 'create'/);
		assert.match(r.stdout, /instructions\[1\]\.dependencies\[0\]/);
		const malformed = qo(ws, 'run', write(ws, 'broken.json', '{ "name": "x", "instructions": [ }'));
		assert.equal(malformed.status, 2);
		assert.match(malformed.stderr, /broken\.json:1:\d+/);
		const missing = qo(ws, 'run', 'nope.json');
		assert.equal(missing.status, 2);
		assert.match(missing.stderr, /cannot read the workflow file: no such file/);
	});

	it('a bad option exits 2 with a usage hint', () => {
		const ws = tempDir();
		const r = qo(ws, 'run', 'x.json', '--concurrency', 'zero');
		assert.equal(r.status, 2);
		assert.match(r.stderr, /--concurrency must be a whole number/);
		assert.equal(qo(ws, 'frobnicate').status, 2);
	});

	it('plan shows levels, the critical path and what each step touches', () => {
		const ws = tempDir();
		const file = write(ws, 'p.json', {
			name: 'p',
			instructions: [
				{ id: 'a', type: 'file', operation: 'create', parameters: { path: 'a.txt', content: '' } },
				{ id: 'b', type: 'exec', operation: 'run', parameters: { command: 'ls' }, dependencies: ['a'] },
			],
		});
		const r = qo(ws, 'plan', file);
		assert.equal(r.status, 0);
		assert.match(r.stdout, /critical path: a → b/);
		assert.match(r.stdout, /Level 1 \(1 step\)/);
		assert.match(r.stdout, /Writes 1 path: a\.txt/);
		assert.match(r.stdout, /b: ls/);
		const json = JSON.parse(qo(ws, 'plan', file, '--json').stdout);
		assert.deepEqual(json.criticalPath, ['a', 'b']);
	});

	it('runs lists history; rollback undoes the newest run; commit makes a run final', () => {
		const ws = tempDir();
		const file = write(ws, 'ok.json', ok);
		assert.equal(qo(ws, 'run', file, '-q').status, 0);
		const runs = qo(ws, 'runs');
		assert.match(runs.stdout, /RUN\s+STATUS/);
		assert.match(runs.stdout, /succeeded\s/);
		const rb = qo(ws, 'rollback');
		assert.equal(rb.status, 0);
		assert.match(rb.stdout, /Rolled back \S+: 0 restored, 2 removed/);
		assert.equal(existsSync(join(ws, 'out')), false);
		assert.equal(qo(ws, 'run', file, '-q').status, 0);
		assert.match(qo(ws, 'commit').stdout, /Committed/);
		const refused = qo(ws, 'rollback');
		assert.equal(refused.status, 2);
		assert.match(refused.stderr, /was committed/);
		assert.match(JSON.parse(qo(ws, 'runs', '--json').stdout)[0].status, /succeeded/);
	});

	it('resume of a run that already succeeded explains there is nothing to do', () => {
		const ws = tempDir();
		assert.equal(qo(ws, 'run', write(ws, 'ok.json', ok), '-q').status, 0);
		const r = qo(ws, 'resume');
		assert.equal(r.status, 2);
		assert.match(r.stderr, /already succeeded; there is nothing to resume/);
	});

	it('checkpoint create, list and restore put the files back, and the restore can be rolled back', () => {
		const ws = tempDir();
		assert.equal(qo(ws, 'run', write(ws, 'ok.json', ok), '-q').status, 0);
		assert.match(qo(ws, 'checkpoint', 'create', 'first').stdout, /Checkpoint first: 1 file/);
		assert.match(qo(ws, 'checkpoint', 'list').stdout, /^first /m);
		assert.equal(qo(ws, 'run', write(ws, 'two.json', { name: 'two', instructions: [{ type: 'file', operation: 'modify', parameters: { path: 'out/hello.txt', content: 'changed' } }] }), '-q').status, 0);
		const restored = qo(ws, 'checkpoint', 'restore', 'first');
		assert.equal(restored.status, 0, restored.stdout + restored.stderr);
		assert.equal(readFileSync(join(ws, 'out/hello.txt'), 'utf8'), 'hi you');
		assert.equal(qo(ws, 'rollback').status, 0);
		assert.equal(readFileSync(join(ws, 'out/hello.txt'), 'utf8'), 'changed');
	});

	it('a quality step prints its findings as file:line:col severity message (rule), the first ten of them', () => {
		const undefinedNames = Array.from({ length: 12 }, (_, i) => `export const v${i} = missing${i};`).join('\n');
		const ws = eslintProject({ 'src/many.js': `${undefinedNames}\n` });
		const file = write(ws, 'q.json', { name: 'q', instructions: [{ id: 'lint', type: 'quality', operation: 'lint', parameters: { paths: ['src'] } }] });
		const r = qo(ws, 'run', file);
		assert.equal(r.status, 1, r.stderr);
		assert.match(r.stdout, /^ {2}lint: eslint — 12 errors$/m);
		assert.match(r.stdout, /^ {4}src\/many\.js:1:19 error 'missing0' is not defined\. \(no-undef\)$/m);
		assert.match(r.stdout, /^ {4}… and 2 more \(all of them: qo run --verbose, or --json\)$/m);
		assert.match(r.stdout, /✖ lint .*eslint reported 12 errors \(severity gate "error"\); first: src\/many\.js:1:19 error/);
		const json = qo(ws, 'run', file, '--json');
		const events = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; findings?: unknown[] });
		assert.equal(events.find((e) => e.type === 'findings')?.findings?.length, 12);
	});

	it('--help lists every command and --version prints the version', () => {
		const ws = tempDir();
		const help = qo(ws, '--help');
		assert.equal(help.status, 0);
		for (const cmd of ['run', 'validate', 'plan', 'resume', 'rollback', 'commit', 'runs', 'checkpoint']) assert.match(help.stdout, new RegExp(`\\n  ${cmd}\\b`));
		assert.match(qo(ws, '--version').stdout, /^\d+\.\d+\.\d+/);
	});
});
