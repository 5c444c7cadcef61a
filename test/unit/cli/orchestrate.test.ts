// `qo orchestrate` as a real child process, offline and against a scripted OpenAI-protocol server given by env.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startScriptedOpenAi, type ScriptedOpenAi } from '../../helpers/scriptedOpenAi';
import { nodeScript, projectWorkspace } from '../orchestrate/helpers';

const ROOT = join(__dirname, '..', '..', '..');
const QO = join(ROOT, 'bin', 'qo.js');

/** The environment without any LLM endpoint, so the offline fallback is what runs. */
function offlineEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
	const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extra };
	for (const k of ['QO_LLM_BASE_URL', 'OPENAI_BASE_URL', 'QO_LLM_MODEL', 'OPENAI_MODEL', 'QO_LLM_ROLE_MODELS']) if (!(k in extra)) delete env[k];
	return env;
}

function noStackTrace(out: string): void {
	assert.doesNotMatch(out, /\n\s+at .+:\d+:\d+\)?\n/, `stack trace printed:\n${out}`);
}

function qo(ws: string, ...args: string[]) {
	const r = spawnSync(process.execPath, [QO, ...args], { cwd: ws, encoding: 'utf8', env: offlineEnv() });
	noStackTrace(r.stderr + r.stdout);
	return r;
}

/** Asynchronously, so a server in this process can answer the child. */
function qoAsync(ws: string, env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [QO, ...args], { cwd: ws, env, stdio: ['ignore', 'pipe', 'pipe'] });
		let stdout = '';
		let stderr = '';
		child.stdout.on('data', (d) => (stdout += d));
		child.stderr.on('data', (d) => (stderr += d));
		child.on('error', reject);
		child.on('close', (status) => {
			noStackTrace(stderr + stdout);
			resolve({ status, stdout, stderr });
		});
	});
}

const plans = (ws: string) => (existsSync(join(ws, '.quantum/plans')) ? readdirSync(join(ws, '.quantum/plans')).sort() : []);
const runs = (ws: string) => (existsSync(join(ws, '.quantum/runs')) ? readdirSync(join(ws, '.quantum/runs')) : []);

