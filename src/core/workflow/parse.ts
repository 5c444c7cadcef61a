// Workflow front end: JSON.parse for the data, a location scanner only when a problem needs a line and column.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { z } from 'zod';
import { WorkflowError } from '../errors';
import type { ErrorLocation, WorkflowErrorCode } from '../errors';
import type { HandlerRegistry } from '../handlers/registry';
import { findCycles, formatCycle } from './graph';
import { instructionSchema, retrySchema, settingsSchema, undoSchema, workflowSchema } from './schema';
import type { Instruction, RawInstruction, Workflow } from './schema';
import { compileTemplate, formatKeys, resolveReference, stepsShapeProblem, substituteString, unknownRootMessage } from './substitute';
import type { Reference, SubstitutionScope } from './substitute';

export interface ParseOptions {
	/** Shown in error locations; also names a single-instruction workflow. */
	file?: string;
	registry: HandlerRegistry;
	/** For `${env.X}`; defaults to process.env. */
	env?: NodeJS.ProcessEnv;
	/** Absolute workspace root, for `${workspace}`. */
	workspace: string;
}

/** Deepest nesting accepted inside `parameters` and `variables`. */
export const MAX_VALUE_DEPTH = 100;

type PathKey = string | number;

interface Problem {
	code: WorkflowErrorCode;
	message: string;
	keys: PathKey[];
	/** Point at the property name rather than its value (unknown properties). */
	atKey?: boolean;
}

const staticParams = new WeakMap<Instruction, unknown>();

/**
 * The step's parameters as its operation's zod schema parsed them at load time (vars, env and workspace substituted,
 * defaults applied), or undefined when they hold `${steps...}` / `${context...}` references that only a run can resolve.
 */
export function getStaticParams(step: Instruction): unknown {
	return staticParams.get(step);
}

/** Reads, parses and validates a workflow file; `file` becomes absolute and `sourceHash` the sha256 of its bytes. */
export async function loadWorkflowFile(file: string, opts: Omit<ParseOptions, 'file'>): Promise<Workflow> {
	const abs = resolve(file);
	let bytes: Buffer;
	try {
		bytes = await readFile(abs);
	} catch (err) {
		const e = err as NodeJS.ErrnoException;
		const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a directory' : (e.code ?? e.message);
		const error = new WorkflowError('io', `cannot read the workflow file: ${why}`, { file: abs });
		throw new WorkflowError('io', error.message, error.location, [error]);
	}
	let text: string;
	try {
		text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
	} catch {
		const error = new WorkflowError('json', 'the file is not valid UTF-8 text', { file: abs });
		throw new WorkflowError('json', error.message, error.location, [error]);
	}
	const workflow = parseWorkflowText(text, { ...opts, file: abs });
	workflow.file = abs;
	workflow.sourceHash = createHash('sha256').update(bytes).digest('hex');
	return workflow;
}

/** Parses and validates workflow JSON text; throws one WorkflowError listing every problem, with lines and columns. */
export function parseWorkflowText(text: string, opts: ParseOptions): Workflow {
	const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
	let data: unknown;
	try {
		data = JSON.parse(src);
	} catch (err) {
		throw jsonError(src, err, opts.file);
	}
	return validateWorkflow(data, opts, src);
}

/** Validates already-parsed data (e.g. a workflow an agent built in memory); locations carry paths but no lines. */
export function parseWorkflowData(data: unknown, opts: ParseOptions): Workflow {
	return validateWorkflow(data, opts, undefined);
}

// ---------------------------------------------------------------------------------------------------------------
// Validation

