import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WorkflowError } from '../../../src/core/errors';
import { buildGraph } from '../../../src/core/workflow/graph';
import { diagnoseJson, parseWorkflowData, parseWorkflowText } from '../../../src/core/workflow/parse';
import type { ParseOptions } from '../../../src/core/workflow/parse';
import type { Workflow } from '../../../src/core/workflow/schema';
import { substitute } from '../../../src/core/workflow/substitute';
import { testRegistry } from './testRegistry';

const opts: ParseOptions = { file: '/ws/p.workflow.json', registry: testRegistry(), workspace: '/ws', env: { HOME: '/h' } };

/** Parses and checks the contract: a Workflow, or a WorkflowError whose every problem has a line and column. */
function outcome(text: string): Workflow | WorkflowError {
	try {
		return parseWorkflowText(text, opts);
	} catch (err) {
		if (!WorkflowError.is(err)) throw new Error(`not a WorkflowError: ${(err as Error)?.stack ?? String(err)}`);
		assert.ok(err.problems.length >= 1, 'a WorkflowError lists its problems');
		assert.equal(err.code, err.problems[0].code);
		for (const p of err.problems) {
			assert.ok(WorkflowError.is(p));
			assert.ok(p.location.line !== undefined && p.location.line >= 1, `problem without a line: ${p.describe()}`);
			assert.ok(p.location.column !== undefined && p.location.column >= 1);
			assert.equal(p.location.file, opts.file);
		}
		return err;
	}
}

const base = {
	name: 'base',
	variables: { n: 3, dir: 'out' },
	settings: { mode: 'parallel', max_parallel: 2 },
	instructions: [
		{ id: 'a', type: 'file', operation: 'create', parameters: { path: '${vars.dir}/a', content: 'x' } },
		{ id: 'b', type: 'util', operation: 'wait', parameters: { ms: '${vars.n}' }, dependencies: ['a'], priority: 1 },
		{ type: 'util', operation: 'echo', parameters: { value: '${steps.b.output}' }, retry: { attempts: 2 } },
		{ id: 'd', type: 'file', operation: 'read', parameters: { path: 'a' }, dependencies: ['a', 'b'], update_context: true },
	],
};

type Json = unknown;

