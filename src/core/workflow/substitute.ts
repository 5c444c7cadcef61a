// ${...} substitution: templates are compiled once per string and cached, so the engine's hot path stays cheap.
import { WorkflowError } from '../errors';

/** The roots a `${root...}` reference may start with. */
export const REFERENCE_ROOTS = ['vars', 'env', 'context', 'workspace', 'steps'] as const;
export type ReferenceRoot = (typeof REFERENCE_ROOTS)[number];

/** One `${...}` reference; for `steps`, path is `[id, 'output', ...rest]` (the id is all before the first `output`). */
export interface Reference {
	root: string;
	path: string[];
	raw: string;
}

/** Where references are resolved; `context` and `step` are lookups so the engine can back them with its own maps. */
export interface SubstitutionScope {
	vars: Record<string, unknown>;
	env: NodeJS.ProcessEnv;
	workspace: string;
	context: (key: string) => { found: boolean; value?: unknown };
	step: (id: string) => { found: boolean; output?: unknown };
}

/** A compiled string: literal text and references, in order. */
export interface Template {
	readonly parts: readonly (string | Reference)[];
	/** Set when the whole string is exactly one reference: the result keeps the referenced value's type. */
	readonly whole: Reference | undefined;
	/** Holds a `${steps...}` or `${context...}` reference, which only the running engine can resolve. */
	readonly dynamic: boolean;
}

const MAX_DEPTH = 200;
const CACHE_LIMIT = 50_000;
const cache = new Map<string, Template | string>();
const ROOT_RE = /^[A-Za-z_][A-Za-z0-9_]*/;
const SEGMENT_RE = /^[^.[\]\s]+/;

/** Compiles (and caches) one string; throws WorkflowError 'reference' on malformed `${...}` syntax. */
export function compileTemplate(text: string): Template {
	let entry = cache.get(text);
	if (entry === undefined) {
		entry = compileUncached(text);
		if (cache.size >= CACHE_LIMIT) cache.clear();
		cache.set(text, entry);
	}
	if (typeof entry === 'string') throw new WorkflowError('reference', entry);
	return entry;
}

function compileUncached(text: string): Template | string {
	const parts: (string | Reference)[] = [];
	let literal = '';
	let i = 0;
	let dynamic = false;
	for (;;) {
		const at = text.indexOf('$', i);
		if (at < 0) {
			literal += text.slice(i);
			break;
		}
		literal += text.slice(i, at);
		if (text.startsWith('$${', at)) {
			literal += '${';
			i = at + 3;
			continue;
		}
		if (text.charCodeAt(at + 1) !== 123 /* { */) {
			literal += '$';
			i = at + 1;
			continue;
		}
		const end = text.indexOf('}', at + 2);
		if (end < 0) return `unterminated reference '${clip(text.slice(at))}' (write $\${ for a literal \${)`;
		const raw = text.slice(at, end + 1);
		const ref = parseReference(raw);
		if (typeof ref === 'string') return ref;
		if (ref.root === 'steps' || ref.root === 'context') dynamic = true;
		if (literal) parts.push(literal);
		literal = '';
		parts.push(ref);
		i = end + 1;
	}
	if (literal) parts.push(literal);
	const whole = parts.length === 1 && typeof parts[0] !== 'string' ? parts[0] : undefined;
	return { parts, whole, dynamic };
}

function parseReference(raw: string): Reference | string {
	const inner = raw.slice(2, -1).trim();
	if (!inner) return `empty reference ${raw} (write $\${ for a literal \${)`;
	const rootMatch = ROOT_RE.exec(inner);
	if (!rootMatch) return `malformed reference ${raw}`;
	const root = rootMatch[0];
	const segs: string[] = [];
	let rest = inner.slice(root.length);
	while (rest) {
		if (rest[0] === '.') {
			const m = SEGMENT_RE.exec(rest.slice(1));
			if (!m) return `malformed reference ${raw}: expected a name after '.'`;
			segs.push(m[0]);
			rest = rest.slice(1 + m[0].length);
		} else if (rest[0] === '[') {
			const m = /^\[(\d+)\]/.exec(rest);
			if (!m) return `malformed reference ${raw}: only numeric indices such as [0] may follow '['`;
			segs.push(m[1]);
			rest = rest.slice(m[0].length);
		} else {
			return `malformed reference ${raw}`;
		}
	}
	if (root === 'steps' && segs.length > 0) {
		const out = segs.indexOf('output', 1);
		if (out > 0) return { root, path: [segs.slice(0, out).join('.'), ...segs.slice(out)], raw };
		return { root, path: [segs.join('.')], raw };
	}
	return { root, path: segs, raw };
}

