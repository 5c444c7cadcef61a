import assert from 'node:assert/strict';
import { WorkflowError } from '../../../src/core/errors';
import { compileTemplate, findReferences, hasTemplates, substitute } from '../../../src/core/workflow/substitute';
import type { SubstitutionScope } from '../../../src/core/workflow/substitute';

function scope(over: Partial<SubstitutionScope> = {}): SubstitutionScope {
	const context: Record<string, unknown> = { build: { ok: true }, 'deploy.target': 'prod', count: 3 };
	const outputs: Record<string, unknown> = {
		read: 'file text',
		run: { exit_code: 0, stdout: 'hi\n', items: [{ name: 'first' }, { name: 'second' }] },
		'ns.step': 42,
		none: undefined,
	};
	return {
		vars: { name: 'world', port: 8080, cfg: { host: 'localhost', tags: ['a', 'b'] }, nothing: null },
		env: { HOME: '/home/me', EMPTY: '' },
		workspace: '/ws',
		context: (key) => (Object.hasOwn(context, key) ? { found: true, value: context[key] } : { found: false }),
		step: (id) => (Object.hasOwn(outputs, id) ? { found: true, output: outputs[id] } : { found: false }),
		...over,
	};
}

function referenceError(fn: () => unknown, pattern: RegExp): WorkflowError {
	let caught: unknown;
	try {
		fn();
	} catch (err) {
		caught = err;
	}
	assert.ok(WorkflowError.is(caught, 'reference'), `expected a reference WorkflowError, got ${String(caught)}`);
	assert.match(caught.message, pattern);
	return caught;
}