/** One random edit somewhere in a JSON value: replace, delete or add a property or element. */
function mutate(value: Json, path: number[], replacement: Json, action: number): Json {
	if (typeof value !== 'object' || value === null) return replacement;
	const entries: [string | number, Json][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
	if (entries.length === 0 || path.length === 0) {
		if (Array.isArray(value)) return [...value, replacement];
		return { ...value, [`k${action}`]: replacement };
	}
	const pick = path[0] % entries.length;
	const rest = path.slice(1);
	const out: [string | number, Json][] = [];
	for (let i = 0; i < entries.length; i++) {
		if (i !== pick) out.push(entries[i]);
		else if (rest.length === 0 && action % 3 === 0) continue;
		else out.push([entries[i][0], rest.length === 0 && action % 3 === 1 ? replacement : mutate(entries[i][1], rest, replacement, action)]);
	}
	return Array.isArray(value) ? out.map(([, v]) => v) : Object.fromEntries(out);
}

const interesting = fc.oneof(
	fc.jsonValue({ maxDepth: 3 }),
	fc.constantFrom('${steps.a.output}', '${steps.zz.output}', '${vars.nope}', '${env.HOME}', '${', '$${x}', '${context.k}', 'a', 'd', 'util', 'file', 'echo', -1, 1e309 as number),
);

describe('parser properties', () => {
	it('the base workflow of the property tests is valid', () => {
		assert.ok(!(outcome(JSON.stringify(base)) instanceof WorkflowError));
	});

	it('random JSON values give a Workflow or a WorkflowError, never another exception', () => {
		fc.assert(
			fc.property(fc.jsonValue(), (v) => {
				outcome(JSON.stringify(v) ?? 'null');
			}),
			{ numRuns: 300 },
		);
	});

	it('random text gives a Workflow or a WorkflowError, never another exception', () => {
		fc.assert(
			fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.stringMatching(/^[\s{}[\]",:0-9a-z\\-]*$/)), (text) => {
				outcome(text);
			}),
			{ numRuns: 300 },
		);
	});

	it('random edits of a valid workflow give a Workflow or a WorkflowError', () => {
		fc.assert(
			fc.property(fc.array(fc.nat(), { minLength: 0, maxLength: 5 }), interesting, fc.nat(), (path, replacement, action) => {
				const result = outcome(JSON.stringify(mutate(base, path, replacement, action), null, 2));
				if (!(result instanceof WorkflowError)) buildGraph(result.instructions);
			}),
			{ numRuns: 500 },
		);
	});

	it('text (hand-checked instructions, zod for the rest) and data (zod throughout) get the same verdict', () => {
		const summary = (text: string, fromData: boolean): unknown => {
			try {
				const w = fromData ? parseWorkflowData(JSON.parse(text), opts) : parseWorkflowText(text, opts);
				return { workflow: w };
			} catch (err) {
				if (!WorkflowError.is(err)) throw err;
				return { problems: err.problems.map((p) => `${p.code} ${p.location.path ?? ''}: ${p.message}`).sort() };
			}
		};
		const edits = fc.oneof(
			interesting,
			fc.constantFrom(
				{ attempts: 2 },
				{ attempts: 0 },
				{ attempts: 2, backoff_ms: 1.5 },
				{ command: 'echo undo', args: ['a'], env: { A: 'b' } },
				{ command: '' },
				'success',
				'sometimes',
				1.5,
				2 ** 53,
				0,
				'',
				'bad id',
				['a', 1],
				{ path: 'x', ['__proto__']: 1 },
				JSON.parse('{ "__proto__": { "x": 1 }, "path": "p" }') as Json,
			),
		);
		fc.assert(
			fc.property(fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), edits, fc.nat(), (path, replacement, action) => {
				const text = JSON.stringify(mutate(base, [3, ...path], replacement, action));
				assert.deepEqual(summary(text, false), summary(text, true));
			}),
			{ numRuns: 1000 },
		);
	});

	it('random cuts and insertions in valid workflow text give a Workflow or a WorkflowError', () => {
		const text = JSON.stringify(base, null, 2);
		fc.assert(
			fc.property(fc.nat({ max: text.length }), fc.nat({ max: 20 }), fc.string({ maxLength: 4 }), (at, cut, insert) => {
				outcome(text.slice(0, at) + insert + text.slice(Math.min(text.length, at + cut)));
			}),
			{ numRuns: 500 },
		);
	});

	it('the JSON checker finds an error exactly when JSON.parse rejects the text', () => {
		const text = JSON.stringify({ a: [1, -2.5e3, true, null, 'x\\"\u00e9'], b: { c: {} } });
		const jsonish = fc.stringMatching(/^[\s{}[\]",:0-9.eE+\-a-z\\]*$/);
		const edited = fc.tuple(fc.nat({ max: text.length }), fc.nat({ max: 3 }), fc.string({ maxLength: 3 })).map(([at, cut, ins]) => text.slice(0, at) + ins + text.slice(at + cut));
		fc.assert(
			fc.property(fc.oneof(jsonish, edited, fc.json()), (t) => {
				let valid = true;
				try {
					JSON.parse(t);
				} catch {
					valid = false;
				}
				const found = diagnoseJson(t);
				assert.equal(found === undefined, valid, `${JSON.stringify(t)}: ${found?.message}`);
				if (found) assert.ok(found.offset >= 0 && found.offset <= t.length);
			}),
			{ numRuns: 2000 },
		);
	});

	it('random DAGs parse, and every dependency comes first in the graph order', () => {
		const dag = fc.integer({ min: 1, max: 40 }).chain((n) =>
			fc.tuple(
				...Array.from({ length: n }, (_, i) =>
					fc.record({ deps: fc.uniqueArray(fc.nat({ max: Math.max(0, i - 1) }), { maxLength: i ? 3 : 0 }), ref: fc.boolean(), named: fc.boolean() }),
				),
			),
		);
		fc.assert(
			fc.property(dag, (nodes) => {
				const instructions = nodes.map((node, i) => ({
					...(node.named ? { id: `s${i}` } : {}),
					type: 'util',
					operation: 'echo',
					parameters: node.ref && node.deps.length ? { value: `\${steps.${nodes[node.deps[0]].named ? `s${node.deps[0]}` : `util-echo-${node.deps[0] + 1}`}.output}` } : {},
					dependencies: node.deps.map((d) => (nodes[d].named ? `s${d}` : `util-echo-${d + 1}`)),
				}));
				const result = outcome(JSON.stringify({ name: 'dag', instructions }));
				assert.ok(!(result instanceof WorkflowError), result instanceof WorkflowError ? result.describe() : '');
				const g = buildGraph(result.instructions);
				const pos = new Int32Array(nodes.length);
				g.order.forEach((idx, k) => (pos[idx] = k));
				for (let i = 0; i < nodes.length; i++) for (const d of g.depIndex[i]) assert.ok(pos[d] < pos[i]);
			}),
			{ numRuns: 200 },
		);
	});

	it('substitute on random values with no templates returns them unchanged', () => {
		const scope = { vars: {}, env: {}, workspace: '/', context: () => ({ found: false }), step: () => ({ found: false }) };
		fc.assert(
			fc.property(fc.jsonValue(), (v) => {
				if (JSON.stringify(v)?.includes('${')) return;
				assert.equal(substitute(v, scope), v);
			}),
			{ numRuns: 300 },
		);
	});
});
