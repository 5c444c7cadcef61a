import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { WorkflowError } from '../../../src/core/errors';
import { HandlerRegistry } from '../../../src/core/handlers/registry';
import { defineOperation } from '../../../src/core/handlers/types';
import { buildGraph } from '../../../src/core/workflow/graph';
import { getStaticParams, getValidatedGraph, loadWorkflowFile, parseWorkflowData, parseWorkflowText } from '../../../src/core/workflow/parse';
import type { ParseOptions } from '../../../src/core/workflow/parse';
import type { Workflow } from '../../../src/core/workflow/schema';
import { tempDir } from '../../helpers/tmp';
import { testRegistry } from './testRegistry';

const registry = testRegistry();
const opts: ParseOptions = { file: '/ws/flow.workflow.json', registry, workspace: '/ws', env: { HOME: '/home/me' } };

function parse(text: string, over: Partial<ParseOptions> = {}): Workflow {
	return parseWorkflowText(text, { ...opts, ...over });
}

function fails(text: string, over: Partial<ParseOptions> = {}): WorkflowError {
	try {
		parse(text, over);
	} catch (err) {
		if (WorkflowError.is(err)) return err;
		throw err;
	}
	assert.fail('expected a WorkflowError');
}

/** The one problem of a file with exactly one problem, as code / path / line:column / message. */
function only(text: string, over: Partial<ParseOptions> = {}): { code: string; path?: string; at: string; message: string } {
	const err = fails(text, over);
	assert.equal(err.problems.length, 1, err.problems.map((p) => p.describe()).join('\n'));
	const p = err.problems[0];
	assert.equal(err.code, p.code);
	return { code: p.code, path: p.location.path, at: `${p.location.line}:${p.location.column}`, message: p.message };
}

const wf = (...instructions: string[]) => `{\n  "name": "t",\n  "instructions": [\n${instructions.map((s) => `    ${s}`).join(',\n')}\n  ]\n}`;

