import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createEngine, type Engine } from '../../../src/core/engine';
import type { HandlerRegistry } from '../../../src/core/handlers';
import { createPlanner } from '../../../src/core/orchestrate/planner';
import type { Step } from '../../../src/core/orchestrate/steps';
import { planFromTemplates } from '../../../src/core/orchestrate/templates';
import type { Workflow } from '../../../src/core/workflow/schema';
import { baseRegistry, nodeScript, projectWorkspace, registryWithAgents, withQuality } from './helpers';

const SCRIPTS = { test: nodeScript('tests ok'), lint: nodeScript('lint ok'), build: nodeScript('built') };
const FILES = { 'src/math.ts': 'export const add = (a: number, b: number) => a + b;\n', 'src/handlers/signup.ts': 'export function signup() {}\n' };

/** A real package.json project (a git repository), an engine with the given registry, and its offline planner. */
async function setup(registry: HandlerRegistry = registryWithAgents(), scripts: Record<string, string> = SCRIPTS) {
	const ws = projectWorkspace(scripts, FILES);
	execFileSync('git', ['init', '-q', ws]);
	const engine = await createEngine({ workspace: ws, registry });
	return { ws, engine, planner: createPlanner({ engine }) };
}

/** Analyses and plans `goal` offline; the plan must validate with the engine's own parser (plan() parses it). */
async function plan(engine: Engine, goal: string) {
	const planner = createPlanner({ engine });
	const analysis = await planner.analyse(goal, new AbortController().signal);
	const planned = await planner.plan(analysis, new AbortController().signal);
	// The saved text is what a user runs: parse it again as the engine would.
	const workflow = engine.parse(JSON.stringify(planned.raw));
	await engine.plan(workflow);
	return { analysis, planned, workflow, steps: planned.raw.instructions as Step[] };
}

const step = (w: Workflow, id: string) => {
	const s = w.instructions.find((i) => i.id === id);
	assert.ok(s, `no step ${id} in ${w.instructions.map((i) => i.id).join(', ')}`);
	return s;
};
const shape = (w: Workflow) => w.instructions.map((i) => `${i.id}:${i.type}.${i.operation}${i.dependencies.length ? `<${i.dependencies.join('+')}` : ''}`);

