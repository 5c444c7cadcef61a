// Parameter values: every ${...} reference checked, ${steps.ID} turned into a dependency, static roots substituted.
import type { PathKey } from './jsonLocation';
import { compileTemplate, resolveReference, stepsShapeProblem, substituteString, unknownRootMessage } from './substitute';
import type { Reference, SubstitutionScope } from './substitute';
import { suggest } from './suggest';
import type { Problem } from './validate';

/** Deepest nesting accepted inside `parameters` and `variables`. */
export const MAX_VALUE_DEPTH = 100;

/** What scanning one step's parameters reads and records; InstructionChecker is the one implementation. */
export interface RefScan {
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

/** Checks references and substitutes the static roots; strings with run-time references stay as written for the engine. */
export function scanValue(value: unknown, keys: PathKey[], depth: number, ctx: RefScan): unknown {
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

/** Reports `variables` nested deeper than MAX_VALUE_DEPTH, without recursion. */
export function checkDepth(value: unknown, keys: PathKey[], problems: Problem[]): void {
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

function defineOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
	if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
	else obj[key] = value;
}