function validateWorkflow(input: unknown, opts: ParseOptions, text: string | undefined): Workflow {
	const problems: Problem[] = [];
	let data = input;
	const single = isSingleInstruction(input);
	if (isSingleInstruction(input)) {
		const { $schema, ...instruction } = input;
		data = { name: singleName(opts.file, instruction), instructions: [typeof $schema === 'string' ? instruction : input] };
	}

	const envelope = workflowSchema.safeParse(data);
	if (!envelope.success) {
		for (const issue of envelope.error.issues) problems.push(...envelopeProblems(issue, data, single));
	}
	const root = isObject(data) ? data : {};
	const rawInstructions: unknown[] = Array.isArray(root.instructions) ? root.instructions : [];
	const variables = envelope.success ? (envelope.data.variables ?? {}) : isObject(root.variables) ? root.variables : {};
	checkDepth(variables, ['variables'], problems);

	const n = rawInstructions.length;
	const { ids, indexOf } = assignIds(rawInstructions, problems);
	const scope: SubstitutionScope = {
		vars: variables,
		env: opts.env ?? process.env,
		workspace: opts.workspace,
		context: () => ({ found: false }),
		step: () => ({ found: false }),
	};
	const checker = new InstructionChecker(ids, indexOf, scope, opts.registry, problems);
	const instructions: Instruction[] = new Array(n);
	const staticOf: unknown[] = new Array(n);
	for (let i = 0; i < n; i++) {
		instructions[i] = checker.check(i, rawInstructions[i], envelope.success ? envelope.data.instructions[i] : undefined);
		staticOf[i] = checker.staticValue;
	}

	for (const cycle of findCycles(instructions, Infinity, indexOf)) {
		const from = indexOf.get(cycle[0]) ?? 0;
		const raw = rawInstructions[from];
		const k = isObject(raw) && Array.isArray(raw.dependencies) ? raw.dependencies.indexOf(cycle[1]) : -1;
		const origin = checker.origins[from]?.get(cycle[1]);
		const keys: PathKey[] = k >= 0 ? ['instructions', from, 'dependencies', k] : (origin ?? ['instructions', from]);
		problems.push({ code: 'cycle', message: `dependency cycle: ${formatCycle(cycle)}`, keys });
	}

	if (problems.length) throw toError(problems, text, opts.file, single);
	for (let i = 0; i < n; i++) if (staticOf[i] !== undefined) staticParams.set(instructions[i], staticOf[i]);
	const wf = envelope.success ? envelope.data : undefined;
	const workflow: Workflow = {
		name: wf?.name ?? '',
		variables,
		settings: wf?.settings ?? {},
		instructions,
	};
	if (wf?.description !== undefined) workflow.description = wf.description;
	return workflow;
}

function isSingleInstruction(data: unknown): data is Record<string, unknown> {
	return isObject(data) && !Object.hasOwn(data, 'instructions') && Object.hasOwn(data, 'type') && Object.hasOwn(data, 'operation');
}

function singleName(file: string | undefined, instruction: Record<string, unknown>): string {
	if (file) {
		const name = basename(file)
			.replace(/\.json$/i, '')
			.replace(/\.(workflow|instruction)$/i, '');
		if (name) return name;
	}
	if (typeof instruction.id === 'string' && instruction.id) return instruction.id;
	return `${String(instruction.type)}-${String(instruction.operation)}`;
}

/** Explicit ids first, then `<type>-<operation>-<index+1>` for the rest, with `-2`, `-3`... until unique. */
function assignIds(raws: unknown[], problems: Problem[]): { ids: string[]; indexOf: Map<string, number> } {
	const n = raws.length;
	const ids: string[] = new Array(n);
	const indexOf = new Map<string, number>();
	let missing = 0;
	for (let i = 0; i < n; i++) {
		const raw = raws[i];
		const id = isObject(raw) ? raw.id : undefined;
		if (typeof id !== 'string') {
			missing++;
			continue;
		}
		ids[i] = id;
		const first = indexOf.get(id);
		if (first === undefined) indexOf.set(id, i);
		else problems.push({ code: 'duplicate-id', message: `duplicate id '${id}' (first used by instructions[${first}])`, keys: ['instructions', i, 'id'] });
	}
	for (let i = 0; missing > 0 && i < n; i++) {
		if (ids[i] !== undefined) continue;
		missing--;
		const raw = raws[i];
		let base = isObject(raw) ? `${idPart(raw.type)}-${idPart(raw.operation)}-${i + 1}` : `step-${i + 1}`;
		if (!/^[A-Za-z_]/.test(base)) base = `_${base}`;
		let id = base;
		for (let k = 2; indexOf.has(id); k++) id = `${base}-${k}`;
		indexOf.set(id, i);
		ids[i] = id;
	}
	return { ids, indexOf };
}