function clip(s: string): string {
	return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/** The message for a reference to an unknown root, shared with static validation. */
export function unknownRootMessage(ref: Reference): string {
	return `unknown reference root '${ref.root}' in ${ref.raw} (known: ${REFERENCE_ROOTS.join(', ')}; write $\${ for a literal \${)`;
}

/** The message for a malformed steps reference (no `.output`), or undefined when it is well formed. */
export function stepsShapeProblem(ref: Reference): string | undefined {
	if (ref.path.length === 0) return `${ref.raw} names no step: write \${steps.ID.output}`;
	if (ref.path[1] !== 'output') return `${ref.raw} must read a step's output: write \${steps.${ref.path[0]}.output}`;
	return undefined;
}

/** Resolves one reference against a scope; throws WorkflowError 'reference' naming it when it is undefined. */
export function resolveReference(ref: Reference, scope: SubstitutionScope): unknown {
	switch (ref.root) {
		case 'vars': {
			const vars = scope.vars;
			for (let n = ref.path.length; n >= 1; n--) {
				const name = n === 1 ? ref.path[0] : ref.path.slice(0, n).join('.');
				if (Object.hasOwn(vars, name)) return walk(vars[name], ref, n, `vars.${name}`);
			}
			throw new WorkflowError('reference', ref.path.length ? `undefined variable '${ref.path[0]}' in ${ref.raw}` : `${ref.raw} names no variable`);
		}
		case 'env': {
			const name = ref.path.join('.');
			if (!name) throw new WorkflowError('reference', `${ref.raw} names no environment variable`);
			const value = Object.hasOwn(scope.env, name) ? scope.env[name] : undefined;
			if (value === undefined) throw new WorkflowError('reference', `environment variable '${name}' is not set (${ref.raw})`);
			return value;
		}
		case 'context': {
			for (let n = ref.path.length; n >= 1; n--) {
				const key = n === 1 ? ref.path[0] : ref.path.slice(0, n).join('.');
				const hit = scope.context(key);
				if (hit.found) return walk(hit.value, ref, n, `context.${key}`);
			}
			throw new WorkflowError('reference', ref.path.length ? `context key '${ref.path.join('.')}' is not set (${ref.raw})` : `${ref.raw} names no context key`);
		}
		case 'workspace':
			if (ref.path.length) throw new WorkflowError('reference', `${ref.raw}: \${workspace} takes no path`);
			return scope.workspace;
		case 'steps': {
			const shape = stepsShapeProblem(ref);
			if (shape) throw new WorkflowError('reference', shape);
			const hit = scope.step(ref.path[0]);
			if (!hit.found) throw new WorkflowError('reference', `step '${ref.path[0]}' has no output yet (${ref.raw})`);
			return walk(hit.output, ref, 2, `steps.${ref.path[0]}.output`);
		}
		default:
			throw new WorkflowError('reference', unknownRootMessage(ref));
	}
}

/** Follows ref.path from segment `from` into a value (object keys, numeric array indices). */
function walk(value: unknown, ref: Reference, from: number, base: string): unknown {
	let cur = value;
	let where = base;
	for (let i = from; i < ref.path.length; i++) {
		const seg = ref.path[i];
		if (Array.isArray(cur)) {
			const idx = /^\d+$/.test(seg) ? Number(seg) : -1;
			if (idx < 0 || idx >= cur.length) throw new WorkflowError('reference', `${where} has no element '${seg}' (${ref.raw})`);
			cur = cur[idx];
		} else if (typeof cur === 'object' && cur !== null && Object.hasOwn(cur, seg)) {
			cur = (cur as Record<string, unknown>)[seg];
		} else {
			throw new WorkflowError('reference', `${where} has no property '${seg}' (${ref.raw})`);
		}
		where = `${where}.${seg}`;
	}
	return cur;
}

/** How a value reads inside a longer string: objects as JSON, undefined as nothing. */
export function stringifyValue(value: unknown): string {
	if (typeof value === 'string') return value;
	if (value === undefined) return '';
	if (value === null || typeof value !== 'object') return String(value);
	try {
		return JSON.stringify(value) ?? '';
	} catch {
		return String(value);
	}
}

/** Evaluates one string (cached compile); a string that is exactly one reference keeps the value's type. */
export function substituteString(text: string, scope: SubstitutionScope): unknown {
	if (!text.includes('${')) return text;
	const tpl = compileTemplate(text);
	if (tpl.whole) return resolveReference(tpl.whole, scope);
	let out = '';
	for (const part of tpl.parts) out += typeof part === 'string' ? part : stringifyValue(resolveReference(part, scope));
	return out;
}

/** Deep substitution of string values (not keys), sharing unchanged subtrees; errors carry location.path (`args[1]`). */
export function substitute(value: unknown, scope: SubstitutionScope): unknown {
	const keys: (string | number)[] = [];
	try {
		return subst(value, scope, keys, 0);
	} catch (err) {
		if (WorkflowError.is(err) && !err.location.path && keys.length) {
			throw new WorkflowError(err.code, err.message, { path: formatKeys(keys) });
		}
		throw err;
	}
}

function subst(value: unknown, scope: SubstitutionScope, keys: (string | number)[], depth: number): unknown {
	if (typeof value === 'string') return value.includes('${') ? substituteString(value, scope) : value;
	if (typeof value !== 'object' || value === null) return value;
	if (depth >= MAX_DEPTH) throw new WorkflowError('reference', `value nested more than ${MAX_DEPTH} levels deep`);
	if (Array.isArray(value)) {
		let out: unknown[] | undefined;
		for (let i = 0; i < value.length; i++) {
			keys.push(i);
			const v = subst(value[i], scope, keys, depth + 1);
			keys.pop();
			if (v !== value[i] && !out) out = value.slice(0, i);
			if (out) out.push(v);
		}
		return out ?? value;
	}
	const obj = value as Record<string, unknown>;
	let out: Record<string, unknown> | undefined;
	const names = Object.keys(obj);
	for (let i = 0; i < names.length; i++) {
		const k = names[i];
		keys.push(k);
		const v = subst(obj[k], scope, keys, depth + 1);
		keys.pop();
		if (v !== obj[k] && !out) {
			out = {};
			for (let j = 0; j < i; j++) setOwn(out, names[j], obj[names[j]]);
		}
		if (out) setOwn(out, k, v);
	}
	return out ?? value;
}

/** Assigns without letting a `__proto__` key change the prototype. */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
	if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
	else obj[key] = value;
}

