// The checks behind a workflow: envelope, ids, types and operations, parameters, dependencies; each failure a Problem.
import { z } from 'zod';
import type { WorkflowErrorCode } from '../errors';
import type { HandlerRegistry } from '../handlers/registry';
import type { PathKey } from './jsonLocation';
import { scanValue } from './references';
import type { RefScan } from './references';
import { instructionSchema, retrySchema, settingsSchema, undoSchema, workflowSchema } from './schema';
import type { Instruction, RawInstruction } from './schema';
import { compileTemplate } from './substitute';
import type { SubstitutionScope } from './substitute';
import { suggest } from './suggest';

/** One thing wrong with a workflow, at a JSON path; parse.ts gathers them into one located WorkflowError. */
export interface Problem {
	code: WorkflowErrorCode;
	message: string;
	keys: PathKey[];
	/** Point at the property name rather than its value (unknown properties). */
	atKey?: boolean;
}

/** Explicit ids first, then `<type>-<operation>-<index+1>` for the rest, with `-2`, `-3`... until unique. */
export function assignIds(raws: unknown[], problems: Problem[]): { ids: string[]; indexOf: Map<string, number> } {
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
export class InstructionChecker implements RefScan {
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

// ---------------------------------------------------------------------------------------------------------------
// zod issues → problems

const KNOWN_KEYS = {
	workflow: Object.keys(workflowSchema.shape),
	instruction: Object.keys(instructionSchema.shape),
	settings: Object.keys(settingsSchema.shape),
	retry: Object.keys(retrySchema.shape),
	undo: Object.keys(undoSchema.shape),
};

export function envelopeProblems(issue: z.core.$ZodIssue, data: unknown, single: boolean): Problem[] {
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
// Small helpers

export function isObject(v: unknown): v is Record<string, unknown> {
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