function idPart(v: unknown): string {
	return (typeof v === 'string' && v ? v : 'step').replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** Checks one instruction at a time; one instance per workflow so the per-step hot path allocates little. */
class InstructionChecker implements RefScan {
	id = '';
	dynamic = false;
	tooDeep = false;
	inferred: Map<string, PathKey[]> | undefined;
	/** The zod-parsed parameters of the last checked step when they need no run-time substitution. */
	staticValue: unknown;
	/** Per step, where each inferred dependency came from (the parameter holding `${steps.ID...}`), for cycle locations. */
	readonly origins: (Map<string, PathKey[]> | undefined)[] = [];
	private readonly keys: PathKey[] = [];

	constructor(
		private readonly ids: string[],
		readonly indexOf: Map<string, number>,
		readonly scope: SubstitutionScope,
		private readonly registry: HandlerRegistry,
		readonly problems: Problem[],
	) {}

	check(i: number, raw: unknown, parsed: RawInstruction | undefined): Instruction {
		const { problems, indexOf, ids } = this;
		const id = ids[i];
		const obj = isObject(raw) ? raw : {};
		const before = problems.length;
		this.reset(id);

		const type = typeof obj.type === 'string' && obj.type ? obj.type : undefined;
		const operation = typeof obj.operation === 'string' && obj.operation ? obj.operation : undefined;
		const spec = type !== undefined && operation !== undefined ? this.registry.operation(type, operation) : undefined;
		if (type !== undefined && !spec) this.unknownOperation(i, type, operation);

		// References: ${steps.ID...} adds ID to the dependencies; vars/env/workspace are resolved now.
		const keys = this.keys;
		const rawParams = obj.parameters === undefined ? {} : obj.parameters;
		const paramsOk = isObject(rawParams);
		let partial: unknown;
		if (paramsOk) {
			keys.length = 0;
			keys.push('instructions', i, 'parameters');
			partial = scanValue(rawParams, keys, 0, this);
		}

		let staticValue: unknown;
		if (spec && paramsOk && !this.tooDeep) {
			const result = safeParse(spec.params, partial);
			if (typeof result === 'string') {
				problems.push({ code: 'parameters', message: `invalid parameters for ${type}.${operation}: ${result}`, keys: ['instructions', i, 'parameters'] });
			} else if (result.success) {
				if (!this.dynamic) staticValue = result.data;
			} else {
				for (const issue of result.error.issues) {
					const target = valueAt(partial, issue.path);
					if (typeof target === 'string' && isDynamicString(target)) continue;
					problems.push(...issueProblems(issue, partial, ['instructions', i, 'parameters'], 'parameter', topKeys(spec.params)));
				}
			}
		}

		// Dependencies: explicit ones (checked, deduped), then inferred ones in order of appearance. The ids' own
		// string objects are stored, which makes the graph's id lookups cheaper.
		const dependencies: string[] = [];
		const rawDeps = Array.isArray(obj.dependencies) ? obj.dependencies : [];
		const seen = rawDeps.length > 16 || (this.inferred?.size ?? 0) > 16 ? new Set<string>() : undefined;
		const add = (dep: string) => {
			if (seen ? seen.has(dep) : dependencies.includes(dep)) return;
			seen?.add(dep);
			dependencies.push(dep);
		};
		for (let k = 0; k < rawDeps.length; k++) {
			const dep: unknown = rawDeps[k];
			if (typeof dep !== 'string') continue;
			const j = indexOf.get(dep);
			if (dep === id) {
				problems.push({ code: 'cycle', message: `'${id}' depends on itself`, keys: ['instructions', i, 'dependencies', k] });
			} else if (j === undefined) {
				const hint = indexOf.size <= 5000 ? suggest(dep, indexOf.keys()) : undefined;
				problems.push({
					code: 'missing-dependency',
					message: `depends on '${dep}', which is not a step id${hint ? ` (did you mean '${hint}'?)` : ''}`,
					keys: ['instructions', i, 'dependencies', k],
				});
			} else {
				add(ids[j]);
			}
		}
		if (this.inferred) for (const dep of this.inferred.keys()) add(ids[indexOf.get(dep) as number]);

		// The zod output is a fresh object, so it is completed in place; a generated id goes first.
		const base = (parsed ? (obj.id === undefined ? { id, ...parsed } : parsed) : { id, ...obj }) as Instruction;
		base.id = id;
		if (base.type === undefined) base.type = String(obj.type ?? '');
		if (base.operation === undefined) base.operation = String(obj.operation ?? '');
		if (!isObject(base.parameters)) base.parameters = {};
		base.dependencies = dependencies;
		if (typeof base.priority !== 'number') base.priority = 0;
		base.index = i;
		if (base.update_context === true && base.context_key === undefined) base.context_key = id;
		if (this.inferred) this.origins[i] = this.inferred;
		if (problems.length === before) this.staticValue = staticValue;
		return base;
	}

	private reset(id: string): void {
		this.id = id;
		this.dynamic = false;
		this.tooDeep = false;
		this.inferred = undefined;
		this.staticValue = undefined;
	}

	private unknownOperation(i: number, type: string, operation: string | undefined): void {
		const handler = this.registry.get(type);
		if (!handler) {
			const known = this.registry.types().sort();
			const hint = suggest(type, known);
			this.problems.push({
				code: 'unknown-type',
				message: `unknown type '${type}'${hint ? ` (did you mean '${hint}'?)` : ''}; known types: ${known.length ? known.join(', ') : 'none are registered'}`,
				keys: ['instructions', i, 'type'],
			});
		} else if (operation !== undefined) {
			const ops = Object.keys(handler.operations).sort();
			const hint = suggest(operation, ops);
			this.problems.push({
				code: 'unknown-operation',
				message: `unknown operation '${operation}' for type '${type}'${hint ? ` (did you mean '${hint}'?)` : ''}; operations: ${ops.join(', ')}`,
				keys: ['instructions', i, 'operation'],
			});
		}
	}
}

interface RefScan {
	id: string;
	indexOf: Map<string, number>;
	scope: SubstitutionScope;
	problems: Problem[];
	/** Steps referenced through ${steps.ID...}, with the path of the first reference. */
	inferred: Map<string, PathKey[]> | undefined;
	/** Some string holds a ${steps...} or ${context...} reference. */
	dynamic: boolean;
	/** The value is nested beyond MAX_VALUE_DEPTH, so it is not handed to zod. */
	tooDeep: boolean;
}

/**
 * Checks every reference under a value and returns it with the statically known roots substituted; a string
 * holding a run-time reference is returned as written (the engine substitutes it, and zod issues on it are ignored).
 */
function scanValue(value: unknown, keys: PathKey[], depth: number, ctx: RefScan): unknown {
	if (typeof value === 'string') return value.includes('${') ? scanString(value, keys, ctx) : value;
	if (typeof value !== 'object' || value === null) return value;
	if (depth >= MAX_VALUE_DEPTH) {
		ctx.problems.push({ code: 'schema', message: `value nested more than ${MAX_VALUE_DEPTH} levels deep`, keys: [...keys] });
		ctx.tooDeep = true;
		return value;
	}
	if (Array.isArray(value)) {
		let out: unknown[] | undefined;
		for (let i = 0; i < value.length; i++) {
			keys.push(i);
			const v = scanValue(value[i], keys, depth + 1, ctx);
			keys.pop();
			if (v !== value[i] && !out) out = value.slice(0, i);
			if (out) out.push(v);
		}
		return out ?? value;
	}
	const obj = value as Record<string, unknown>;
	const names = Object.keys(obj);
	let out: Record<string, unknown> | undefined;
	for (let i = 0; i < names.length; i++) {
		const k = names[i];
		keys.push(k);
		const v = scanValue(obj[k], keys, depth + 1, ctx);
		keys.pop();
		if (v !== obj[k] && !out) {
			out = {};
			for (let j = 0; j < i; j++) defineOwn(out, names[j], obj[names[j]]);
		}
		if (out) defineOwn(out, k, v);
	}
	return out ?? value;
}

function scanString(text: string, keys: PathKey[], ctx: RefScan): unknown {
	let tpl;
	try {
		tpl = compileTemplate(text);
	} catch (err) {
		ctx.problems.push({ code: 'reference', message: (err as Error).message, keys: [...keys] });
		return text;
	}
	let ok = true;
	for (const part of tpl.parts) {
		if (typeof part === 'string') continue;
		const problem = checkReference(part, keys, ctx);
		if (problem) {
			ok = false;
			ctx.problems.push({ code: 'reference', message: problem, keys: [...keys] });
		}
	}
	if (tpl.dynamic) {
		ctx.dynamic = true;
		return text;
	}
	if (!ok) return text;
	try {
		return substituteString(text, ctx.scope);
	} catch (err) {
		ctx.problems.push({ code: 'reference', message: (err as Error).message, keys: [...keys] });
		return text;
	}
}

/** A problem message for one reference, or undefined; records `${steps.ID}` as a dependency. */
function checkReference(ref: Reference, keys: PathKey[], ctx: RefScan): string | undefined {
	switch (ref.root) {
		case 'steps': {
			const shape = stepsShapeProblem(ref);
			if (shape) return shape;
			const target = ref.path[0];
			if (target === ctx.id) return `step '${ctx.id}' cannot use its own output (${ref.raw})`;
			if (!ctx.indexOf.has(target)) {
				const hint = ctx.indexOf.size <= 5000 ? suggest(target, ctx.indexOf.keys()) : undefined;
				return `unknown step '${target}' in ${ref.raw}${hint ? ` (did you mean '${hint}'?)` : ''}`;
			}
			ctx.inferred ??= new Map();
			if (!ctx.inferred.has(target)) ctx.inferred.set(target, [...keys]);
			return undefined;
		}
		case 'context':
			return ref.path.length ? undefined : `${ref.raw} names no context key`;
		case 'vars':
		case 'env':
		case 'workspace':
			try {
				resolveReference(ref, ctx.scope);
				return undefined;
			} catch (err) {
				const message = (err as Error).message;
				if (ref.root === 'vars' && ref.path.length && !Object.hasOwn(ctx.scope.vars, ref.path[0])) {
					const names = Object.keys(ctx.scope.vars).sort();
					return `${message}; variables: ${names.length ? names.join(', ') : 'none are defined'}`;
				}
				return message;
			}
		default:
			return unknownRootMessage(ref);
	}
}

/** safeParse that turns a throwing schema (a refine expecting other input) into a message instead of a crash. */
function safeParse(schema: z.ZodType, value: unknown): ReturnType<z.ZodType['safeParse']> | string {
	try {
		return schema.safeParse(value);
	} catch (err) {
		return err instanceof Error ? err.message : String(err);
	}
}

function isDynamicString(text: string): boolean {
	try {
		return compileTemplate(text).dynamic;
	} catch {
		return false;
	}
}

/** Reports `variables` nested deeper than MAX_VALUE_DEPTH, without recursion. */
function checkDepth(value: unknown, keys: PathKey[], problems: Problem[]): void {
	const stack: { v: unknown; keys: PathKey[] }[] = [{ v: value, keys }];
	while (stack.length) {
		const top = stack.pop();
		if (!top || typeof top.v !== 'object' || top.v === null) continue;
		if (top.keys.length - keys.length >= MAX_VALUE_DEPTH) {
			problems.push({ code: 'schema', message: `value nested more than ${MAX_VALUE_DEPTH} levels deep`, keys: top.keys });
			return;
		}
		if (Array.isArray(top.v)) top.v.forEach((v, i) => stack.push({ v, keys: [...top.keys, i] }));
		else for (const [k, v] of Object.entries(top.v)) if (typeof v === 'object' && v !== null) stack.push({ v, keys: [...top.keys, k] });
	}
}

// ---------------------------------------------------------------------------------------------------------------
// zod issues → problems

const KNOWN_KEYS = {
	workflow: Object.keys(workflowSchema.shape),
	instruction: Object.keys(instructionSchema.shape),
	settings: Object.keys(settingsSchema.shape),
	retry: Object.keys(retrySchema.shape),
	undo: Object.keys(undoSchema.shape),
};

function envelopeProblems(issue: z.core.$ZodIssue, data: unknown, single: boolean): Problem[] {
	const path = issue.path as PathKey[];
	if (path.length === 0 && issue.code === 'invalid_type') {
		return [
			{
				code: 'schema',
				message: 'a workflow file holds an object with "name" and "instructions", or a single instruction object with "type" and "operation"',
				keys: [],
			},
		];
	}
	if (path.length === 1 && path[0] === 'instructions' && issue.code === 'invalid_type' && valueAt(data, path) === undefined) {
		return [
			{
				code: 'schema',
				message: `missing required property 'instructions' (a workflow holds "name" and "instructions"; a single-instruction file holds "type" and "operation")`,
				keys: [],
			},
		];
	}
	let known: string[] | undefined;
	if (issue.code === 'unrecognized_keys') {
		const last = path[path.length - 1];
		if (path.length === 0) known = KNOWN_KEYS.workflow;
		else if (path.length === 2 && path[0] === 'instructions') known = single ? [...KNOWN_KEYS.instruction, '$schema'] : KNOWN_KEYS.instruction;
		else if (last === 'settings' || last === 'retry' || last === 'undo') known = KNOWN_KEYS[last];
	}
	return issueProblems(issue, data, [], 'property', known);
}

function issueProblems(issue: z.core.$ZodIssue, root: unknown, prefix: PathKey[], noun: string, known: string[] | undefined): Problem[] {
	const path = issue.path.filter((k): k is PathKey => typeof k !== 'symbol');
	const code: WorkflowErrorCode = prefix.length ? 'parameters' : 'schema';
	if (issue.code === 'unrecognized_keys') {
		return issue.keys.map((key) => {
			const hint = known ? suggest(key, known) : undefined;
			const list = known && !hint && noun === 'parameter' ? `; parameters: ${known.join(', ')}` : '';
			return {
				code,
				message: `unknown ${noun} '${key}'${hint ? ` (did you mean '${hint}'?)` : ''}${list}`,
				keys: [...prefix, ...path, key],
				atKey: true,
			};
		});
	}
	if (issue.code === 'invalid_type' && path.length > 0 && valueAt(root, path) === undefined) {
		const parent = valueAt(root, path.slice(0, -1));
		if (isObject(parent)) {
			return [{ code, message: `missing required ${noun} '${String(path[path.length - 1])}'`, keys: [...prefix, ...path.slice(0, -1)] }];
		}
	}
	return [{ code, message: issue.message, keys: [...prefix, ...path] }];
}

function topKeys(schema: z.ZodType): string[] | undefined {
	return schema instanceof z.ZodObject ? Object.keys(schema.shape).sort() : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Errors with locations

function toError(problems: Problem[], text: string | undefined, file: string | undefined, single: boolean): WorkflowError {
	const located = problems.map((p, i) => {
		const keys = single && p.keys[0] === 'instructions' && p.keys[1] === 0 ? p.keys.slice(2) : p.keys;
		return { p, keys, i, offset: -1 };
	});
	if (text !== undefined) {
		const root: PathNode = {};
		let count = 0;
		for (const l of located) {
			let node = root;
			for (const k of l.keys) {
				node.children ??= new Map();
				let child = node.children.get(k);
				if (!child) {
					node.children.set(k, (child = {}));
					count++;
				}
				node = child;
			}
		}
		locate(text, root, count);
		for (const l of located) {
			let node: PathNode | undefined = root;
			let offset = root.value ?? -1;
			for (let k = 0; k < l.keys.length && node; k++) {
				node = node.children?.get(l.keys[k]);
				if (node?.value === undefined) break;
				offset = k === l.keys.length - 1 && l.p.atKey && node.key !== undefined ? node.key : node.value;
			}
			l.offset = offset;
		}
	}
	located.sort((a, b) => (a.offset < 0 || b.offset < 0 ? a.i - b.i : a.offset - b.offset || a.i - b.i));
	const lines = text === undefined ? undefined : new LineIndex(text);
	// Problems are data, not throw sites: skip capturing a stack trace for each (thousands on a big broken file).
	const limit = Error.stackTraceLimit;
	Error.stackTraceLimit = 0;
	let errors: WorkflowError[];
	try {
		errors = located.map((l) => {
			const loc: ErrorLocation = {};
			if (file) loc.file = file;
			const path = formatKeys(l.keys);
			if (path) loc.path = path;
			if (lines && l.offset >= 0) Object.assign(loc, lines.at(l.offset));
			return new WorkflowError(l.p.code, l.p.message, loc);
		});
	} finally {
		Error.stackTraceLimit = limit;
	}
	const first = errors[0];
	const more = errors.length - 1;
	const message = more ? `${first.message} (and ${more} more problem${more > 1 ? 's' : ''})` : first.message;
	return new WorkflowError(first.code, message, first.location, errors);
}

class LineIndex {
	private readonly starts: number[] = [0];
	constructor(text: string) {
		for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
	}
	/** 1-based line and column (UTF-16 units) of an offset. */
	at(offset: number): { line: number; column: number } {
		let lo = 0;
		let hi = this.starts.length - 1;
		while (lo < hi) {
			const mid = (lo + hi + 1) >> 1;
			if (this.starts[mid] <= offset) lo = mid;
			else hi = mid - 1;
		}
		return { line: lo + 1, column: offset - this.starts[lo] + 1 };
	}
}

/** A trie of the JSON paths problems point at; locate() fills in offsets. */
interface PathNode {
	children?: Map<PathKey, PathNode>;
	/** Offset of the value. */
	value?: number;
	/** Offset of the property name, for object members. */
	key?: number;
}

/**
 * Fills in the offsets of the trie's paths in valid JSON text, in one iterative pass that descends only into
 * containers on some wanted path and skips everything else by bracket counting.
 */
function locate(text: string, root: PathNode, count: number): void {
	let i = skipWs(text, 0);
	root.value = i;
	const opener = text[i];
	if (!root.children || (opener !== '{' && opener !== '[')) return;
	const frames: { node: PathNode; obj: boolean; index: number }[] = [{ node: root, obj: opener === '{', index: 0 }];
	i++;
	while (frames.length && i < text.length) {
		i = skipWs(text, i);
		const c = text[i];
		if (c === ',') {
			i++;
			continue;
		}
		if (c === '}' || c === ']') {
			frames.pop();
			i++;
			continue;
		}
		const frame = frames[frames.length - 1];
		let child: PathNode | undefined;
		let keyAt = -1;
		if (frame.obj) {
			keyAt = i;
			const end = stringEnd(text, i);
			const rawKey = text.slice(i, end);
			const key = rawKey.includes('\\') ? (JSON.parse(rawKey) as string) : rawKey.slice(1, -1);
			i = skipWs(text, skipWs(text, end) + 1);
			child = frame.node.children?.get(key);
		} else {
			child = frame.node.children?.get(frame.index++);
		}
		if (child) {
			if (child.value === undefined && --count === 0) {
				child.value = i;
				if (keyAt >= 0) child.key = keyAt;
				return;
			}
			child.value = i;
			if (keyAt >= 0) child.key = keyAt;
			if (child.children && (text[i] === '{' || text[i] === '[')) {
				frames.push({ node: child, obj: text[i] === '{', index: 0 });
				i++;
				continue;
			}
		}
		i = skipValue(text, i);
	}
}

function skipWs(text: string, i: number): number {
	for (;;) {
		const c = text.charCodeAt(i);
		if (c === 32 || c === 10 || c === 13 || c === 9) i++;
		else return i;
	}
}

/** Offset just past the string starting at `i` (which is a `"`). */
function stringEnd(text: string, i: number): number {
	for (let j = i + 1; j < text.length; j++) {
		const c = text.charCodeAt(j);
		if (c === 92 /* \ */) j++;
		else if (c === 34 /* " */) return j + 1;
	}
	return text.length;
}

/** Offset just past the (valid) JSON value starting at `i`. */
function skipValue(text: string, i: number): number {
	const c = text[i];
	if (c === '"') return stringEnd(text, i);
	if (c === '{' || c === '[') {
		let depth = 0;
		for (let j = i; j < text.length; j++) {
			const d = text.charCodeAt(j);
			if (d === 34) j = stringEnd(text, j) - 1;
			else if (d === 123 || d === 91) depth++;
			else if (d === 125 || d === 93) {
				if (--depth === 0) return j + 1;
			}
		}
		return text.length;
	}
	let j = i;
	while (j < text.length && !',}] \t\r\n'.includes(text[j])) j++;
	return j;
}

// ---------------------------------------------------------------------------------------------------------------
// Malformed JSON: an iterative checker that finds the first error and says it in words

function jsonError(text: string, err: unknown, file: string | undefined): WorkflowError {
	const found = diagnoseJson(text);
	const loc: ErrorLocation = {};
	if (file) loc.file = file;
	let message: string;
	if (found) {
		message = found.message;
		Object.assign(loc, new LineIndex(text).at(found.offset));
	} else {
		message = `invalid JSON: ${err instanceof Error ? err.message : String(err)}`;
	}
	return new WorkflowError('json', message, loc, [new WorkflowError('json', message, { ...loc })]);
}

const OBJECT = 1;
const ARRAY = 0;

/** The first syntax error in JSON text (offset and message), or undefined when the text is valid JSON. */
export function diagnoseJson(text: string): { offset: number; message: string } | undefined {
	const len = text.length;
	const stack: number[] = [];
	const opened: number[] = [];
	let i = skipWs(text, 0);
	if (i >= len) return { offset: i, message: 'the file is empty: expected a JSON object' };
	let state: 'value' | 'key' | 'after' = 'value';
	let commaAt = -1;
	let justOpened = false;
	for (;;) {
		i = skipWs(text, i);
		const c = text[i];
		if (state === 'value') {
			if (i >= len) return { offset: i, message: unclosed(text, stack, opened, 'a value') };
			if (c === '{' || c === '[') {
				stack.push(c === '{' ? OBJECT : ARRAY);
				opened.push(i);
				i++;
				justOpened = true;
				state = c === '{' ? 'key' : 'value';
				commaAt = -1;
				if (c === '[') {
					i = skipWs(text, i);
					if (text[i] === ']') {
						stack.pop();
						opened.pop();
						i++;
						state = 'after';
					}
				}
				continue;
			}
			if (c === '"') {
				const e = readString(text, i);
				if (typeof e !== 'number') return e;
				i = e;
			} else if (c === '-' || (c >= '0' && c <= '9')) {
				const e = readNumber(text, i);
				if (typeof e !== 'number') return e;
				i = e;
			} else if (text.startsWith('true', i) || text.startsWith('null', i)) {
				i += 4;
			} else if (text.startsWith('false', i)) {
				i += 5;
			} else if ((c === ']' || c === '}') && commaAt >= 0) {
				return { offset: commaAt, message: `trailing comma before '${c}'` };
			} else {
				return { offset: i, message: unexpected(text, i, 'a value') };
			}
			commaAt = -1;
			state = 'after';
			continue;
		}
		if (state === 'key') {
			if (i >= len) return { offset: i, message: unclosed(text, stack, opened, 'a property name') };
			if (c === '}') {
				if (!justOpened) return { offset: commaAt >= 0 ? commaAt : i, message: "trailing comma before '}'" };
				stack.pop();
				opened.pop();
				i++;
				state = 'after';
				continue;
			}
			if (c !== '"') {
				if (c === "'" || /[A-Za-z_$]/.test(c)) return { offset: i, message: 'property names must be in double quotes' };
				return { offset: i, message: unexpected(text, i, justOpened ? "a property name in double quotes or '}'" : 'a property name in double quotes') };
			}
			const e = readString(text, i);
			if (typeof e !== 'number') return e;
			i = skipWs(text, e);
			if (text[i] !== ':') return { offset: i, message: i >= len ? unclosed(text, stack, opened, "':'") : unexpected(text, i, "':' after the property name") };
			i++;
			justOpened = false;
			commaAt = -1;
			state = 'value';
			continue;
		}
		// after a value
		if (stack.length === 0) {
			if (i >= len) return undefined;
			return { offset: i, message: `unexpected ${show(text, i)} after the end of the JSON value` };
		}
		const top = stack[stack.length - 1];
		const closer = top === OBJECT ? '}' : ']';
		if (i >= len) return { offset: i, message: unclosed(text, stack, opened, `',' or '${closer}'`) };
		if (c === ',') {
			commaAt = i;
			i++;
			justOpened = false;
			state = top === OBJECT ? 'key' : 'value';
			continue;
		}
		if (c === closer) {
			stack.pop();
			opened.pop();
			i++;
			continue;
		}
		const missing = c === '"' || c === '{' || c === '[' || /[-0-9tfn]/.test(c) ? ' (missing comma?)' : '';
		return { offset: i, message: `${unexpected(text, i, `',' or '${closer}'`)}${missing}` };
	}
}

function unclosed(text: string, stack: number[], opened: number[], expected: string): string {
	if (!stack.length) return `unexpected end of file — expected ${expected}`;
	const at = new LineIndex(text).at(opened[opened.length - 1]);
	const what = stack[stack.length - 1] === OBJECT ? '{' : '[';
	return `unexpected end of file — '${what}' opened at line ${at.line}, column ${at.column} is never closed`;
}

function readString(text: string, start: number): number | { offset: number; message: string } {
	for (let i = start + 1; i < text.length; i++) {
		const c = text.charCodeAt(i);
		if (c === 34) return i + 1;
		if (c === 92) {
			const e = text[i + 1];
			if (e === 'u') {
				if (!/^[0-9A-Fa-f]{4}$/.test(text.slice(i + 2, i + 6))) return { offset: i, message: 'invalid \\u escape in string: expected 4 hex digits' };
				i += 5;
			} else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
				i++;
			} else {
				return { offset: i, message: `invalid escape '\\${e ?? ''}' in string` };
			}
		} else if (c === 10 || c === 13) {
			return { offset: start, message: 'unterminated string (a string cannot span lines: write \\n)' };
		} else if (c < 32) {
			return { offset: i, message: 'control character in string (escape it, e.g. \\t)' };
		}
	}
	return { offset: start, message: 'unterminated string' };
}

function readNumber(text: string, start: number): number | { offset: number; message: string } {
	let i = start;
	const digit = () => text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57;
	if (text[i] === '-') i++;
	if (text[i] === '0') {
		i++;
		if (digit()) return { offset: start, message: 'numbers cannot have leading zeros' };
	} else if (digit()) {
		while (digit()) i++;
	} else {
		return { offset: start, message: unexpected(text, start, 'a value') };
	}
	if (text[i] === '.') {
		i++;
		if (!digit()) return { offset: start, message: "invalid number: expected digits after '.'" };
		while (digit()) i++;
	}
	if (text[i] === 'e' || text[i] === 'E') {
		i++;
		if (text[i] === '+' || text[i] === '-') i++;
		if (!digit()) return { offset: start, message: 'invalid number: expected digits in the exponent' };
		while (digit()) i++;
	}
	return i;
}

function unexpected(text: string, i: number, expected: string): string {
	const c = text[i];
	if (c === "'") return `strings must use double quotes — expected ${expected}`;
	if (c === '/' && (text[i + 1] === '/' || text[i + 1] === '*')) return 'comments are not allowed in JSON';
	const word = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(text.slice(i, i + 30))?.[0];
	const hint = word && expected === 'a value' && !['NaN', 'Infinity', 'undefined'].includes(word) ? ' (strings need double quotes)' : '';
	return `unexpected ${show(text, i)} — expected ${expected}${hint}`;
}

function show(text: string, i: number): string {
	const word = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(text.slice(i, i + 30));
	if (word) return `'${word[0]}'`;
	const cp = text.codePointAt(i) ?? 0;
	const ch = String.fromCodePoint(cp);
	return cp < 32 || (cp >= 0x7f && cp < 0xa0) || cp === 0xfeff ? `character U+${cp.toString(16).toUpperCase().padStart(4, '0')}` : `'${ch}'`;
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

function isObject(v: unknown): v is Record<string, unknown> {
	return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
	let cur = root;
	for (const k of path) {
		if (typeof cur !== 'object' || cur === null || typeof k === 'symbol' || !Object.hasOwn(cur, k)) return undefined;
		cur = (cur as Record<string, unknown>)[k as string];
	}
	return cur;
}

function defineOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
	if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
	else obj[key] = value;
}

/** The closest candidate within a small edit distance, for "did you mean". */
function suggest(word: string, candidates: Iterable<string>): string | undefined {
	const max = Math.max(1, Math.floor(word.length / 3));
	let best: string | undefined;
	let bestDistance = max + 1;
	for (const c of candidates) {
		if (Math.abs(c.length - word.length) > max) continue;
		const d = distance(word.toLowerCase(), c.toLowerCase(), bestDistance);
		if (d < bestDistance) {
			best = c;
			bestDistance = d;
		}
	}
	return best;
}

/** Edit distance counting a swap of neighbours as one edit (optimal string alignment), stopping early at `cap`. */
function distance(a: string, b: string, cap: number): number {
	let before: number[] = [];
	let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
	for (let i = 1; i <= a.length; i++) {
		const cur = [i];
		let rowMin = i;
		for (let j = 1; j <= b.length; j++) {
			let d = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
			if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2] + 1);
			cur[j] = d;
			if (d < rowMin) rowMin = d;
		}
		if (rowMin >= cap) return cap;
		before = prev;
		prev = cur;
	}
	return prev[b.length];
}
