// The checks behind a workflow's instructions: ids, types and operations, parameters, dependencies; each failure a Problem.
import type { z } from 'zod';
import type { HandlerRegistry } from '../handlers/registry';
import type { OperationSpec } from '../handlers/types';
import type { Edges } from './graph';
import type { PathKey } from './jsonLocation';
import { isObject, issueProblems, topKeys, valueAt } from './problems';
import type { Problem } from './problems';
import { scanValue } from './references';
import type { RefScan } from './references';
import type { Instruction, RawInstruction } from './schema';
import { compileTemplate } from './substitute';
import type { SubstitutionScope } from './substitute';
import { suggest } from './suggest';

export { envelopeProblems, isObject } from './problems';
export type { Problem } from './problems';
export { parseInstruction } from './parseInstruction';

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

/** Checks one instruction at a time, in index order; one instance per workflow so the per-step hot path allocates little. */
export class InstructionChecker implements RefScan {
	id = '';
	dynamic = false;
	tooDeep = false;
	inferred: Map<string, PathKey[]> | undefined;
	/** The zod-parsed parameters of the last checked step when they need no run-time substitution. */
	staticValue: unknown;
	/** Per step, 1 when its parameters had ${vars}/${env}/${workspace} substituted (their static value depends on the scope). */
	readonly scoped: Uint8Array;
	/** Per step, where each inferred dependency came from (the parameter holding `${steps.ID...}`), for cycle locations. */
	readonly origins: (Map<string, PathKey[]> | undefined)[] = [];
	private readonly keys: PathKey[] = [];
	/** The dependencies as indices, in CSR form (see graph.ts Edges), so the graph needs no id lookups. */
	private readonly depStart: Int32Array;
	private depList: Int32Array;
	private edgeCount = 0;
	/** mark[j] === i + 1 once step i depends on j: deduplication without a set per step. */
	private readonly mark: Int32Array;
	private lastType: string | undefined;
	private lastOperation: string | undefined;
	private lastSpec: OperationSpec<never> | undefined;

	constructor(
		private readonly ids: string[],
		readonly indexOf: Map<string, number>,
		readonly scope: SubstitutionScope,
		private readonly registry: HandlerRegistry,
		readonly problems: Problem[],
		/** The input is fresh JSON.parse output: its objects and arrays may become the instructions' own. */
		private readonly ownsInput = false,
	) {
		const n = ids.length;
		this.depStart = new Int32Array(n + 1);
		this.depList = new Int32Array(Math.max(16, 2 * n));
		this.mark = new Int32Array(n);
		this.scoped = new Uint8Array(n);
	}

	/** The dependencies of the steps checked so far (all of them once the last is checked), resolved to indices. */
	edges(): Edges {
		const n = this.ids.length;
		this.depStart[n] = this.edgeCount;
		return { depStart: this.depStart, depList: this.depList.slice(0, this.edgeCount) };
	}