describe('parseWorkflowText', () => {
	describe('valid workflows', () => {
		it('fills defaults: priority 0, parameters {}, dependencies [], settings and variables {}', () => {
			const w = parse(wf('{ "id": "a", "type": "util", "operation": "wait", "parameters": { "ms": 1 } }', '{ "id": "b", "type": "util", "operation": "echo" }'));
			assert.equal(w.name, 't');
			assert.deepEqual(w.settings, {});
			assert.deepEqual(w.variables, {});
			assert.deepEqual(w.instructions[1], { id: 'b', type: 'util', operation: 'echo', parameters: {}, dependencies: [], priority: 0, index: 1 });
		});

		it('keeps description, settings, variables and applies retry defaults', () => {
			const w = parse(`{
				"$schema": "../schemas/workflow.schema.json", "version": 1, "name": "n", "description": "d",
				"variables": { "v": 1 }, "settings": { "mode": "sequential", "max_parallel": 2, "on_failure": "rollback" },
				"instructions": [{ "id": "a", "type": "util", "operation": "wait", "parameters": { "ms": 1 }, "retry": { "attempts": 3 }, "priority": -2 }]
			}`);
			assert.equal(w.description, 'd');
			assert.deepEqual(w.settings, { mode: 'sequential', max_parallel: 2, on_failure: 'rollback' });
			assert.deepEqual(w.variables, { v: 1 });
			assert.deepEqual(w.instructions[0].retry, { attempts: 3, backoff_ms: 500, max_backoff_ms: 30_000 });
			assert.equal(w.instructions[0].priority, -2);
		});

		it('generates missing ids as <type>-<operation>-<position>, unique against explicit ids', () => {
			const w = parse(
				wf(
					'{ "id": "util-echo-2", "type": "util", "operation": "echo" }',
					'{ "type": "util", "operation": "echo" }',
					'{ "type": "file", "operation": "read", "parameters": { "path": "a" } }',
				),
			);
			assert.deepEqual(
				w.instructions.map((i) => i.id),
				['util-echo-2', 'util-echo-2-2', 'file-read-3'],
			);
			assert.equal(Object.keys(w.instructions[1])[0], 'id', 'a generated id comes first');
		});

		it('a reference to steps.X adds the dependency on X, once', () => {
			const w = parse(
				wf(
					'{ "id": "a", "type": "file", "operation": "read", "parameters": { "path": "x" } }',
					'{ "id": "b", "type": "util", "operation": "echo", "parameters": { "value": ["${steps.a.output}", { "n": "${steps.c.output.items[0]}" }] }, "dependencies": ["a"] }',
					'{ "id": "c", "type": "util", "operation": "echo", "parameters": { "value": "${steps.a.output.len} ${steps.a.output}" } }',
				),
			);
			assert.deepEqual(w.instructions[1].dependencies, ['a', 'c']);
			assert.deepEqual(w.instructions[2].dependencies, ['a']);
		});

		it('explicit dependencies are deduplicated', () => {
			const w = parse(wf('{ "id": "a", "type": "util", "operation": "echo" }', '{ "id": "b", "type": "util", "operation": "echo", "dependencies": ["a", "a"] }'));
			assert.deepEqual(w.instructions[1].dependencies, ['a']);
		});

		it('update_context stores under the step id unless context_key is given', () => {
			const w = parse(
				wf(
					'{ "id": "a", "type": "util", "operation": "echo", "update_context": true }',
					'{ "id": "b", "type": "util", "operation": "echo", "update_context": true, "context_key": "k" }',
					'{ "id": "c", "type": "util", "operation": "echo" }',
				),
			);
			assert.deepEqual(
				w.instructions.map((i) => i.context_key),
				['a', 'k', undefined],
			);
		});

		it('keeps parameters as written, with static params parsed once for steps that need no run-time values', () => {
			const w = parse(`{ "name": "t", "variables": { "dir": "out", "delay": 5 }, "instructions": [
				{ "id": "a", "type": "file", "operation": "create", "parameters": { "path": "\${vars.dir}/\${env.HOME}/a" } },
				{ "id": "b", "type": "util", "operation": "wait", "parameters": { "ms": "\${vars.delay}" } },
				{ "id": "c", "type": "util", "operation": "echo", "parameters": { "value": "\${steps.a.output}" } },
				{ "id": "d", "type": "util", "operation": "echo", "parameters": { "value": "\${context.k}" } },
				{ "id": "e", "type": "util", "operation": "echo", "parameters": { "value": "$\${vars.literal}" } }
			] }`);
			assert.deepEqual(w.instructions[0].parameters, { path: '${vars.dir}/${env.HOME}/a' });
			assert.deepEqual(getStaticParams(w.instructions[0], w), { path: 'out//home/me/a', content: '' }, 'substituted, zod defaults applied');
			assert.deepEqual(getStaticParams(w.instructions[1], w), { ms: 5 }, 'a whole-string reference keeps the number type');
			assert.equal(getStaticParams(w.instructions[2], w), undefined);
			assert.equal(getStaticParams(w.instructions[3], w), undefined);
			assert.deepEqual(getStaticParams(w.instructions[4], w), { value: '${vars.literal}' });
		});

		it('static params that substituted variables are not reused once the variables change', () => {
			const w = parse(`{ "name": "t", "variables": { "who": "you" }, "instructions": [
				{ "id": "a", "type": "file", "operation": "create", "parameters": { "path": "\${vars.who}" } },
				{ "id": "b", "type": "file", "operation": "create", "parameters": { "path": "plain" } }
			] }`);
			const [a, b] = w.instructions;
			assert.deepEqual(getStaticParams(a, w), { path: 'you', content: '' });
			const overridden: Workflow = { ...w, variables: { who: 'there' } };
			assert.equal(getStaticParams(a, overridden), undefined, 'other variables: parse again');
			assert.deepEqual(getStaticParams(b, overridden), { path: 'plain', content: '' }, 'no substitution: still valid');
			assert.equal(getStaticParams(a), undefined, 'without the workflow, substituted params are never trusted');
			assert.deepEqual(getStaticParams(b), { path: 'plain', content: '' });
			assert.equal(getStaticParams({ ...b }, w), undefined, 'a step the parser did not make');
		});

		it('parameters holding ${steps...} or ${context...} are checked at run time, not now', () => {
			const w = parse(
				wf(
					'{ "id": "a", "type": "util", "operation": "echo" }',
					'{ "id": "b", "type": "util", "operation": "wait", "parameters": { "ms": "${steps.a.output.ms}" } }',
					'{ "id": "c", "type": "util", "operation": "wait", "parameters": { "ms": "${context.delay}" } }',
				),
			);
			assert.equal(w.instructions.length, 3);
		});

		it('keeps the graph validation built, equal to a fresh one, for the plan to reuse', () => {
			const w = parse(
				wf(
					'{ "id": "d", "type": "util", "operation": "echo", "dependencies": ["b", "util-echo-4"] }',
					'{ "id": "a", "type": "util", "operation": "echo" }',
					'{ "id": "b", "type": "util", "operation": "echo", "dependencies": ["a", "a"] }',
					'{ "type": "util", "operation": "echo", "parameters": { "value": "${steps.a.output}" } }',
				),
			);
			const g = getValidatedGraph(w);
			assert.ok(g);
			const fresh = buildGraph(w.instructions);
			for (const key of ['order', 'levels', 'levelCount', 'criticalPath', 'criticalPathDuration', 'dependents', 'depIndex'] as const) assert.deepEqual(g[key], fresh[key], key);
			for (const key of ['remaining', 'depStart', 'depList', 'dependentStart', 'dependentList'] as const) assert.deepEqual([...g[key]], [...fresh[key]], key);
			assert.deepEqual([...g.indexOf].sort(), [...fresh.indexOf].sort());
			assert.equal(getValidatedGraph({ ...w, variables: { x: 1 } }), g, 'a copy with other variables has the same graph');
			assert.equal(getValidatedGraph({ ...w, instructions: [...w.instructions] }), undefined, 'other instructions: build it');
			w.instructions.pop();
			assert.equal(getValidatedGraph(w), undefined, 'instructions removed since');
		});

		it('an instruction the quick checks do not accept is worded by zod, at its own path', () => {
			const many = Array.from({ length: 50 }, (_, i) => `{ "id": "s${i}", "type": "util", "operation": "echo" }`);
			many[40] = '{ "id": "s40", "type": "util", "operation": "echo", "retry": { "attempts": 0 }, "run_if": "sometimes" }';
			const err = fails(wf(...many));
			assert.deepEqual(
				err.problems.map((p) => [p.code, p.location.path, p.location.line]),
				[
					['schema', 'instructions[40].retry.attempts', 44],
					['schema', 'instructions[40].run_if', 44],
				],
			);
		});

		it('strips a byte order mark', () => {
			assert.equal(parse(`\ufeff${wf('{ "id": "a", "type": "util", "operation": "echo" }')}`).instructions.length, 1);
		});

		it('an empty instructions list is a valid workflow', () => {
			assert.deepEqual(parse('{ "name": "empty", "instructions": [] }').instructions, []);
		});
	});

	describe('single-instruction files', () => {
		it('a file holding one instruction runs as a workflow of one, named after the file', () => {
			const w = parse('{ "$schema": "../schemas/instruction.schema.json", "type": "util", "operation": "wait", "parameters": { "ms": 3 } }', {
				file: '/ws/pause.workflow.json',
			});
			assert.equal(w.name, 'pause');
			assert.equal(w.instructions.length, 1);
			assert.equal(w.instructions[0].id, 'util-wait-1');
			assert.deepEqual(w.instructions[0].parameters, { ms: 3 });
		});

		it('without a file name it is named after its id', () => {
			assert.equal(parse('{ "id": "hello", "type": "util", "operation": "echo" }', { file: undefined }).name, 'hello');
		});

		it('its errors have paths relative to the instruction', () => {
			const p = only('{\n  "type": "util",\n  "operation": "wait",\n  "parameters": { "ms": "soon" }\n}');
			assert.deepEqual([p.code, p.path, p.at], ['parameters', 'parameters.ms', '4:25']);
		});
	});

	describe('problems', () => {
		it('an unknown property names it, suggests the right one and points at the key', () => {
			const p = only(wf('{ "id": "a", "type": "util", "operation": "echo", "dependecies": [] }'));
			assert.equal(p.code, 'schema');
			assert.equal(p.path, 'instructions[0].dependecies');
			assert.equal(p.at, '4:55');
			assert.match(p.message, /unknown property 'dependecies' \(did you mean 'dependencies'\?\)/);
		});

		it('a missing required property points at the object that lacks it', () => {
			const p = only('{\n  "instructions": []\n}');
			assert.deepEqual([p.code, p.path, p.at, p.message], ['schema', undefined, '1:1', "missing required property 'name'"]);
			const q = only(wf('{ "id": "a", "operation": "echo" }'));
			assert.deepEqual([q.path, q.at, q.message], ['instructions[0]', '4:5', "missing required property 'type'"]);
		});

		it('a value of the wrong type is reported at that value', () => {
			const p = only(wf('{ "id": "a", "type": "util", "operation": "echo", "priority": "high" }'));
			assert.deepEqual([p.code, p.path, p.at], ['schema', 'instructions[0].priority', '4:67']);
		});

		it('an object that is neither a workflow nor an instruction says what a workflow file holds', () => {
			assert.match(only('[1, 2]').message, /a workflow file holds an object with "name" and "instructions"/);
			assert.match(only('{ "name": "x" }').message, /missing required property 'instructions'.*single-instruction file/);
		});

		it('a duplicate id names the first use', () => {
			const p = only(wf('{ "id": "a", "type": "util", "operation": "echo" }', '{ "id": "a", "type": "util", "operation": "echo" }'));
			assert.deepEqual([p.code, p.path, p.at], ['duplicate-id', 'instructions[1].id', '5:13']);
			assert.match(p.message, /duplicate id 'a' \(first used by instructions\[0\]\)/);
		});

		it('an unknown type lists the known types', () => {
			const p = only(wf('{ "id": "a", "type": "utl", "operation": "echo" }'));
			assert.deepEqual([p.code, p.path, p.at], ['unknown-type', 'instructions[0].type', '4:26']);
			assert.match(p.message, /unknown type 'utl' \(did you mean 'util'\?\); known types: file, util/);
		});

		it("an unknown operation lists that type's operations", () => {
			const p = only(wf('{ "id": "a", "type": "file", "operation": "write" }'));
			assert.deepEqual([p.code, p.path, p.at], ['unknown-operation', 'instructions[0].operation', '4:47']);
			assert.match(p.message, /unknown operation 'write' for type 'file'.*operations: create, read/);
		});

		it("parameters are checked with the operation's zod schema", () => {
			const err = fails(wf('{ "id": "a", "type": "file", "operation": "create", "parameters": { "content": 5, "mode": 1 } }'));
			const got = err.problems.map((p) => [p.code, p.location.path, p.message]);
			assert.deepEqual(got, [
				['parameters', 'instructions[0].parameters', "missing required parameter 'path'"],
				['parameters', 'instructions[0].parameters.content', 'Invalid input: expected string, received number'],
				['parameters', 'instructions[0].parameters.mode', "unknown parameter 'mode'; parameters: content, overwrite, path"],
			]);
		});

		it('a statically known value of the wrong type is still an error after substitution', () => {
			const p = only(`{ "name": "t", "variables": { "s": "slow" }, "instructions": [
				{ "id": "a", "type": "util", "operation": "wait", "parameters": { "ms": "\${vars.s}" } }] }`);
			assert.deepEqual([p.code, p.path], ['parameters', 'instructions[0].parameters.ms']);
		});

		it('a dependency on a missing id is reported at that entry', () => {
			const p = only(wf('{ "id": "build", "type": "util", "operation": "echo" }', '{ "id": "b", "type": "util", "operation": "echo", "dependencies": ["biuld"] }'));
			assert.deepEqual([p.code, p.path, p.at], ['missing-dependency', 'instructions[1].dependencies[0]', '5:72']);
			assert.match(p.message, /depends on 'biuld', which is not a step id \(did you mean 'build'\?\)/);
		});

		it('a step that depends on itself is rejected', () => {
			const p = only(wf('{ "id": "a", "type": "util", "operation": "echo", "dependencies": ["a"] }'));
			assert.deepEqual([p.code, p.path, p.message], ['cycle', 'instructions[0].dependencies[0]', "'a' depends on itself"]);
		});

		it('a dependency cycle prints the cycle', () => {
			const p = only(
				wf(
					'{ "id": "a", "type": "util", "operation": "echo", "dependencies": ["c"] }',
					'{ "id": "b", "type": "util", "operation": "echo", "dependencies": ["a"] }',
					'{ "id": "c", "type": "util", "operation": "echo", "dependencies": ["b"] }',
				),
			);
			assert.deepEqual([p.code, p.path, p.message], ['cycle', 'instructions[0].dependencies[0]', 'dependency cycle: a → c → b → a']);
		});

		it('a cycle is located at the written dependency, also after others were dropped', () => {
			const err = fails(
				wf(
					'{ "id": "a", "type": "util", "operation": "echo", "dependencies": ["zz", "a", "b"] }',
					'{ "id": "b", "type": "util", "operation": "echo", "dependencies": ["a"] }',
				),
			);
			assert.deepEqual(
				err.problems.map((p) => [p.code, p.location.path]),
				[
					['missing-dependency', 'instructions[0].dependencies[0]'],
					['cycle', 'instructions[0].dependencies[1]'],
					['cycle', 'instructions[0].dependencies[2]'],
				],
			);
			assert.equal(err.problems[2].message, 'dependency cycle: a → b → a');
		});

		it('a cycle through ${steps...} references is found and located at the reference', () => {
			const p = only(
				wf(
					'{ "id": "a", "type": "util", "operation": "echo", "parameters": { "value": "${steps.b.output}" } }',
					'{ "id": "b", "type": "util", "operation": "echo", "dependencies": ["a"] }',
				),
			);
			assert.deepEqual([p.code, p.path, p.message], ['cycle', 'instructions[0].parameters.value', 'dependency cycle: a → b → a']);
		});

		it('undefined vars, unset env vars, unknown steps and unknown roots are reference errors', () => {
			const err = fails(
				wf(
					'{ "id": "a", "type": "util", "operation": "echo", "parameters": { "value": "${vars.nope}" } }',
					'{ "id": "b", "type": "util", "operation": "echo", "parameters": { "value": "${env.NOT_SET_ANYWHERE}" } }',
					'{ "id": "c", "type": "util", "operation": "echo", "parameters": { "value": "${steps.zz.output}" } }',
					'{ "id": "d", "type": "util", "operation": "echo", "parameters": { "value": "${HOME}" } }',
					'{ "id": "e", "type": "util", "operation": "echo", "parameters": { "value": "${steps.e.output}" } }',
					'{ "id": "f", "type": "util", "operation": "echo", "parameters": { "value": "${vars.x" } }',
				),
			);
			assert.deepEqual(
				err.problems.map((p) => [p.code, p.location.path, p.location.line]),
				[4, 5, 6, 7, 8, 9].map((line, k) => ['reference', `instructions[${k}].parameters.value`, line]),
			);
			const messages = err.problems.map((p) => p.message);
			assert.match(messages[0], /undefined variable 'nope' in \$\{vars\.nope\}; variables: none are defined/);
			assert.match(messages[1], /environment variable 'NOT_SET_ANYWHERE' is not set/);
			assert.match(messages[2], /unknown step 'zz' in \$\{steps\.zz\.output\}/);
			assert.match(messages[3], /unknown reference root 'HOME'/);
			assert.match(messages[4], /cannot use its own output/);
			assert.match(messages[5], /unterminated reference/);
		});

		it('several problems are reported together, in file order, with file, path, line and column', () => {
			const err = fails(
				wf(
					'{ "id": "a", "type": "nope", "operation": "echo" }',
					'{ "id": "a", "type": "util", "operation": "echo", "dependencies": ["zz"] }',
					'{ "id": "c", "type": "util", "operation": "wait", "parameters": { "ms": -1 } }',
				),
			);
			assert.deepEqual(
				err.problems.map((p) => `${p.code} ${p.describe()}`),
				[
					"unknown-type /ws/flow.workflow.json:4:26 instructions[0].type: unknown type 'nope'; known types: file, util",
					"duplicate-id /ws/flow.workflow.json:5:13 instructions[1].id: duplicate id 'a' (first used by instructions[0])",
					"missing-dependency /ws/flow.workflow.json:5:72 instructions[1].dependencies[0]: depends on 'zz', which is not a step id",
					'parameters /ws/flow.workflow.json:6:77 instructions[2].parameters.ms: Too small: expected number to be >=0',
				],
			);
			assert.equal(err.code, 'unknown-type');
			assert.deepEqual(err.location, err.problems[0].location);
			assert.match(err.message, /\(and 3 more problems\)$/);
		});

		it('parameters nested absurdly deep are a clean error, not a stack overflow', () => {
			const depth = 100_000;
			const text = `{ "name": "t", "instructions": [{ "type": "util", "operation": "echo", "parameters": { "value": ${'['.repeat(depth)}${']'.repeat(depth)} } }] }`;
			const p = only(text);
			assert.equal(p.code, 'schema');
			assert.match(p.message, /nested more than 100 levels deep/);
			const vars = `{ "name": "t", "variables": { "v": ${'{"a":'.repeat(depth)}1${'}'.repeat(depth)} }, "instructions": [] }`;
			assert.match(only(vars).message, /nested more than 100 levels deep/);
		});

		it('a property name that needs quoting is shown in brackets, and located even with escapes', () => {
			const p = only(wf('{ "id": "a", "type": "file", "operation": "read", "parameters": { "path": "x", "my \\"key\\"": 1 } }'));
			assert.deepEqual([p.path, p.at], ['instructions[0].parameters["my \\"key\\""]', '4:84']);
		});

		it("a handler's schema that throws is reported as a parameters problem", () => {
			const throwing = new HandlerRegistry().register({
				type: 't',
				description: 'throws',
				operations: {
					op: defineOperation({
						params: z.unknown().refine(() => {
							throw new Error('boom');
						}),
						effect: 'none',
						summary: () => '',
						run: async () => undefined,
					}),
				},
			});
			const p = only('{ "type": "t", "operation": "op" }', { registry: throwing });
			assert.deepEqual([p.code, p.message], ['parameters', 'invalid parameters for t.op: boom']);
		});

		it('parseWorkflowData reports paths without lines for data built in memory', () => {
			try {
				parseWorkflowData({ name: 'x', instructions: [{ type: 'util', operation: 'wait', parameters: { ms: 'x' } }] }, opts);
				assert.fail('expected an error');
			} catch (err) {
				assert.ok(WorkflowError.is(err, 'parameters'));
				assert.equal(err.location.path, 'instructions[0].parameters.ms');
				assert.equal(err.location.line, undefined);
			}
		});
	});

	describe('malformed JSON', () => {
		const cases: [string, string, RegExp][] = [
			['{ "a": [1, 2,] }', '1:13', /trailing comma before '\]'/],
			['{\n  "a": 1,\n}', '2:9', /trailing comma before '\}'/],
			['{ "a": }', '1:8', /unexpected '\}' — expected a value/],
			['{ "a": 1 "b": 2 }', '1:10', /expected ',' or '\}' \(missing comma\?\)/],
			["{ 'a': 1 }", '1:3', /property names must be in double quotes/],
			['{ "a": \'x\' }', '1:8', /strings must use double quotes/],
			['{ "a": yes }', '1:8', /unexpected 'yes' — expected a value \(strings need double quotes\)/],
			['{ "a": "x\n" }', '1:8', /unterminated string/],
			['{\n  "a": [1, 2\n', '3:1', /unexpected end of file — '\[' opened at line 2, column 8 is never closed/],
			['', '1:1', /the file is empty/],
			['   \n  ', '2:3', /the file is empty/],
			['{ // note\n "a": 1 }', '1:3', /comments are not allowed in JSON/],
			['{ "a": 1 } x', '1:12', /unexpected 'x' after the end of the JSON value/],
			['{ "a": 01 }', '1:8', /leading zeros/],
			['{ "a": "\\q" }', '1:9', /invalid escape '\\q'/],
			['{ "a": 1.e5 }', '1:8', /expected digits after '\.'/],
			['{ "a" 1 }', '1:7', /expected ':' after the property name/],
			['{ "a": NaN }', '1:8', /unexpected 'NaN' — expected a value$/],
		];
		for (const [text, at, message] of cases) {
			it(`${JSON.stringify(text)} → ${at} ${message.source}`, () => {
				const p = only(text);
				assert.equal(p.code, 'json');
				assert.equal(p.at, at);
				assert.match(p.message, message);
				assert.doesNotMatch(p.message, /\n\s+at /, 'no stack trace');
			});
		}

		it('a pathological nesting of a million brackets is a clean error', () => {
			const p = only('['.repeat(1_000_000));
			assert.equal(p.code, 'json');
			assert.match(p.message, /never closed/);
		});

		it('a valid but pathological nesting is a clean schema error', () => {
			const depth = 1_000_000;
			assert.equal(only(`${'['.repeat(depth)}${']'.repeat(depth)}`).code, 'schema');
		});
	});
});