describe('substitute', () => {
	it('resolves every root: vars, env, context, workspace and steps', () => {
		const s = scope();
		assert.equal(substitute('hello ${vars.name}', s), 'hello world');
		assert.equal(substitute('${env.HOME}/x', s), '/home/me/x');
		assert.equal(substitute('${context.deploy.target}', s), 'prod');
		assert.equal(substitute('${workspace}/src', s), '/ws/src');
		assert.equal(substitute('${steps.read.output}', s), 'file text');
	});

	it('a string that is exactly one reference keeps the value type', () => {
		const s = scope();
		assert.equal(substitute('${vars.port}', s), 8080);
		assert.deepEqual(substitute('${vars.cfg}', s), { host: 'localhost', tags: ['a', 'b'] });
		assert.equal(substitute('${context.build.ok}', s), true);
		assert.equal(substitute('${vars.nothing}', s), null);
		assert.equal(substitute('${ vars.port }', s), 8080, 'spaces inside the braces are allowed');
	});

	it('a reference inside a longer string is stringified, objects as JSON', () => {
		const s = scope();
		assert.equal(substitute('port=${vars.port}', s), 'port=8080');
		assert.equal(substitute('cfg=${vars.cfg}', s), 'cfg={"host":"localhost","tags":["a","b"]}');
		assert.equal(substitute('[${vars.nothing}] [${steps.none.output}]', s), '[null] []');
	});

	it('follows dotted paths and numeric indices into a step output', () => {
		const s = scope();
		assert.equal(substitute('${steps.run.output.exit_code}', s), 0);
		assert.equal(substitute('${steps.run.output.items.1.name}', s), 'second');
		assert.equal(substitute('${steps.run.output.items[0].name}', s), 'first');
		assert.equal(substitute('${vars.cfg.tags.1}', s), 'b');
	});

	it('a step id may contain dots: the id is what comes before `.output`', () => {
		assert.equal(substitute('${steps.ns.step.output}', scope()), 42);
		assert.deepEqual(findReferences('${steps.ns.step.output.a}')[0], { root: 'steps', path: ['ns.step', 'output', 'a'], raw: '${steps.ns.step.output.a}' });
	});

	it('$${ is a literal ${ and a lone $ stays as it is', () => {
		const s = scope();
		assert.equal(substitute('$${vars.name}', s), '${vars.name}');
		assert.equal(substitute('cost: $5, $$, ${vars.name}$', s), 'cost: $5, $$, world$');
		assert.equal(substitute('echo $${HOME} ${env.HOME}', s), 'echo ${HOME} /home/me');
	});

	it('substitutes deep inside objects and arrays, leaves keys alone and keeps unchanged subtrees', () => {
		const untouched = { a: [1, 2, { b: 'plain' }] };
		const input = { '${vars.name}': '${vars.name}', list: ['${vars.port}', 'x'], untouched };
		const out = substitute(input, scope()) as Record<string, unknown>;
		assert.deepEqual(out, { '${vars.name}': 'world', list: [8080, 'x'], untouched });
		assert.equal(out.untouched, untouched, 'a subtree without templates is returned as is');
		assert.equal(substitute(untouched, scope()), untouched);
		assert.deepEqual(input.list, ['${vars.port}', 'x'], 'the input is not modified');
	});

	it('keeps a __proto__ key as an own property instead of changing the prototype', () => {
		const input = JSON.parse('{"__proto__": "${vars.name}", "x": "${vars.port}"}') as Record<string, unknown>;
		const out = substitute(input, scope()) as Record<string, unknown>;
		assert.equal(Object.getPrototypeOf(out), Object.prototype);
		assert.deepEqual(Object.keys(out), ['__proto__', 'x']);
		assert.equal(Object.getOwnPropertyDescriptor(out, '__proto__')?.value, 'world');
	});

	it('a missing variable, env var, context key or step output is an error that names the reference', () => {
		const s = scope();
		referenceError(() => substitute('${vars.nope}', s), /undefined variable 'nope' in \$\{vars\.nope\}/);
		referenceError(() => substitute('${env.NOT_SET}', s), /environment variable 'NOT_SET' is not set/);
		referenceError(() => substitute('${context.missing}', s), /context key 'missing' is not set/);
		referenceError(() => substitute('${steps.later.output}', s), /step 'later' has no output yet/);
		referenceError(() => substitute('${steps.run.output.nope}', s), /steps\.run\.output has no property 'nope'/);
		referenceError(() => substitute('${steps.run.output.items.9}', s), /has no element '9'/);
		referenceError(() => substitute('${vars.cfg.host.deeper}', s), /vars\.cfg\.host has no property 'deeper'/);
	});

	it('an error inside a value carries the path of the string that failed', () => {
		const err = referenceError(() => substitute({ args: ['ok', '${vars.nope}'] }, scope()), /nope/);
		assert.equal(err.location.path, 'args[1]');
	});

	it('does not read inherited properties as variables or env vars', () => {
		referenceError(() => substitute('${vars.toString}', scope()), /undefined variable 'toString'/);
		referenceError(() => substitute('${env.constructor}', scope()), /not set/);
	});

	it('an unknown root, a malformed or an unterminated reference is an error', () => {
		const s = scope();
		referenceError(() => substitute('${HOME}', s), /unknown reference root 'HOME'.*vars, env, context, workspace, steps/);
		referenceError(() => substitute('${}', s), /empty reference/);
		referenceError(() => substitute('${vars.}', s), /malformed reference/);
		referenceError(() => substitute('${vars.a[x]}', s), /numeric indices/);
		referenceError(() => substitute('abc ${vars.name', s), /unterminated reference/);
		referenceError(() => substitute('${steps.read}', s), /must read a step's output/);
		referenceError(() => substitute('${workspace.x}', s), /takes no path/);
	});

	it('findReferences lists every reference with its root, path and text', () => {
		const refs = findReferences({ a: ['${vars.x} and ${env.Y}'], b: { c: '${steps.s1.output.list[2]}' }, d: 5, e: '$${vars.no}' });
		assert.deepEqual(refs, [
			{ root: 'vars', path: ['x'], raw: '${vars.x}' },
			{ root: 'env', path: ['Y'], raw: '${env.Y}' },
			{ root: 'steps', path: ['s1', 'output', 'list', '2'], raw: '${steps.s1.output.list[2]}' },
		]);
	});

	it('hasTemplates is true only when some string holds ${', () => {
		assert.equal(hasTemplates({ a: [1, { b: 'x' }], c: null }), false);
		assert.equal(hasTemplates({ a: [1, { b: 'x ${vars.y}' }] }), true);
		assert.equal(hasTemplates('$${escaped}'), true, 'an escape still needs substitution to unescape');
		assert.equal(hasTemplates('$5'), false);
		assert.equal(hasTemplates(undefined), false);
	});

	it('compiles a string once and reuses it', () => {
		assert.equal(compileTemplate('x ${vars.a} y'), compileTemplate('x ${vars.a} y'));
		assert.equal(compileTemplate('${steps.a.output}').dynamic, true);
		assert.equal(compileTemplate('${vars.a}').dynamic, false);
	});
});