	/** Checks step i (steps are checked in index order); `parsed` is its instructionSchema output, undefined when that failed. */
	check(i: number, raw: unknown, parsed: RawInstruction | undefined): Instruction {
		const { problems, indexOf, ids } = this;
		const id = ids[i];
		const obj = isObject(raw) ? raw : {};
		const before = problems.length;
		this.reset(id);

		const type = typeof obj.type === 'string' && obj.type ? obj.type : undefined;
		const operation = typeof obj.operation === 'string' && obj.operation ? obj.operation : undefined;
		const spec = type !== undefined && operation !== undefined ? this.operation(type, operation) : undefined;
		if (type !== undefined && !spec) this.unknownOperation(i, type, operation);

		// References: ${steps.ID...} adds ID to the dependencies; vars/env/workspace are resolved now.
		const rawParams = obj.parameters === undefined ? {} : obj.parameters;
		const paramsOk = isObject(rawParams);
		let partial: unknown;
		if (paramsOk) {
			const keys = this.keys;
			keys.length = 3;
			keys[0] = 'instructions';
			keys[1] = i;
			keys[2] = 'parameters';
			partial = scanValue(rawParams, keys, 0, this);
			if (partial !== rawParams) this.scoped[i] = 1;
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

		// Dependencies: explicit ones (checked, deduplicated), then inferred ones in order of appearance, each also
		// recorded as an index for the graph.
		this.depStart[i] = this.edgeCount;
		const rawDeps = obj.dependencies;
		// Until a written dependency is dropped or one is inferred, the written array is the list (when it is ours).
		let dependencies: string[] | undefined = this.ownsInput ? undefined : [];
		if (Array.isArray(rawDeps)) {
			for (let k = 0; k < rawDeps.length; k++) {
				const dep: unknown = rawDeps[k];
				const j = typeof dep === 'string' ? indexOf.get(dep) : undefined;
				if (j !== undefined && dep !== id && this.addDependency(i, j)) {
					dependencies?.push(ids[j]);
					continue;
				}
				dependencies ??= (rawDeps as string[]).slice(0, k);
				if (typeof dep !== 'string') continue;
				if (dep === id) {
					problems.push({ code: 'cycle', message: `'${id}' depends on itself`, keys: ['instructions', i, 'dependencies', k] });
				} else if (j === undefined) {
					const hint = indexOf.size <= 5000 ? suggest(dep, indexOf.keys()) : undefined;
					problems.push({
						code: 'missing-dependency',
						message: `depends on '${dep}', which is not a step id${hint ? ` (did you mean '${hint}'?)` : ''}`,
						keys: ['instructions', i, 'dependencies', k],
					});
				}
			}
		}
		if (this.inferred) {
			for (const dep of this.inferred.keys()) {
				const j = indexOf.get(dep) as number;
				if (!this.addDependency(i, j)) continue;
				dependencies ??= Array.isArray(rawDeps) ? (rawDeps as string[]).slice() : [];
				dependencies.push(ids[j]);
			}
			this.origins[i] = this.inferred;
		}
		dependencies ??= Array.isArray(rawDeps) ? (rawDeps as string[]) : [];

		// A written instruction accepted as is becomes the instruction itself (100,000 fewer objects for the GC to
		// move), unless that would change what its written dependencies say (cycle locations read them).
		const inPlace = parsed === obj && obj.id !== undefined && this.ownsInput && (dependencies === rawDeps || (rawDeps === undefined && dependencies.length === 0));
		const ins = inPlace ? complete(obj as RawInstruction, dependencies, i) : build(id, (parsed ?? obj) as RawInstruction, dependencies, i);
		if (problems.length === before) this.staticValue = staticValue;
		return ins;
	}

	/** Records that step i depends on step j; false when it already does. */
	private addDependency(i: number, j: number): boolean {
		if (this.mark[j] === i + 1) return false;
		this.mark[j] = i + 1;
		if (this.edgeCount === this.depList.length) {
			const grown = new Int32Array(2 * this.depList.length);
			grown.set(this.depList);
			this.depList = grown;
		}
		this.depList[this.edgeCount++] = j;
		return true;
	}

	/** The registry's operation, remembering the last pair looked up (neighbouring steps mostly share it). */
	private operation(type: string, operation: string): OperationSpec<never> | undefined {
		if (type !== this.lastType || operation !== this.lastOperation) {
			this.lastType = type;
			this.lastOperation = operation;
			this.lastSpec = this.registry.operation(type, operation);
		}
		return this.lastSpec;
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

/** A written instruction (JSON.parse output, accepted as is) completed in place into the instruction the engine runs. */
function complete(src: RawInstruction, dependencies: string[], i: number): Instruction {
	const ins = src as Instruction;
	if (!isObject(ins.parameters)) ins.parameters = {};
	ins.dependencies = dependencies;
	if (typeof ins.priority !== 'number') ins.priority = 0;
	ins.index = i;
	if (ins.update_context === true && ins.context_key === undefined) ins.context_key = ins.id;
	return ins;
}

/**
 * A new instruction from the parsed one (or, on a workflow with problems, from whatever was written), its keys always
 * in the same order, a generated id first like a written one.
 */
function build(id: string, src: RawInstruction, dependencies: string[], i: number): Instruction {
	const ins: Instruction = {
		id,
		type: src.type ?? '',
		operation: src.operation ?? '',
		parameters: isObject(src.parameters) ? src.parameters : {},
		dependencies,
		priority: typeof src.priority === 'number' ? src.priority : 0,
		index: i,
	};
	if (src.description !== undefined) ins.description = src.description;
	if (src.update_context !== undefined) ins.update_context = src.update_context;
	if (src.context_key !== undefined) ins.context_key = src.context_key;
	else if (src.update_context === true) ins.context_key = id;
	if (src.timeout_ms !== undefined) ins.timeout_ms = src.timeout_ms;
	if (src.retry !== undefined) ins.retry = src.retry;
	if (src.requires_approval !== undefined) ins.requires_approval = src.requires_approval;
	if (src.run_if !== undefined) ins.run_if = src.run_if;
	if (src.idempotent !== undefined) ins.idempotent = src.idempotent;
	if (src.undo !== undefined) ins.undo = src.undo;
	if (src.budget !== undefined) ins.budget = src.budget;
	if (src.resources !== undefined) ins.resources = src.resources;
	return ins;
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
