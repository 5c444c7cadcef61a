import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { StepError } from '../../../src/core/errors';
import { projectFacts } from '../../../src/core/quality/detect';
import { formatFinding, gateMessage, type Finding } from '../../../src/core/quality/findings';
import { parseEslintJson, parseFileList, parseRuffJson, parseTextFindings, parseTsc, ReportFormatError } from '../../../src/core/quality/parseLint';
import { parseMochaText, parseNodeSpec, parsePytest, parseTap, parseTestText } from '../../../src/core/quality/parseTests';
import { workspacePath } from '../../../src/core/quality/paths';
import { fileScore, scoreFindings } from '../../../src/core/quality/score';
import { detect, planTool } from '../../../src/core/quality/tools';
import { tempDir } from '../../helpers/tmp';
import { eslintProject, linkBin, tscProject, write } from './fixtures';

/** Runs a tool from node_modules/.bin in `cwd` and returns what it printed, as a real run does. */
function capture(cwd: string, bin: string, args: string[]): { stdout: string; status: number | null } {
	const r = spawnSync(join(cwd, 'node_modules', '.bin', bin), args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
	return { stdout: r.stdout + r.stderr, status: r.status };
}

const where = (fs: Finding[]) => fs.map((f) => `${f.file}:${f.line}:${f.column ?? ''} ${f.severity} ${f.rule ?? ''}`.trim());

describe('quality parsers on real tool output', () => {
	it("eslint's default (stylish) text, as a lint script prints it", () => {
		const ws = eslintProject();
		const { stdout, status } = capture(ws, 'eslint', ['src']);
		assert.equal(status, 1);
		const r = parseTextFindings(stdout, { root: ws, cwd: ws }, 'npm run lint', 'error');
		assert.deepEqual(where(r.findings), ['src/a.js:1:7 warning no-unused-vars', 'src/a.js:3:10 error no-undef', 'src/a.js:3:15 error semi', 'src/a.js:5:18 warning quotes']);
		assert.equal(r.findings[1].message, "'y' is not defined");
	});

	it('eslint JSON: a parse error is a fatal error without a rule; a file outside the workspace keeps its absolute path', () => {
		const ws = eslintProject({ 'src/bad.js': 'const = ;\n' });
		const { stdout } = capture(ws, 'eslint', ['-f', 'json', 'src']);
		const r = parseEslintJson(stdout, { root: join(ws, 'src'), cwd: ws });
		assert.deepEqual(r.findings, [{ file: 'bad.js', line: 1, column: 7, severity: 'error', message: 'Parsing error: Unexpected token =', source: 'eslint' }]);
		const outside = parseEslintJson(stdout, { root: join(ws, 'elsewhere'), cwd: ws });
		assert.equal(outside.findings[0].file, join(ws, 'src', 'bad.js'));
		assert.throws(() => parseEslintJson('Oops! Something went wrong!', { root: ws, cwd: ws }), ReportFormatError);
	});

	it('tsc --pretty false: message chains kept, a config error lands on the tsconfig', () => {
		const ws = tscProject();
		const { stdout, status } = capture(ws, 'tsc', ['--noEmit', '--pretty', 'false', '-p', '.']);
		assert.equal(status, 2);
		const r = parseTsc(stdout, { root: ws, cwd: ws }, 'tsconfig.json');
		assert.deepEqual(where(r.findings), ['src/t.ts:1:14 error TS2322', 'src/t.ts:4:14 error TS2322']);
		assert.equal(r.findings[1].message, "Type '{ a: string; }' is not assignable to type 'A'.\nTypes of property 'a' are incompatible.\nType 'string' is not assignable to type '{ b: number; }'.");
		const missing = capture(ws, 'tsc', ['--noEmit', '--pretty', 'false', '-p', 'nope.json']);
		assert.deepEqual(parseTsc(missing.stdout, { root: ws, cwd: ws }, 'nope.json').findings, [
			{ file: 'nope.json', line: 0, severity: 'error', message: "The specified path does not exist: 'nope.json'.", rule: 'TS5058', source: 'tsc' },
		]);
	});

	it("mocha's spec text (what `npm test` prints) and its TAP reporter", () => {
		const ws = tempDir('qo-parse-mocha-');
		linkBin(ws, 'mocha');
		write(ws, 'test/m.test.js', "const assert = require('node:assert/strict');\ndescribe('math', () => {\n  it('adds', () => assert.equal(1 + 1, 2));\n  describe('deep', () => { it('fails', () => assert.equal(1, 2)); });\n  it.skip('later', () => {});\n});\n");
		const spec = capture(ws, 'mocha', ['test']);
		const r = parseMochaText(spec.stdout, { root: ws, cwd: ws }, 'npm test');
		assert.deepEqual(r.tests, { passed: 1, failed: 1, skipped: 1 });
		assert.deepEqual(r.findings.map((f) => `${f.file}:${f.line} ${f.message}`), ['test/m.test.js:4 math deep fails: AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:']);
		assert.deepEqual(parseTestText(spec.stdout, { root: ws, cwd: ws }, 'npm test').findings, r.findings, 'recognised as mocha text');
		const tap = capture(ws, 'mocha', ['--reporter', 'tap', 'test']);
		const t = parseTap(tap.stdout, { root: ws, cwd: ws }, 'mocha');
		assert.deepEqual(t.findings.map((f) => `${f.file}:${f.line}`), ['test/m.test.js:4']);
		assert.match(t.findings[0].message, /^math deep fails: /);
		assert.deepEqual(t.tests, { passed: 1, failed: 1, skipped: 1 });
	});

	it("node --test's TAP on stdout, with a test's own console output mixed in", () => {
		const ws = tempDir('qo-parse-node-');
		write(ws, 'a.test.js', "const test = require('node:test');\nconst assert = require('node:assert');\ntest('one', () => { console.log('not ok 99 - fake'); assert.ok(false, 'nope'); });\ntest('two', { skip: true }, () => {});\n");
		const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', 'a.test.js'], { cwd: ws, encoding: 'utf8' });
		const parsed = parseTap(r.stdout, { root: ws, cwd: ws }, 'node');
		assert.deepEqual(parsed.findings.map((f) => `${f.file}:${f.line} ${f.message}`), ['a.test.js:3 one: nope']);
		assert.deepEqual(parsed.tests, { passed: 0, failed: 1, skipped: 1 });
	});
});

describe('quality parsers on formats whose tools are not installed here', () => {
	const at = { root: '/w', cwd: '/w/pkg' };

	it('ruff check --output-format json: every violation is an error with its code', () => {
		const json = JSON.stringify([
			{ code: 'F401', message: '`os` imported but unused', filename: '/w/pkg/app.py', location: { row: 1, column: 8 }, end_location: { row: 1, column: 10 }, fix: null, url: 'https://docs.astral.sh/ruff/rules/unused-import' },
			{ code: null, message: 'SyntaxError: Expected an expression', filename: '/w/pkg/bad.py', location: { row: 2, column: 5 } },
		]);
		assert.deepEqual(parseRuffJson(json, at).findings, [
			{ file: 'pkg/app.py', line: 1, column: 8, severity: 'error', message: '`os` imported but unused', rule: 'F401', source: 'ruff' },
			{ file: 'pkg/bad.py', line: 2, column: 5, severity: 'error', message: 'SyntaxError: Expected an expression', source: 'ruff' },
		]);
	});

	it('prettier --list-different and --check lists, its [error] lines, and ruff format --check', () => {
		const prettier = 'src/a.ts\nsrc/dir with space/b.md\n[error] src/bad.js: SyntaxError: Unexpected token (3:7)\n';
		assert.deepEqual(where(parseFileList(prettier, at, 'prettier', 'needs formatting', 'error', 'format').findings), [
			'pkg/src/a.ts:0: error format',
			'pkg/src/dir with space/b.md:0: error format',
			'pkg/src/bad.js:3:7 error',
		]);
		const check = 'Checking formatting...\n[warn] src/a.ts\n[warn] Code style issues found in the above file. Run Prettier with --write to fix.\n';
		assert.deepEqual(where(parseFileList(check, at, 'prettier', 'x', 'error').findings), ['pkg/src/a.ts:0: error']);
		const ruff = 'Would reformat: app.py\nWould reformat: lib/util.py\n2 files would be reformatted, 3 files already formatted\n';
		assert.deepEqual(where(parseFileList(ruff, at, 'ruff', 'x', 'error').findings), ['pkg/app.py:0: error', 'pkg/lib/util.py:0: error']);
	});

	it('pytest -rfE --tb=line (as captured from pytest 9), and a collection error', () => {
		const text = [
			'.FF                                                                      [100%]',
			'=================================== FAILURES ===================================',
			'E   AssertionError: x should be two',
			'    assert 1 == 2',
			'/w/pkg/tests/test_a.py:6: AssertionError: x should be two',
			'E   ValueError: nope',
			'/w/pkg/tests/test_a.py:9: ValueError: nope',
			'=========================== short test summary info ============================',
			'FAILED tests/test_a.py::test_bad - AssertionError: x should be two',
			'FAILED tests/test_a.py::TestX::test_err - ValueError: nope',
			'ERROR tests/test_b.py - SyntaxError: invalid syntax',
			'2 failed, 1 passed, 1 error in 1.42s',
		].join('\n');
		const r = parsePytest(text, at);
		assert.deepEqual(r.findings.map((f) => `${f.file}:${f.line} ${f.message}`), [
			'pkg/tests/test_a.py:6 test_bad: AssertionError: x should be two',
			'pkg/tests/test_a.py:9 TestX::test_err: ValueError: nope',
			'pkg/tests/test_b.py:0 error in tests/test_b.py: SyntaxError: invalid syntax',
		]);
		assert.deepEqual(r.tests, { passed: 1, failed: 3, skipped: 0 });
	});

	it("node's spec reporter (the default from Node 23): each failure once, at its frame", () => {
		const text = [
			'✔ adds (0.5ms)',
			'✖ subtracts (1.2ms)',
			'  AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:',
			'      at TestContext.<anonymous> (/w/pkg/math.test.js:6:10)',
			'      at Test.runInAsyncScope (node:async_hooks:214:14)',
			'ℹ tests 2',
			'ℹ pass 1',
			'ℹ fail 1',
			'',
			'✖ failing tests:',
			'',
			'test at math.test.js:4:1',
			'✖ subtracts (1.2ms)',
			'  AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:',
			'      at TestContext.<anonymous> (/w/pkg/math.test.js:6:10)',
		].join('\n');
		const r = parseNodeSpec(text, at, 'node');
		assert.deepEqual(r.findings.map((f) => `${f.file}:${f.line} ${f.message}`), ['pkg/math.test.js:6 subtracts: AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:']);
		assert.deepEqual(r.tests, { passed: 1, failed: 1, skipped: 0 });
	});

	it('compiler-style lines: mypy, gcc, eslint compact; paths with colons in messages; times and URLs are not findings', () => {
		const text = [
			'app/main.py:12: error: Argument 1 to "f" has incompatible type "str"; expected "int"  [arg-type]',
			'src/x.c:3:9: warning: unused variable ‘y’ [-Wunused-variable]',
			'/w/pkg/src/a.js: line 2, col 5, Error - Missing semicolon. (semi)',
			'Started at 12:30:45 on https://example.com:8080/x',
			'Found 1 error in 1 file (checked 3 source files)',
		].join('\n');
		assert.deepEqual(parseTextFindings(text, at, 'tool', 'warning').findings, [
			{ file: 'pkg/app/main.py', line: 12, severity: 'error', message: 'Argument 1 to "f" has incompatible type "str"; expected "int"', rule: 'arg-type', source: 'tool' },
			{ file: 'pkg/src/x.c', line: 3, column: 9, severity: 'warning', message: 'unused variable ‘y’', rule: '-Wunused-variable', source: 'tool' },
			{ file: 'pkg/src/a.js', line: 2, column: 5, severity: 'error', message: 'Missing semicolon.', rule: 'semi', source: 'tool' },
		]);
	});

	it('paths: relative to the cwd, file:// URLs, outside the workspace', () => {
		assert.equal(workspacePath(at, 'src/a.ts'), 'pkg/src/a.ts');
		assert.equal(workspacePath(at, 'file:///w/b%20c.ts'), 'b c.ts');
		assert.equal(workspacePath(at, '../../etc/x'), '/etc/x');
		assert.equal(workspacePath(at, '/w'), '.');
	});
});

describe('findings, gate and score', () => {
	const f = (file: string, severity: Finding['severity'], line = 1): Finding => ({ file, line, severity, message: `${severity} here`, source: 't' });

	it('formats findings as file:line:col severity message (rule)', () => {
		assert.equal(formatFinding({ ...f('a.ts', 'error', 3), column: 7, rule: 'TS2322' }), 'a.ts:3:7 error error here (TS2322)');
		assert.equal(formatFinding({ ...f('pkg.json', 'warning', 0) }), 'pkg.json warning warning here');
	});

	it('the gate counts what it fails on and names the first finding in fixing order', () => {
		const list = [f('b.ts', 'warning'), f('b.ts', 'error', 9), f('a.ts', 'error', 5), f('a.ts', 'info')];
		assert.equal(gateMessage(list, 'error', 'x'), 'x reported 2 errors (severity gate "error"); first: a.ts:5 error error here');
		assert.equal(gateMessage(list, 'warn', 'x'), 'x reported 2 errors and 1 warning (severity gate "warn"); first: a.ts:5 error error here');
		assert.equal(gateMessage(list, 'none', 'x'), undefined);
		assert.equal(gateMessage([f('a', 'warning')], 'error', 'x'), undefined);
	});

	it('file score: 100 × 0.5^(penalty / 20), penalty = 10 per error, 3 per warning, 1 per info', () => {
		assert.equal(fileScore(0), 100);
		assert.equal(fileScore(10), 70.7);
		assert.equal(fileScore(3), 90.1);
		assert.equal(fileScore(1), 96.6);
		assert.equal(fileScore(20), 50);
		assert.equal(fileScore(50), 17.7);
		assert.equal(fileScore(1000), 0);
		// Diminishing returns: each further error costs less than the one before.
		assert.ok(100 - fileScore(10) > fileScore(10) - fileScore(20));
	});

	it('run score: the mean over checked files, clean ones at 100; files with findings listed worst first', () => {
		const s = scoreFindings([f('a.ts', 'error'), f('a.ts', 'error'), f('b.ts', 'warning')], ['a.ts', 'b.ts', 'c.ts', 'd.ts']);
		assert.deepEqual(s, { value: 85, files: { 'a.ts': 50, 'b.ts': 90.1 }, checked: 4 });
		assert.deepEqual(scoreFindings([]), { value: 100, files: {}, checked: 0 });
		assert.equal(scoreFindings([f('a.ts', 'info')]).value, 96.6, 'without a list of checked files, the files with findings');
	});
});

describe('detection', () => {
	const noPath = { PATH: '/nonexistent' };

	it('reads package.json scripts (ignoring npm init\'s placeholder test) and finds node_modules/.bin from a subfolder up to the root', async () => {
		const ws = tempDir('qo-detect-');
		write(ws, 'pkg/package.json', JSON.stringify({ scripts: { lint: 'x', test: 'echo "Error: no test specified" && exit 1', 'format:check': 'y' } }));
		linkBin(ws, 'tsc');
		const facts = await projectFacts(ws, join(ws, 'pkg'), noPath);
		assert.deepEqual(facts.scripts, { lint: 'x', 'format:check': 'y' });
		assert.equal(await facts.bin('tsc'), join(ws, 'node_modules', '.bin', 'tsc'));
		assert.equal(await facts.bin('eslint'), undefined);
		assert.equal(await detect('lint', facts), 'script');
		assert.equal(await detect('format', facts), 'script');
		await assert.rejects(detect('test', facts), (err: unknown) => StepError.is(err, 'not-found') && /no test runner found in pkg/.test(err.message));
		await assert.rejects(detect('typecheck', facts), /no type checker found in pkg: looked for tsconfig\.json with typescript installed/);
	});

	it('prefers the tools themselves (machine-readable reports) over scripts, and knows Python projects', async () => {
		const ws = eslintProject();
		write(ws, 'package.json', JSON.stringify({ scripts: { lint: 'eslint src', test: 'mocha' } }));
		write(ws, 'tsconfig.json', '{}');
		linkBin(ws, 'tsc', 'mocha');
		const facts = await projectFacts(ws, ws, noPath);
		assert.equal(await detect('lint', facts), 'eslint');
		assert.equal(await detect('typecheck', facts), 'tsc');
		assert.equal(await detect('test', facts), 'script');
		const py = tempDir('qo-detect-py-');
		write(py, 'pyproject.toml', '[tool.pytest.ini_options]\naddopts = "-q"\n');
		assert.equal(await detect('test', await projectFacts(py, py, noPath)), 'pytest');
		const plan = await planTool({ kind: 'test', paths: [], write: false, reportDir: '/tmp' }, await projectFacts(py, py, { PATH: process.env.PATH }));
		assert.equal(plan.tool, 'pytest');
		assert.deepEqual(plan.env, { PYTHONDONTWRITEBYTECODE: '1' });
	});
});