describe('qo orchestrate', function () {
	this.timeout(60_000);

	before(function () {
		if (!existsSync(join(ROOT, 'dist', 'cli.js'))) {
			const b = spawnSync(process.execPath, [join(ROOT, 'esbuild.config.mjs')], { cwd: ROOT, encoding: 'utf8' });
			assert.equal(b.status, 0, b.stderr);
		}
	});

	it('--plan-only offline: says it is the offline planner, shows the states, the analysis and the plan, saves a valid plan, runs nothing', () => {
		const ws = projectWorkspace({ test: nodeScript('ok') }, { 'src/math.ts': 'export {}\n' });
		const r = qo(ws, 'orchestrate', 'Add tests for src/math.ts', '--plan-only');
		assert.equal(r.status, 0, r.stderr + r.stdout);
		assert.match(r.stdout, /^no LLM configured: using the offline rule-based planner/);
		assert.match(r.stdout, /^» analysing: rule-based \(offline fallback\)$/m);
		assert.match(r.stdout, /^» planning: create, low complexity; from templates \(offline fallback\)$/m);
		assert.match(r.stdout, /^» review: 3 steps$/m);
		assert.match(r.stdout, /^Analysis \(rule-based, offline\) of: Add tests for src\/math\.ts$/m);
		assert.match(r.stdout, /^ {2}intent: create$/m);
		assert.match(r.stdout, /^Plan for Add tests for src\/math\.ts \(/m);
		assert.match(r.stdout, /read_math_ts {2}file\.read: read src\/math\.ts/);
		const saved = plans(ws);
		assert.equal(saved.length, 2);
		assert.match(saved[1], /^\d{8}-\d{6}-add-tests-for-src-math-ts\.workflow\.json$/);
		assert.match(r.stdout, new RegExp(`^Plan saved: \\.quantum/plans/${saved[1].replace(/\./g, '\\.')} \\(analysis: `, 'm'));
		assert.match(r.stdout, /then run it: qo run \.quantum\/plans\/.*\.workflow\.json$/m);
		assert.match(r.stdout, /^» completing \[planned\]: saved /m);
		assert.deepEqual(runs(ws), []);
		const v = qo(ws, 'validate', join('.quantum/plans', saved[1]));
		assert.equal(v.status, 0, v.stdout);
	});

	it('--json: one JSON document with the analysis, the plan and the states; the offline note goes to stderr', () => {
		const ws = projectWorkspace({ test: nodeScript('ok') });
		const r = qo(ws, 'orchestrate', 'Fix the failing tests', '--plan-only', '--json');
		assert.equal(r.status, 0, r.stderr);
		assert.match(r.stderr, /no LLM configured: using the offline rule-based planner/);
		const doc = JSON.parse(r.stdout);
		assert.equal(doc.type, 'orchestration-result');
		assert.equal(doc.outcome, 'planned');
		assert.equal(doc.offline, true);
		assert.equal(doc.planner, 'templates');
		assert.equal(doc.template, 'fix-checks');
		assert.equal(doc.analysis.intent, 'fix');
		assert.deepEqual(doc.plan.steps.map((s: { id: string }) => s.id), ['check_test', 'fix', 'verify_test']);
		assert.deepEqual(doc.states.map((s: { state: string }) => s.state), ['analysing', 'planning', 'review', 'completing']);
		assert.ok(existsSync(doc.planFile));
		assert.ok(existsSync(doc.analysisFile));
	});

	it('without a terminal and without --yes: the plan is saved, how to run it is said, exit 3 (needs approval)', () => {
		const ws = projectWorkspace({ test: nodeScript('ok') });
		const r = qo(ws, 'orchestrate', 'Run the tests');
		assert.equal(r.status, 3, r.stdout);
		assert.match(r.stdout, /Not run: no terminal to approve it\. Run it with: qo run \.quantum\/plans\/\d{8}-\d{6}-run-the-tests\.workflow\.json/);
		assert.deepEqual(runs(ws), []);
		assert.equal(plans(ws).length, 2);
	});

	it('--yes runs the plan at once, showing the steps and the transitions; a failure without replans exits 1', () => {
		const ws = projectWorkspace({ test: nodeScript('all tests pass') });
		const r = qo(ws, 'orchestrate', 'Run the tests', '--yes');
		assert.equal(r.status, 0, r.stdout + r.stderr);
		assert.match(r.stdout, /^» executing: 1 step$/m);
		assert.match(r.stdout, /^» monitoring: run \S+ started$/m);
		assert.match(r.stdout, /^✔ test/m);
		assert.match(r.stdout, /^» completing \[succeeded\]$/m);
		assert.match(r.stdout, /SUCCEEDED \S+ in .*1 succeeded/);
		assert.equal(runs(ws).length, 1);

		const bad = projectWorkspace({ test: nodeScript('broken', 2) });
		const f = qo(bad, 'orchestrate', 'Run the tests', '--yes', '--max-replans', '0');
		assert.equal(f.status, 1, f.stdout);
		// The plan checks with the quality handler, which reads the script's failure as a finding.
		assert.match(f.stdout, /^» error: test: npm run test reported 1 error .*exited with code 2: broken/m);
		assert.match(f.stdout, /^Orchestration failed: test: npm run test reported 1 error/m);
		assert.match(f.stdout, /no replans left: at most 0/);
	});

	it('a bad --max-replans exits 2', () => {
		const r = qo(projectWorkspace({}), 'orchestrate', 'x', '--max-replans', '-1');
		assert.equal(r.status, 2);
		assert.match(r.stderr, /--max-replans must be a whole number ≥ 0, got "-1"/);
	});

	describe('with an endpoint in the environment', () => {
		let server: ScriptedOpenAi | undefined;
		afterEach(async () => {
			await server?.close();
			server = undefined;
		});

		it('plans with the model (QO_LLM_BASE_URL, QO_LLM_MODEL, OPENAI_API_KEY) and saves its plan', async () => {
			server = await startScriptedOpenAi([
				{ json: { intent: 'manage', complexity: { level: 'low', reasons: ['one command'] }, risks: [], successCriteria: ['`npm test` passes'] } },
				{ json: { name: 'tests', instructions: [{ id: 'tests', type: 'exec', operation: 'run', parameters: { command: 'npm test' } }] } },
			]);
			const ws = projectWorkspace({ test: nodeScript('ok') });
			const env = offlineEnv({ QO_LLM_BASE_URL: server.baseUrl, QO_LLM_MODEL: 'scripted-model', OPENAI_API_KEY: 'sk-test-orchestrate' });
			const r = await qoAsync(ws, env, 'orchestrate', 'Run the tests', '--plan-only');
			assert.equal(r.status, 0, r.stderr + r.stdout);
			assert.doesNotMatch(r.stdout + r.stderr, /no LLM configured/);
			assert.doesNotMatch(r.stdout + r.stderr, /sk-test-orchestrate/);
			assert.match(r.stdout, /^» analysing: scripted-model$/m);
			assert.match(r.stdout, /^» planning: manage, low complexity; asking scripted-model$/m);
			assert.match(r.stdout, /^Analysis \(by scripted-model\) of: Run the tests$/m);
			assert.match(r.stdout, /tests {2}exec\.run: run `npm test` in \./);
			assert.equal(server.requests.length, 2);
			assert.ok(server.requests.every((q) => q.model === 'scripted-model'));
			assert.equal(plans(ws).length, 2);
		});
	});
});