describe('loadWorkflowFile', () => {
	it('sets the absolute file and the sha256 of its bytes', async () => {
		const dir = tempDir();
		const text = wf('{ "id": "a", "type": "util", "operation": "echo" }');
		writeFileSync(join(dir, 'x.workflow.json'), text);
		const w = await loadWorkflowFile(join(dir, 'x.workflow.json'), { registry, workspace: dir });
		assert.equal(w.file, join(dir, 'x.workflow.json'));
		assert.equal(w.sourceHash, createHash('sha256').update(text).digest('hex'));
	});

	it('locations name the file', async () => {
		const dir = tempDir();
		writeFileSync(join(dir, 'bad.json'), '{ "name": "x", "instructions": [ }');
		await assert.rejects(loadWorkflowFile(join(dir, 'bad.json'), { registry, workspace: dir }), (err: unknown) => {
			return WorkflowError.is(err, 'json') && err.describe().startsWith(`${join(dir, 'bad.json')}:1:34: unexpected '}'`);
		});
	});

	it('a missing file is an io error naming it', async () => {
		const dir = tempDir();
		await assert.rejects(loadWorkflowFile(join(dir, 'nope.json'), { registry, workspace: dir }), (err: unknown) => {
			return WorkflowError.is(err, 'io') && err.location.file === join(dir, 'nope.json') && /no such file/.test(err.message);
		});
	});

	it('bytes that are not UTF-8 are a json error', async () => {
		const dir = tempDir();
		writeFileSync(join(dir, 'bin.json'), Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
		await assert.rejects(loadWorkflowFile(join(dir, 'bin.json'), { registry, workspace: dir }), (err: unknown) => WorkflowError.is(err, 'json'));
	});
});
