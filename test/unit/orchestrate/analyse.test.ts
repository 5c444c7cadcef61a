import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StepError } from '../../../src/core/errors';
import { analyseByRules, analyseWithLlm } from '../../../src/core/orchestrate/analyse';
import type { WorkspaceFacts } from '../../../src/core/orchestrate/types';
import { gatherFacts, pathTokens } from '../../../src/core/orchestrate/workspaceFacts';
import { createOpenAiClient } from '../../../src/core/services/llm/client';
import { lastUserText, startScriptedOpenAi, type ScriptedOpenAi } from '../../helpers/scriptedOpenAi';
import { tempDir } from '../../helpers/tmp';
import { projectWorkspace } from './helpers';

const facts = (over: Partial<WorkspaceFacts> = {}): WorkspaceFacts => ({
	files: [],
	missing: [],
	checks: { test: 'npm test', lint: 'npm run lint' },
	languages: ['TypeScript'],
	git: true,
	scanned: 10,
	truncated: false,
	...over,
});

describe('orchestrate: analysing a goal', function () {
	this.timeout(30_000);

	describe('the rule-based analyser (offline)', () => {
		const table: { goal: string; intent: string; risks?: string[]; noRisks?: string[]; level?: string }[] = [
			{ goal: 'Add tests for src/math.ts', intent: 'create', noRisks: ['delete', 'deploy'], level: 'low' },
			{ goal: 'Add input validation to the signup handler and tests for it', intent: 'modify' },
			{ goal: 'Fix the failing tests', intent: 'fix', noRisks: ['unverified'] },
			{ goal: 'make the broken build pass again', intent: 'fix' },
			{ goal: 'Explain why the tests are failing', intent: 'analyze' },
			{ goal: 'Review the authentication code for security issues', intent: 'analyze' },
			{ goal: 'Deploy the app to production', intent: 'deploy', risks: ['deploy'], level: 'low' },
			{ goal: 'Cut a release v1.2.0 and push the tag', intent: 'deploy', risks: ['deploy', 'git-push'], level: 'medium' },
			{ goal: 'write release notes for the last sprint', intent: 'create', noRisks: ['git-push'] },
			{ goal: 'Run the tests', intent: 'manage', noRisks: ['unverified'] },
			{ goal: 'Upgrade all dependencies and push to main', intent: 'manage', risks: ['dependencies', 'git-push', 'many-files'], level: 'high' },
			{ goal: 'Delete the old logs folder', intent: 'modify', risks: ['delete'] },
			{ goal: 'Rotate the API key in .env and update the config', intent: 'modify', risks: ['secrets'] },
			{ goal: 'Refactor the database layer across the whole codebase', intent: 'modify', risks: ['many-files', 'database'], level: 'high' },
			{ goal: 'Create a file notes/todo.md', intent: 'create' },
			{ goal: 'Document src/math.ts', intent: 'modify' },
		];
		for (const row of table) {
			it(`"${row.goal}" → ${row.intent}${row.risks ? `, risks ${row.risks.join(', ')}` : ''}`, () => {
				const a = analyseByRules(row.goal, facts());
				assert.equal(a.intent, row.intent);
				const kinds = a.risks.map((r) => r.kind);
				for (const k of row.risks ?? []) assert.ok(kinds.includes(k as never), `expected risk ${k}, got ${kinds.join(', ')}`);
				for (const k of row.noRisks ?? []) assert.ok(!kinds.includes(k as never), `unexpected risk ${k}`);
				if (row.level) assert.equal(a.complexity.level, row.level, a.complexity.reasons.join('; '));
				assert.ok(a.complexity.reasons.length > 0);
				assert.ok(a.successCriteria.length > 0);
				assert.equal(a.source, 'rules');
			});
		}

		it('a change with no test command to check it is marked unverified; success criteria name the checks', () => {
			const a = analyseByRules('Fix the failing lint', facts({ checks: { lint: 'npm run lint' } }));
			assert.deepEqual(a.successCriteria, ['`npm run lint` passes']);
			assert.ok(a.risks.some((r) => r.kind === 'unverified'));
			const b = analyseByRules('Add tests for src/math.ts', facts({ files: ['src/math.ts'] }));
			assert.ok(b.successCriteria.includes('new tests cover src/math.ts'));
			assert.ok(b.successCriteria.includes('`npm test` passes'));
		});
	});

	describe('workspace facts', () => {
		it('finds named files, files by keyword, scripts and languages, and skips node_modules, .git, .quantum and .gitignore', async () => {
			const ws = projectWorkspace(
				{ test: 'mocha', lint: 'eslint .', typecheck: 'tsc --noEmit', build: 'esbuild', deploy: 'fly deploy' },
				{
					'src/math.ts': 'export {}',
					'src/handlers/signupHandler.ts': 'export {}',
					'src/handlers/login.ts': 'export {}',
					'test/signup.test.ts': 'x',
					'node_modules/signup/index.js': 'x',
					'.quantum/plans/signup.workflow.json': '{}',
					'generated/signup.ts': 'x',
					'.gitignore': 'generated/\n# comment\n*.log\n',
					'signup.log': 'x',
					'lib/util.py': 'x',
				},
			);
			const named = await gatherFacts(ws, 'add tests for src/math.ts and README.md');
			assert.deepEqual(named.files, ['src/math.ts']);
			assert.deepEqual(named.missing, ['README.md']);
			assert.deepEqual(named.checks, { test: 'npm test', lint: 'npm run lint', typecheck: 'npm run typecheck', build: 'npm run build' });
			assert.equal(named.deploy, 'npm run deploy');
			assert.equal(named.packageManager, 'npm');
			assert.deepEqual(named.languages.slice(0, 2), ['TypeScript', 'Python']);
			const byWord = await gatherFacts(ws, 'Add input validation to the signup handler and tests for it');
			assert.deepEqual(byWord.files.sort(), ['src/handlers/signupHandler.ts', 'test/signup.test.ts']);
			const byName = await gatherFacts(ws, 'document login.ts');
			assert.deepEqual(byName.files, ['src/handlers/login.ts']);
		});

		it('yarn, Makefile targets and pytest give the project their own commands; a placeholder test script does not count', async () => {
			const ws = projectWorkspace({ test: 'echo "Error: no test specified" && exit 1', lint: 'eslint .' }, { 'yarn.lock': '', Makefile: 'test:\n\tpytest\nbuild: deps\n\tcc x.c\nX := 1\n' });
			const f = await gatherFacts(ws, 'run the tests');
			assert.deepEqual(f.checks, { lint: 'yarn lint', build: 'make build', test: 'make test' });
			const py = tempDir();
			writeFileSync(join(py, 'pyproject.toml'), '[tool.pytest.ini_options]\n');
			mkdirSync(join(py, 'tests'));
			writeFileSync(join(py, 'tests/test_a.py'), 'def test_a(): pass\n');
			assert.deepEqual((await gatherFacts(py, 'run the tests')).checks, { test: 'python -m pytest' });
		});

		it('path tokens: files and folders, not product names or URLs', () => {
			assert.deepEqual(pathTokens('add tests for `src/math.ts`, then update "README.md" (see docs/) using Node.js e.g. https://x.io/a.ts'), ['src/math.ts', 'README.md', 'docs']);
		});

		it('the walk stops at its bound and says so', async () => {
			const ws = projectWorkspace({}, Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${i}.ts`, ''])));
			const f = await gatherFacts(ws, 'x', { maxEntries: 10 });
			assert.equal(f.truncated, true);
			assert.equal(f.scanned, 10);
		});
	});

	describe('the LLM analyser (role planner, structured output)', () => {
		let server: ScriptedOpenAi | undefined;
		afterEach(async () => {
			await server?.close();
			server = undefined;
		});
		const signal = new AbortController().signal;
		const good = { intent: 'fix', complexity: { level: 'medium', reasons: ['two failing suites'] }, risks: [], successCriteria: ['`npm test` passes'] };

		it('uses the planner model, is given the workspace facts, and returns the same shape as the rules', async () => {
			server = await startScriptedOpenAi([{ json: good }]);
			const llm = createOpenAiClient({ baseUrl: server.baseUrl, model: 'default-model', roleModels: { planner: 'planner-model' } });
			const a = await analyseWithLlm(llm, 'Fix the failing tests', facts({ files: ['src/a.ts'] }), { signal });
			assert.equal(server.requests[0].model, 'planner-model');
			assert.match(lastUserText(server.requests[0]), /"files": \[\s*"src\/a\.ts"/);
			assert.equal(a.source, 'llm');
			assert.equal(a.model, 'planner-model');
			assert.equal(a.intent, 'fix');
			assert.deepEqual(a.facts.files, ['src/a.ts']);
		});

		it('an invalid analysis is sent back with the problem; after the last try it fails clearly', async () => {
			server = await startScriptedOpenAi([{ json: { ...good, intent: 'repair' } }, { text: 'I think it is a fix.' }, { json: { ...good, successCriteria: [] } }]);
			const llm = createOpenAiClient({ baseUrl: server.baseUrl, model: 'm' });
			await assert.rejects(
				analyseWithLlm(llm, 'Fix the failing tests', facts(), { signal }),
				(err: unknown) => StepError.is(err) && /the model gave no valid analysis in 3 tries; the last one: successCriteria: /.test(err.message),
			);
			assert.equal(server.requests.length, 3);
			assert.match(lastUserText(server.requests[1]), /That analysis is invalid: intent: .*"create".*"modify"/);
			assert.match(lastUserText(server.requests[2]), /That analysis is invalid: not JSON/);
		});
	});
});
