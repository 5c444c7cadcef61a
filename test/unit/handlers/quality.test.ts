import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine } from '../../../src/core/engine';
import type { EngineEvent } from '../../../src/core/engine/events';
import { StepError } from '../../../src/core/errors';
import { qualityHandler, type QualityOutput } from '../../../src/core/handlers/quality';
import type { WorkspaceFs } from '../../../src/core/handlers/types';
import { createEscalationCheck } from '../../../src/core/policy/escalation';
import { scoreFindings } from '../../../src/core/quality/score';
import { tempDir } from '../../helpers/tmp';
import { A_JS, eslintProject, linkBin, OK_JS, tscProject, write } from '../quality/fixtures';
import { describeOp, makeContext, paramsError, runOp } from './stepContext';

function run(op: string, raw: Record<string, unknown>, ws: string) {
	return makeContext(ws).then(async (ctx) => ({ ctx, out: (await runOp(qualityHandler, op, raw, ctx)) as QualityOutput }));
}

const EXAMPLES = join(__dirname, '..', '..', '..', 'examples');
const hasPytest = spawnSync('pytest', ['--version'], { stdio: 'ignore' }).status === 0;

describe('quality handler', () => {
	describe('lint', () => {
		it('detects eslint from the project and reads its JSON report into workspace-relative findings', async () => {
			const ws = eslintProject();
			const { ctx, out } = await run('lint', { severity: 'none' }, ws);
			assert.equal(out.tool, 'eslint');
			assert.match(out.command, /node_modules\/\.bin\/eslint -f json -o \S+ --no-warn-ignored \.$/);
			assert.equal(out.exit_code, 1);
			assert.deepEqual(out.counts, { error: 2, warning: 2, info: 0 });
			// Errors first, then by file and line.
			assert.deepEqual(out.findings[0], { file: 'src/a.js', line: 3, column: 10, severity: 'error', message: "'y' is not defined.", rule: 'no-undef', source: 'eslint' });
			assert.deepEqual(
				out.findings.map((f) => `${f.file}:${f.line}:${f.column} ${f.severity} ${f.rule}`),
				['src/a.js:3:10 error no-undef', 'src/a.js:3:15 error semi', 'src/a.js:1:7 warning no-unused-vars', 'src/a.js:5:18 warning quotes'],
			);
			assert.ok(out.files?.includes('src/ok.js'), 'clean files are listed as checked');
			assert.deepEqual(ctx.reported.map((r) => [r.tool, r.findings.length]), [['eslint', 4]]);
			assert.equal(readFileSync(join(ws, 'src/a.js'), 'utf8'), A_JS, 'lint changes nothing');
		});

		it('checks only the given paths, named relative to the workspace even with a cwd', async () => {
			const ws = eslintProject({ 'pkg/src/a.js': A_JS, 'pkg/src/ok.js': OK_JS, 'other/b.js': 'zzz;\n' });
			const { out } = await run('lint', { cwd: 'pkg', paths: ['pkg/src/a.js'], severity: 'none' }, ws);
			assert.deepEqual([...new Set(out.findings.map((f) => f.file))], ['pkg/src/a.js']);
			assert.deepEqual(out.files, ['pkg/src/a.js']);
		});

		it('the gate: "error" fails on errors naming the count and the first finding; "warn" fails on warnings; "none" reports', async () => {
			const ws = eslintProject();
			await assert.rejects(run('lint', {}, ws), (err: unknown) => {
				assert.ok(StepError.is(err, 'failed'));
				assert.equal(err.message, `eslint reported 2 errors (severity gate "error"); first: src/a.js:3:10 error 'y' is not defined. (no-undef)`);
				assert.equal(err.permanent, true);
				return true;
			});
			const warnOnly = eslintProject({ 'src/w.js': 'const unused = 1;\n' });
			const passed = await run('lint', {}, warnOnly);
			assert.deepEqual(passed.out.counts, { error: 0, warning: 1, info: 0 });
			await assert.rejects(run('lint', { severity: 'warn' }, warnOnly), /eslint reported 1 warning \(severity gate "warn"\); first: src\/w\.js:1:7 warning/);
		});

		it('runs a package.json lint script when no linter is installed, and reads compiler-style lines from it', async () => {
			const ws = tempDir('qo-quality-script-');
			const lines = ['src/x.py:3:5: error: Incompatible types [assignment]', 'src/y.py:10: warning: unused import', 'noise without a place'];
			write(ws, 'lint.js', `console.log(${JSON.stringify(lines.join('\n'))}); process.exit(1);\n`);
			write(ws, 'package.json', JSON.stringify({ name: 'p', version: '1.0.0', scripts: { lint: 'node lint.js' } }));
			const { out } = await run('lint', { severity: 'none' }, ws);
			assert.equal(out.tool, 'npm run lint');
			assert.equal(out.command, 'npm run --silent lint');
			assert.deepEqual(out.findings, [
				{ file: 'src/x.py', line: 3, column: 5, severity: 'error', message: 'Incompatible types', rule: 'assignment', source: 'npm run lint' },
				{ file: 'src/y.py', line: 10, severity: 'warning', message: 'unused import', source: 'npm run lint' },
			]);
		});

		it('a script that fails without printing anything readable is an error finding on package.json, so the gate still fails', async () => {
			const ws = tempDir('qo-quality-script-');
			write(ws, 'package.json', JSON.stringify({ name: 'p', version: '1.0.0', scripts: { lint: 'node -e "console.error(\'linter crashed\'); process.exit(3)"' } }));
			const ctx = await makeContext(ws);
			await assert.rejects(runOp(qualityHandler, 'lint', {}, ctx), /npm run lint reported 1 error .*first: package\.json error `npm run --silent lint` exited with code 3: linter crashed/);
		});

		it('says what it looked for when the project has no linter, and names the tools it knows for a bad one', async () => {
			const ws = tempDir('qo-quality-empty-');
			const ctx = await makeContext(ws, { env: { PATH: '/nonexistent' } });
			await assert.rejects(runOp(qualityHandler, 'lint', {}, ctx), (err: unknown) => {
				assert.ok(StepError.is(err, 'not-found'));
				assert.match(err.message, /^no linter found in \.: looked for an eslint config with eslint installed, a ruff config with ruff installed, or a package\.json "lint" script/);
				return true;
			});
			await assert.rejects(runOp(qualityHandler, 'lint', { tool: 'jslint' }, ctx), /unknown tool "jslint" for lint: known are eslint, ruff, script; for another tool give `command`/);
			await assert.rejects(runOp(qualityHandler, 'lint', { tool: 'tsc' }, ctx), /lint cannot run tool "tsc"/);
		});

		it('runs a named command through the sandbox: output read as text, cwd checked, secrets scrubbed', async () => {
			const ws = tempDir('qo-quality-cmd-');
			process.env.QO_TEST_LINT_TOKEN = 'secret';
			try {
				const ctx = await makeContext(ws);
				const script = 'console.log("a.txt:2:1: warning: token=" + (process.env.QO_TEST_LINT_TOKEN ?? "none"))';
				const out = (await runOp(qualityHandler, 'lint', { tool: 'mylint', command: process.execPath, args: ['-e', script] }, ctx)) as QualityOutput;
				assert.deepEqual(out.findings, [{ file: 'a.txt', line: 2, column: 1, severity: 'warning', message: 'token=none', source: 'mylint' }]);
				await assert.rejects(runOp(qualityHandler, 'lint', { command: 'true', cwd: '..' }, ctx), /escapes the workspace/);
			} finally {
				delete process.env.QO_TEST_LINT_TOKEN;
			}
			assert.match(paramsError(qualityHandler, 'lint', { args: ['x'] }) ?? '', /`args` needs `command`/);
			assert.match(paramsError(qualityHandler, 'lint', { nope: 1 }) ?? '', /nope/);
		});

		it('a command named in the workflow goes through the escalation policy like an exec step', async () => {
			const ws = tempDir('qo-quality-policy-');
			const check = createEscalationCheck({});
			const risky = await describeOp(qualityHandler, 'lint', { command: 'sudo eslint .' }, ws);
			assert.deepEqual(risky.touches?.commands, ['sudo eslint .']);
			assert.match(check({ type: 'quality', operation: 'lint', touches: risky.touches! })?.rule ?? '', /^exec:risky:/);
			const detected = await describeOp(qualityHandler, 'lint', {}, ws);
			assert.equal(check({ type: 'quality', operation: 'lint', touches: detected.touches! }), undefined);
			assert.equal(detected.effect, 'external');
			assert.equal(detected.summary, 'lint . with the detected tool');
		});
	});

	describe('typecheck', () => {
		it('runs tsc on the project and reads file(line,col) errors, multi-line message chains and the files it checked', async () => {
			const ws = tscProject();
			const { out } = await run('typecheck', { severity: 'none' }, ws);
			assert.equal(out.tool, 'tsc');
			assert.deepEqual(
				out.findings.map((f) => `${f.file}:${f.line}:${f.column} ${f.rule}`),
				['src/t.ts:1:14 TS2322', 'src/t.ts:4:14 TS2322'],
			);
			assert.equal(out.findings[0].message, "Type 'string' is not assignable to type 'number'.");
			assert.match(out.findings[1].message, /^Type '\{ a: string; \}' is not assignable to type 'A'\.\nTypes of property 'a' are incompatible\./);
			assert.deepEqual(out.files?.sort(), ['src/fine.ts', 'src/t.ts']);
		});

		it('fails the step on type errors by default, and passes a clean project', async () => {
			await assert.rejects(run('typecheck', {}, tscProject()), /tsc reported 2 errors \(severity gate "error"\); first: src\/t\.ts:1:14 error Type 'string' is not assignable to type 'number'\. \(TS2322\)$/);
			const clean = await run('typecheck', {}, tscProject({ 'src/fine.ts': 'export const fine = 1;\n' }));
			assert.deepEqual(clean.out.counts, { error: 0, warning: 0, info: 0 });
			assert.equal(clean.out.exit_code, 0);
		});
	});

	describe('test', () => {
		it("node's test runner: TAP read for the failing assertion's line and the nested test titles", async () => {
			const ws = tempDir('qo-quality-node-');
			write(
				ws,
				'math.test.js',
				[
					"const test = require('node:test');",
					"const assert = require('node:assert/strict');",
					"test('adds', () => assert.equal(1 + 1, 2));",
					"test('subtracts', () => {",
					"  console.log('noise from a test');",
					'  assert.equal(2 - 1, 3);',
					'});',
					"test.describe('group', () => { test.it('nested fails', () => { throw new Error('boom'); }); });",
					'',
				].join('\n'),
			);
			const { out } = await run('test', { tool: 'node', paths: ['math.test.js'], severity: 'none' }, ws);
			assert.deepEqual(out.tests, { passed: 1, failed: 2, skipped: 0 });
			assert.deepEqual(
				out.findings.map((f) => `${f.file}:${f.line} ${f.message}`),
				['math.test.js:6 subtracts: Expected values to be strictly equal:', 'math.test.js:8 group > nested fails: boom'],
			);
		});

		it('mocha: its JSON report, failures at the stack frame in the test file', async () => {
			const ws = tempDir('qo-quality-mocha-');
			linkBin(ws, 'mocha');
			write(ws, 'test/m.test.js', "const assert = require('node:assert/strict');\ndescribe('math', () => {\n  it('adds', () => assert.equal(1 + 1, 2));\n  it('fails', () => { console.log('{ not json'); assert.equal(1, 2); });\n});\n");
			const { out } = await run('test', { tool: 'mocha', paths: ['test/m.test.js'], severity: 'none' }, ws);
			assert.equal(out.tool, 'mocha');
			assert.deepEqual(out.tests, { passed: 1, failed: 1, skipped: 0 });
			assert.deepEqual(out.findings, [{ file: 'test/m.test.js', line: 4, column: 57, severity: 'error', message: 'math fails: Expected values to be strictly equal:', source: 'mocha' }]);
		});

		it("detects the package.json test script and reads mocha's own text summary; a failing test fails the step", async () => {
			const ws = tempDir('qo-quality-npmtest-');
			linkBin(ws, 'mocha');
			write(ws, 'package.json', JSON.stringify({ name: 'p', version: '1.0.0', scripts: { test: 'mocha test' } }));
			write(ws, 'test/m.test.js', "const assert = require('node:assert/strict');\ndescribe('math', () => {\n  it('adds', () => assert.equal(1 + 1, 3));\n});\n");
			await assert.rejects(run('test', {}, ws), (err: unknown) => {
				assert.ok(StepError.is(err, 'failed'));
				assert.match(err.message, /^npm run test reported 1 error \(severity gate "error"\); first: test\/m\.test\.js:3:\d+ error math adds: AssertionError/);
				assert.equal(err.permanent, false, 'a test failure may be flaky: retry can help');
				return true;
			});
		});

		(hasPytest ? it : it.skip)('pytest: failures at the failing line, nothing cached or compiled into the workspace', async () => {
			const ws = tempDir('qo-quality-pytest-');
			write(ws, 'pyproject.toml', '[project]\nname = "p"\nversion = "0"\n');
			write(ws, 'tests/test_a.py', 'def test_ok():\n    assert 1 == 1\n\ndef test_bad():\n    x = 1\n    assert x == 2, "x should be two"\n');
			const { out } = await run('test', { severity: 'none' }, ws);
			assert.equal(out.tool, 'pytest');
			assert.deepEqual(out.tests, { passed: 1, failed: 1, skipped: 0 });
			assert.deepEqual(out.findings, [{ file: 'tests/test_a.py', line: 6, severity: 'error', message: 'test_bad: AssertionError: x should be two', source: 'pytest' }]);
			assert.equal(existsSync(join(ws, '.pytest_cache')), false);
			assert.equal(existsSync(join(ws, 'tests', '__pycache__')), false);
		});
	});

	describe('format', () => {
		it('eslint --fix as a formatter: check lists the files it would change, and fails by default', async () => {
			const ws = eslintProject();
			await assert.rejects(run('format', { tool: 'eslint' }, ws), /eslint reported 1 error .*first: src\/a\.js error needs formatting \(eslint --fix would change it\) \(format\)/);
			assert.equal(readFileSync(join(ws, 'src/a.js'), 'utf8'), A_JS);
		});

		it('write goes through the WorkspaceFs (the journal) and reports what it changed', async () => {
			const ws = eslintProject();
			const writes: string[] = [];
			const ctx = await makeContext(ws, {
				fs: {
					readFile: async (rel: string) => readFileSync(join(ws, rel)),
					writeFile: async (rel: string, data: Buffer | string) => void writes.push(`${rel}=${String(data)}`),
				} as unknown as WorkspaceFs,
			});
			const out = (await runOp(qualityHandler, 'format', { tool: 'eslint', write: true }, ctx)) as QualityOutput;
			assert.deepEqual(writes, ["src/a.js=const unused = 1;\nexport function f(x) {\n  return y + x;\n}\nexport const s = 'dq';\n"]);
			assert.deepEqual(out.changed, ['src/a.js']);
			assert.deepEqual(out.findings, [{ file: 'src/a.js', line: 0, severity: 'info', message: 'formatted (eslint)', rule: 'format', source: 'eslint' }]);
			assert.equal(readFileSync(join(ws, 'src/a.js'), 'utf8'), A_JS, 'the tool itself wrote nothing');
		});

		it('refuses write with a script or a command: their writes would bypass the journal', async () => {
			const ws = tempDir('qo-quality-fmt-');
			write(ws, 'package.json', JSON.stringify({ name: 'p', version: '1.0.0', scripts: { 'format:check': 'true' } }));
			await assert.rejects(run('format', { write: true }, ws), /format with write: true needs a formatter that can hand qo the formatted text \(prettier, ruff or eslint\): npm run format:check would change files outside the journal/);
			await assert.rejects(run('format', { write: true, command: 'prettier --write .' }, ws), /`prettier --write \.` would change files outside the journal/);
			const checked = await run('format', {}, ws);
			assert.equal(checked.out.tool, 'npm run format:check');
		});

		it('asks for approval before writing where the sandbox says writes need it', async () => {
			const ws = tempDir('qo-quality-fmt-');
			const d = await describeOp(qualityHandler, 'format', { tool: 'prettier', write: true, paths: ['.vscode'] }, ws);
			assert.match(d.approval ?? '', /\.vscode/);
			assert.deepEqual(d.touches, { reads: ['.vscode'], writes: ['.vscode'] });
			assert.equal(d.effect, 'workspace');
			const check = await describeOp(qualityHandler, 'format', { tool: 'prettier', paths: ['.vscode'] }, ws);
			assert.equal(check.approval, undefined);
		});
	});

	describe('through the engine', () => {
		it('a failing gate fails the step and skips its dependents; the findings reach the event stream', async () => {
			const ws = eslintProject();
			const engine = await createEngine({ workspace: ws });
			const events: EngineEvent[] = [];
			engine.events.on((e) => events.push(e));
			const wf = engine.parse(
				JSON.stringify({
					name: 'gate',
					instructions: [
						{ id: 'lint', type: 'quality', operation: 'lint', parameters: { paths: ['src'] } },
						{ id: 'after', type: 'util', operation: 'echo', parameters: { value: 1 }, dependencies: ['lint'] },
					],
				}),
				join(ws, 'wf.json'),
			);
			const result = await engine.run(wf);
			assert.equal(result.status, 'failed');
			assert.match(result.message ?? '', /^lint: eslint reported 2 errors \(severity gate "error"\); first: src\/a\.js:3:10 error/);
			assert.deepEqual(result.counts, { failed: 1, skipped: 1 });
			const skipped = events.find((e) => e.type === 'step' && e.id === 'after' && e.state === 'skipped');
			assert.ok(skipped);
			const findings = events.filter((e): e is Extract<EngineEvent, { type: 'findings' }> => e.type === 'findings');
			assert.deepEqual(findings.map((e) => [e.id, e.tool, e.findings.length]), [['lint', 'eslint', 4]]);
		});

		it('format write is journaled: rollback restores the original bytes exactly', async () => {
			// No final newline, CRLF in a comment line, non-ASCII text: all must come back as they were.
			const original = Buffer.from('// héllo\r\nexport const a = "x"\nexport const b = 1', 'utf8');
			const ws = eslintProject({ 'src/f.js': '' });
			write(ws, 'src/f.js', original);
			const engine = await createEngine({ workspace: ws });
			const wf = engine.parse(
				JSON.stringify({ name: 'fmt', instructions: [{ id: 'fmt', type: 'quality', operation: 'format', parameters: { tool: 'eslint', write: true, paths: ['src'] } }] }),
				join(ws, 'wf.json'),
			);
			const result = await engine.run(wf);
			assert.equal(result.status, 'succeeded', result.message);
			const formatted = readFileSync(join(ws, 'src/f.js'), 'utf8');
			assert.match(formatted, /export const a = 'x';\nexport const b = 1;$/);
			const rb = await engine.rollback(result.runId);
			assert.deepEqual(rb.conflicts, []);
			assert.ok(readFileSync(join(ws, 'src/f.js')).equals(original), 'byte for byte');
			assert.deepEqual(readdirSync(join(ws, 'src')), ['f.js']);
		});

		it('score combines earlier steps through ${steps.ID.output} references, over every checked file', async () => {
			const ws = eslintProject();
			write(ws, 'tsconfig.json', JSON.stringify({ compilerOptions: { strict: true, noEmit: true, allowJs: true, checkJs: true, types: [], target: 'ES2022', module: 'ES2022' }, include: ['src'] }));
			linkBin(ws, 'tsc');
			const engine = await createEngine({ workspace: ws });
			const wf = engine.parse(
				JSON.stringify({
					name: 'score',
					settings: { on_failure: 'continue' },
					instructions: [
						{ id: 'lint', type: 'quality', operation: 'lint', parameters: { paths: ['src'], severity: 'none' } },
						{ id: 'types', type: 'quality', operation: 'typecheck', parameters: { severity: 'none' } },
						{ id: 'score', type: 'quality', operation: 'score', update_context: true, parameters: { from: ['${steps.lint.output}', '${steps.types.output}'], severity: 'none' } },
						{ id: 'gate', type: 'quality', operation: 'score', parameters: { findings: '${steps.lint.output.findings}', min_score: 90, severity: 'none' } },
					],
				}),
				join(ws, 'wf.json'),
			);
			assert.deepEqual(wf.instructions[2].dependencies, ['lint', 'types'], 'references add dependencies');
			const result = await engine.run(wf);
			assert.equal(result.status, 'failed');
			assert.deepEqual(result.counts, { succeeded: 3, failed: 1 });
			// lint alone: src/a.js has 2 errors and 2 warnings (26 points) and is the only file given.
			assert.equal(result.message, 'gate: quality score 40.6 is below min_score 90; lowest: src/a.js (40.6)');
			const context = JSON.parse(readFileSync(join(ws, '.quantum', 'context.json'), 'utf8')) as { score: QualityOutput };
			const scored = context.score;
			assert.deepEqual(scored.counts, { error: 4, warning: 2, info: 0 });
			assert.deepEqual(new Set(scored.findings.map((f) => f.source)), new Set(['eslint', 'tsc']));
			// eslint and tsc each add 2 errors on src/a.js (46 points → 20.3); src/ok.js was checked and is clean.
			assert.deepEqual(scored.score, { value: 60.2, files: { 'src/a.js': 20.3 }, checked: 2 });
		});
	});

	it('examples/quality-check.workflow.json runs offline and passes, with the warnings it is meant to show', async () => {
		const ws = tempDir('qo-quality-example-');
		cpSync(join(EXAMPLES, 'quality'), join(ws, 'examples', 'quality'), { recursive: true });
		cpSync(join(EXAMPLES, 'quality-check.workflow.json'), join(ws, 'examples', 'quality-check.workflow.json'));
		linkBin(ws, 'eslint', 'tsc');
		const engine = await createEngine({ workspace: ws });
		const events: EngineEvent[] = [];
		engine.events.on((e) => events.push(e));
		const result = await engine.run(await engine.load(join(ws, 'examples', 'quality-check.workflow.json')));
		assert.equal(result.status, 'succeeded', result.message);
		const reported = events.filter((e): e is Extract<EngineEvent, { type: 'findings' }> => e.type === 'findings');
		assert.deepEqual(reported.map((e) => [e.id, e.tool, e.findings.length]).sort(), [['lint', 'eslint', 3], ['tests', 'node', 0], ['types', 'tsc', 0]]);
		const scoreLine = events.find((e) => e.type === 'step-output' && e.id === 'score');
		assert.match(scoreLine && scoreLine.type === 'step-output' ? scoreLine.text : '', /^quality score 93\.3 over 4 files \(0 errors, 3 warnings, 0 notes\)/);
	});

	describe('score', () => {
		it('scores given findings with the documented formula, and runs lint and typecheck itself when given nothing', async () => {
			const ws = eslintProject();
			const findings = [
				{ file: 'a.ts', line: 1, severity: 'error', message: 'x', source: 't' },
				{ file: 'b.ts', line: 1, severity: 'warning', message: 'x', source: 't' },
			];
			const given = await run('score', { findings, severity: 'none' }, ws);
			assert.deepEqual(given.out.score, { value: 80.4, files: { 'a.ts': 70.7, 'b.ts': 90.1 }, checked: 2 });
			assert.equal(given.out.exit_code, null);
			assert.deepEqual(given.ctx.reported, [], 'findings it was given were already reported by their steps');
			const own = await run('score', { severity: 'none' }, ws);
			assert.equal(own.out.command.includes('eslint'), true);
			assert.deepEqual(own.ctx.reported.map((r) => r.tool), ['eslint']);
			assert.deepEqual(own.out.score, scoreFindings(own.out.findings, ['eslint.config.mjs', 'src/a.js', 'src/ok.js']));
			assert.match(own.ctx.outputs.map((o) => o.text).join(''), /skipped typecheck: no type checker found/);
		});

		it('explains a step id given where an output was meant', async () => {
			const ws = tempDir('qo-quality-score-');
			await assert.rejects(run('score', { from: ['lint'] }, ws), /from\[0\] is the text "lint", not a step's output: write "\$\{steps\.lint\.output\}"/);
		});
	});
});