describe('orchestrate: the template planner (offline fallback)', function () {
	this.timeout(30_000);
	let engine: Engine;
	before(async () => {
		({ engine } = await setup());
	});

	it('"add tests for X": read X, a tester task with the file, run the project\'s tests', async () => {
		const { planned, workflow } = await plan(engine, 'Add tests for src/math.ts');
		assert.equal(planned.template, 'add-tests');
		assert.deepEqual(shape(workflow), ['read_math_ts:file.read', 'write_tests:agent.task<read_math_ts', 'run_tests:exec.run<write_tests']);
		assert.deepEqual(step(workflow, 'write_tests').parameters.capabilities, ['test']);
		assert.deepEqual(step(workflow, 'write_tests').parameters.files, ['src/math.ts']);
		assert.equal(step(workflow, 'run_tests').parameters.command, 'npm test');
		assert.match(planned.raw.description ?? '', /Offline plan from the rule-based fallback/);
	});

	it('"fix the failing tests": run them keeping the output, a coder task given that output, run them again', async () => {
		const { planned, workflow } = await plan(engine, 'Fix the failing tests');
		assert.equal(planned.template, 'fix-checks');
		assert.deepEqual(shape(workflow), ['check_test:exec.run', 'fix:agent.task<check_test', 'verify_test:exec.run<fix']);
		assert.equal(step(workflow, 'check_test').parameters.allow_failure, true);
		assert.match(step(workflow, 'fix').parameters.prompt as string, /\$\{steps\.check_test\.output\.stdout\}/);
		assert.deepEqual(step(workflow, 'fix').parameters.capabilities, ['code']);
		assert.equal(step(workflow, 'verify_test').parameters.allow_failure, undefined);
	});

	it('"add input validation to the signup handler and tests for it": locate, code, test, run, diff, review', async () => {
		const { analysis, planned, workflow } = await plan(engine, 'Add input validation to the signup handler and tests for it');
		assert.equal(analysis.intent, 'modify');
		assert.deepEqual(analysis.facts.files, ['src/handlers/signup.ts']);
		assert.equal(planned.template, 'feature-with-tests');
		assert.deepEqual(shape(workflow), [
			'read_signup_ts:file.read',
			'implement:agent.task<read_signup_ts',
			'write_tests:agent.task<implement',
			'run_tests:exec.run<write_tests',
			'diff:git.diff<run_tests',
			'review:agent.task<diff',
		]);
		assert.deepEqual(
			['implement', 'write_tests', 'review'].map((id) => step(workflow, id).parameters.capabilities),
			[['code'], ['test'], ['review']],
		);
		assert.match(step(workflow, 'review').parameters.prompt as string, /\$\{steps\.diff\.output\}/);
	});

	it('document, rename, create a file, analyze: each its own shape', async () => {
		const doc = await plan(engine, 'Document src/math.ts');
		assert.equal(doc.planned.template, 'document');
		assert.deepEqual(step(doc.workflow, 'document').parameters.capabilities, ['docs']);
		assert.deepEqual(shape(doc.workflow).slice(-1), ['lint:exec.run<document']);

		const rename = await plan(engine, 'Rename add to sum');
		assert.equal(rename.planned.template, 'refactor');
		assert.match(step(rename.workflow, 'search').parameters.command as string, /^grep -rIn -F -- 'add' \./);
		assert.ok(shape(rename.workflow).includes('test:exec.run<refactor'));

		const create = await plan(engine, 'Create a file notes/todo.md with "hello ${name}"');
		assert.equal(create.planned.template, 'create');
		assert.deepEqual(create.steps, [{ id: 'create', type: 'file', operation: 'create', description: 'Create notes/todo.md', parameters: { path: 'notes/todo.md', content: 'hello $${name}' } }]);

		const review = await plan(engine, 'Review the signup code');
		assert.equal(review.planned.template, 'analyze');
		const p = await engine.plan(review.workflow);
		assert.deepEqual(p.steps.flatMap((s) => s.touches.writes), [], 'an analysis writes nothing');
		assert.deepEqual(step(review.workflow, 'report').parameters.files, ['src/handlers/signup.ts']);
	});

	it('"run the tests" is the project\'s own command, and it runs', async () => {
		const { planned, workflow } = await plan(engine, 'Run the tests');
		assert.equal(planned.template, 'run-checks');
		assert.deepEqual(planned.raw.instructions, [{ id: 'test', type: 'exec', operation: 'run', description: "Run the project's tests (npm test)", parameters: { command: 'npm test' }, idempotent: true }]);
		const result = await engine.run(workflow);
		assert.equal(result.status, 'succeeded', result.message);
	});

	it('deploy: every check first, the deploy script only after approval; without one a task that asks', async () => {
		const withScript = await setup(registryWithAgents(), { ...SCRIPTS, deploy: nodeScript('deployed') });
		const d = await plan(withScript.engine, 'Deploy the app to production and push the tag');
		assert.equal(d.planned.template, 'deploy');
		assert.deepEqual(shape(d.workflow), ['lint:exec.run', 'test:exec.run', 'build:exec.run<lint+test', 'status:git.status<build', 'deploy:exec.run<status', 'push:exec.run<deploy']);
		assert.equal(step(d.workflow, 'deploy').requires_approval, true);
		assert.equal(step(d.workflow, 'push').requires_approval, true);
		const p = await withScript.engine.plan(d.workflow);
		assert.deepEqual(p.steps.filter((s) => withScript.engine.approvalOf(s)).map((s) => s.instruction.id), ['deploy', 'push']);
		const none = await plan(engine, 'Deploy to production');
		assert.equal(step(none.workflow, 'deploy').type, 'agent');
		assert.equal(step(none.workflow, 'deploy').requires_approval, true);
	});

	it('without the agent handler tasks are model answers, and the description says so', async () => {
		const { engine: plain } = await setup(baseRegistry());
		const { planned, workflow } = await plan(plain, 'Add tests for src/math.ts');
		assert.equal(step(workflow, 'write_tests').type, 'llm');
		assert.match(step(workflow, 'write_tests').parameters.prompt as string, /Files: src\/math\.ts/);
		assert.match(planned.raw.description ?? '', /No agent handler is registered, so its task is a model answer \(llm generate\)/);
	});

	it('uses quality operations when the registry has them, but exec where a later step reads the output', async () => {
		const { engine: q } = await setup(withQuality(registryWithAgents()));
		const run = await plan(q, 'Run the tests and the lint');
		assert.deepEqual(shape(run.workflow), ['lint:quality.lint', 'test:quality.test']);
		const fix = await plan(q, 'Fix the failing tests');
		assert.deepEqual(shape(fix.workflow), ['check_test:exec.run', 'fix:agent.task<check_test', 'verify_test:quality.test<fix']);
	});

	it('a goal no template knows gets one task and the checks; a goal with `${` stays literal', async () => {
		const analysis = { ...(await createPlanner({ engine }).analyse('Make the signup page prettier ${now}', new AbortController().signal)) };
		const { template, workflow } = planFromTemplates(analysis, engine.registry);
		assert.equal(template, 'generic');
		const parsed = engine.parse(JSON.stringify(workflow));
		assert.match(step(parsed, 'task').parameters.prompt as string, /prettier \$\$\{now\}/);
		assert.ok(parsed.instructions.some((i) => i.id === 'test'));
	});
});