/** Every reference inside a value, for static analysis; throws WorkflowError 'reference' on malformed syntax. */
export function findReferences(value: unknown): Reference[] {
	const found: Reference[] = [];
	const stack: unknown[] = [value];
	while (stack.length) {
		const v = stack.pop();
		if (typeof v === 'string') {
			if (v.includes('${')) for (const p of compileTemplate(v).parts) if (typeof p !== 'string') found.push(p);
		} else if (Array.isArray(v)) {
			for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
		} else if (typeof v === 'object' && v !== null) {
			const vals = Object.values(v);
			for (let i = vals.length - 1; i >= 0; i--) stack.push(vals[i]);
		}
	}
	return found;
}

/** Cheap check: does any string inside hold `${` (a reference or an escape)? False means substitute is a no-op. */
export function hasTemplates(value: unknown): boolean {
	if (typeof value === 'string') return value.includes('${');
	if (typeof value !== 'object' || value === null) return false;
	const stack: unknown[] = [value];
	while (stack.length) {
		const v = stack.pop();
		if (typeof v === 'string') {
			if (v.includes('${')) return true;
		} else if (typeof v === 'object' && v !== null) {
			for (const c of Array.isArray(v) ? v : Object.values(v)) {
				if (typeof c === 'string') {
					if (c.includes('${')) return true;
				} else if (typeof c === 'object' && c !== null) stack.push(c);
			}
		}
	}
	return false;
}

/** Formats path keys as a JSON path: `instructions[3].parameters["a b"]`. */
export function formatKeys(keys: readonly PropertyKey[]): string {
	let out = '';
	for (const k of keys) out = appendKey(out, k);
	return out;
}

function appendKey(path: string, key: PropertyKey): string {
	if (typeof key === 'number') return `${path}[${key}]`;
	if (typeof key === 'symbol') return `${path}[${String(key)}]`;
	if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) return path ? `${path}.${key}` : key;
	return `${path}[${JSON.stringify(key)}]`;
}
