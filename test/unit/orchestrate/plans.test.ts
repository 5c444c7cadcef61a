import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { createEngine } from '../../../src/core/engine';
import { StateError } from '../../../src/core/errors';
import { continuationOf, type RunRecord } from '../../../src/core/orchestrate/continuation';
import { diffPlans } from '../../../src/core/orchestrate/diff';
import { listPlans, loadPlan, planSlug, savePlan, type PlanMeta } from '../../../src/core/orchestrate/plans';
import { escapeTemplates } from '../../../src/core/orchestrate/steps';
import { analyseByRules } from '../../../src/core/orchestrate/analyse';
import type { RawWorkflow } from '../../../src/core/workflow/schema';
import { substitute } from '../../../src/core/workflow/substitute';
import { baseRegistry } from './helpers';
import { tempDir } from '../../helpers/tmp';

const facts = { files: [], missing: [], checks: {}, languages: [], git: false, scanned: 0, truncated: false };
const meta = (goal: string): PlanMeta => ({ goal, createdAt: new Date(0).toISOString(), planner: 'templates', template: 'generic', analysis: analyseByRules(goal, facts) });

const plan: RawWorkflow = {
	name: 'p',
	instructions: [
		{ id: 'prepare', type: 'util', operation: 'echo', parameters: { value: { stdout: 'ready' } } },
		{ id: 'check', type: 'util', operation: 'echo', parameters: { value: '${steps.prepare.output.stdout}' } },
		{ id: 'after', type: 'util', operation: 'wait', parameters: { ms: 1 }, dependencies: ['check'] },
		{ id: 'gone', type: 'util', operation: 'wait', parameters: { ms: 2 } },
	],
};

describe('orchestrate: plans on disk, plan diffs, continuing a failed run', function () {
	this.timeout(30_000);

	it('saves an ordinary workflow file with $schema first and an analysis sidecar; lists and loads them', async () => {
		const ws = tempDir();
		const engine = await createEngine({ workspace: ws });
		const at = new Date(Date.UTC(2026, 10, 25, 7, 3, 9));
		const a = await savePlan(engine.stateDir, plan, meta('Add tests for src/math.ts!'), { schema: 'file:///x/workflow.schema.json', now: at });
		const b = await savePlan(engine.stateDir, plan, meta('Add tests for src/math.ts!'), { now: at });
		assert.equal(basename(a.file), '20261125-070309-add-tests-for-src-math-ts.workflow.json');
		assert.equal(basename(b.file), '20261125-070309-add-tests-for-src-math-ts-2.workflow.json');
		assert.equal(basename(a.analysisFile), '20261125-070309-add-tests-for-src-math-ts.analysis.json');
		const text = readFileSync(a.file, 'utf8');
		assert.match(text, /^\{\n {2}"\$schema": "file:\/\/\/x\/workflow\.schema\.json",\n {2}"name": "p"/);
		assert.equal(JSON.parse(readFileSync(a.analysisFile, 'utf8')).analysis.intent, 'create');
		const loaded = await engine.load(a.file);
		assert.equal(loaded.instructions.length, 4);
		const list = await listPlans(engine.stateDir);
		assert.deepEqual(list.map((p) => p.name), ['20261125-070309-add-tests-for-src-math-ts-2', '20261125-070309-add-tests-for-src-math-ts']);
		assert.equal(list[0].meta?.goal, 'Add tests for src/math.ts!');
		assert.equal((await loadPlan(engine)).file, b.file);
		assert.equal((await loadPlan(engine, a.file)).meta?.template, 'generic');
		await assert.rejects(loadPlan(engine, '20261125'), (e: unknown) => StateError.is(e, 'not-found') && /names 2 plans/.test((e as Error).message));
		assert.equal(planSlug('  ${weird} goal: ÄÖ! '), 'weird-goal');
	});

	it('diffPlans: added, removed and changed steps with what changed, as text a person reads', async () => {
		const engine = await createEngine({ workspace: tempDir(), registry: baseRegistry() });
		const before = engine.parse(JSON.stringify(plan));
		const revised: RawWorkflow = {
			name: 'p',
			instructions: [
				plan.instructions[0],
				{ id: 'fix', type: 'util', operation: 'set_context', parameters: { key: 'k', value: 1 } },
				{ ...plan.instructions[1], dependencies: ['fix'], requires_approval: true },
				{ ...plan.instructions[2], parameters: { ms: 5 } },
			],
		};
		const d = diffPlans(before, engine.parse(JSON.stringify(revised)));
		assert.deepEqual([d.added, d.removed, d.changed.map((c) => c.id), d.unchanged], [['fix'], ['gone'], ['check', 'after'], ['prepare']]);
		assert.equal(d.summary, '+1 −1 ~2 (1 unchanged)');
		assert.equal(
			d.text,
			[
				'Plan changes: +1 −1 ~2 (1 unchanged)',
				'+ fix  util.set_context: value 1',
				'~ check  util.echo',
				'    dependencies: +fix (now: fix, prepare)',
				'    requires_approval: false → true',
				'~ after  util.wait',
				'    parameters.ms: 1 → 5',
				'- gone  util.wait: ms 2',
				'= unchanged: prepare',
			].join('\n'),
		);
		assert.equal(diffPlans(before, before).empty, true);
	});

	it('a continuation skips unchanged succeeded steps, keeping the ones a running step reads as recorded echoes', async () => {
		const engine = await createEngine({ workspace: tempDir() });
		const old = engine.parse(JSON.stringify(plan));
		const revised = engine.parse(
			JSON.stringify({ ...plan, instructions: [...plan.instructions.slice(0, 3), { id: 'extra', type: 'util', operation: 'wait', parameters: { ms: 0 }, dependencies: ['gone'] }, plan.instructions[3]] }),
		);
		const record: RunRecord = {
			runId: 'r1',
			status: 'failed',
			outputs: new Map<string, unknown>([['prepare', { stdout: 'ready ${x}' }], ['gone', null]]),
			failed: new Map([['check', 'boom']]),
			notRun: ['after'],
		};
		const c = continuationOf(revised, old, record);
		assert.deepEqual(c.carried.sort(), ['gone', 'prepare']);
		assert.deepEqual(c.reused, ['prepare']);
		assert.deepEqual(
			c.workflow.instructions.map((i) => [i.id, `${i.type}.${i.operation}`, i.dependencies ?? []]),
			[
				['prepare', 'util.echo', []],
				['check', 'util.echo', ['prepare']],
				['after', 'util.wait', ['check']],
				['extra', 'util.wait', []],
			],
		);
		// The recorded output is escaped, so the echo gives back exactly what the step output.
		const echoed = engine.parse(JSON.stringify(c.workflow));
		const result = await engine.run(echoed);
		assert.equal(result.status, 'succeeded', result.message);
		const log = (await engine.runLog(result.runId)).join('\n');
		assert.doesNotMatch(log, /\bgone\b/);
		assert.match(c.workflow.description ?? '', /Continues run r1: not run again: prepare, gone/);
		// After a rollback the workspace is back as before: everything runs.
		assert.deepEqual(continuationOf(revised, old, { ...record, status: 'rolled_back' }).carried, []);
	});

	it('escaping keeps any text literal through substitution', () => {
		const scope = { vars: {}, env: {}, workspace: '/w', context: () => ({ found: false }), step: () => ({ found: false }) };
		for (const text of ['${a}', '$${a}', '$$${a}', 'x ${steps.y.output} $', '${', 'no refs']) {
			assert.equal(substitute(escapeTemplates(text), scope), text);
		}
	});
});
