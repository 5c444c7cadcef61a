// The change between two plans, step by step, as data and as text a person reads before approving a replan.
import type { Instruction } from '../workflow/schema';

export interface StepChange {
	id: string;
	/** One line per changed field: `parameters.command: "npm test" → "npm run test:unit"`. */
	changes: string[];
}

export interface PlanDiff {
	added: string[];
	removed: string[];
	changed: StepChange[];
	unchanged: string[];
	/** No step added, removed or changed. */
	empty: boolean;
	/** `+1 −0 ~1 (3 unchanged)` */
	summary: string;
	/** Several lines: `+ id  type.operation: …`, `- id …`, `~ id` with its changes, `= unchanged: …`. */
	text: string;
}

/** What a plan is for diffing: validated workflows, whose steps all have ids and resolved dependencies. */
export interface DiffablePlan {
	instructions: readonly Pick<Instruction, 'id' | 'type' | 'operation' | 'parameters' | 'dependencies'>[];
}

/** Fields compared besides type, operation, parameters and dependencies. */
const FIELDS = ['description', 'priority', 'run_if', 'requires_approval', 'retry', 'timeout_ms', 'idempotent', 'undo', 'update_context', 'context_key'] as const;
const DEFAULTS: Record<string, unknown> = { priority: 0, run_if: 'success', requires_approval: false, idempotent: false, update_context: false };

/** Steps matched by id: added, removed, changed (with what changed) and unchanged, in the new plan's order. */
export function diffPlans(before: DiffablePlan, after: DiffablePlan): PlanDiff {
	const old = new Map(before.instructions.map((s) => [s.id, s]));
	const now = new Set(after.instructions.map((s) => s.id));
	const added: string[] = [];
	const changed: StepChange[] = [];
	const unchanged: string[] = [];
	const lines: string[] = [];
	for (const step of after.instructions) {
		const prev = old.get(step.id);
		if (!prev) {
			added.push(step.id);
			const deps = step.dependencies.length ? `  (after ${step.dependencies.join(', ')})` : '';
			lines.push(`+ ${step.id}  ${step.type}.${step.operation}: ${preview(step.parameters)}${deps}`);
			continue;
		}
		const changes = stepChanges(prev, step);
		if (changes.length === 0) {
			unchanged.push(step.id);
			continue;
		}
		changed.push({ id: step.id, changes });
		lines.push(`~ ${step.id}  ${step.type}.${step.operation}`);
		for (const c of changes) lines.push(`    ${c}`);
	}
	const removed = before.instructions.filter((s) => !now.has(s.id)).map((s) => s.id);
	for (const id of removed) {
		const s = old.get(id) as DiffablePlan['instructions'][number];
		lines.push(`- ${id}  ${s.type}.${s.operation}: ${preview(s.parameters)}`);
	}
	if (unchanged.length) lines.push(`= unchanged: ${unchanged.join(', ')}`);
	const summary = `+${added.length} −${removed.length} ~${changed.length} (${unchanged.length} unchanged)`;
	const empty = added.length === 0 && removed.length === 0 && changed.length === 0;
	return { added, removed, changed, unchanged, empty, summary, text: [`Plan changes: ${summary}`, ...lines].join('\n') };
}

function stepChanges(a: DiffablePlan['instructions'][number], b: DiffablePlan['instructions'][number]): string[] {
	const out: string[] = [];
	if (a.type !== b.type || a.operation !== b.operation) out.push(`step: ${a.type}.${a.operation} → ${b.type}.${b.operation}`);
	const keys = [...new Set([...Object.keys(a.parameters), ...Object.keys(b.parameters)])];
	for (const k of keys) {
		const x = a.parameters[k];
		const y = b.parameters[k];
		if (same(x, y)) continue;
		if (x === undefined) out.push(`parameters.${k}: added ${show(y)}`);
		else if (y === undefined) out.push(`parameters.${k}: removed (was ${show(x)})`);
		else out.push(`parameters.${k}: ${show(x)} → ${show(y)}`);
	}
	const da = [...a.dependencies].sort();
	const db = [...b.dependencies].sort();
	if (!same(da, db)) {
		const gained = db.filter((d) => !da.includes(d));
		const lost = da.filter((d) => !db.includes(d));
		out.push(`dependencies: ${[...gained.map((d) => `+${d}`), ...lost.map((d) => `−${d}`)].join(', ')} (now: ${db.join(', ') || 'none'})`);
	}
	for (const f of FIELDS) {
		const x = (a as Record<string, unknown>)[f] ?? DEFAULTS[f];
		const y = (b as Record<string, unknown>)[f] ?? DEFAULTS[f];
		if (!same(x, y)) out.push(`${f}: ${show(x)} → ${show(y)}`);
	}
	return out;
}

/** Deep equality of JSON values (key order ignored). */
export function same(x: unknown, y: unknown): boolean {
	if (x === y) return true;
	if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
	if (Array.isArray(x) !== Array.isArray(y)) return false;
	if (Array.isArray(x)) return x.length === (y as unknown[]).length && x.every((v, i) => same(v, (y as unknown[])[i]));
	const kx = Object.keys(x).filter((k) => (x as Record<string, unknown>)[k] !== undefined);
	const ky = Object.keys(y).filter((k) => (y as Record<string, unknown>)[k] !== undefined);
	return kx.length === ky.length && kx.every((k) => same((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]));
}

function show(v: unknown): string {
	if (v === undefined) return '(none)';
	const text = JSON.stringify(v) ?? String(v);
	return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

/** The parameter a person recognises a step by, shortened. */
function preview(p: Record<string, unknown>): string {
	const key = ['command', 'path', 'prompt', 'message', 'value', 'name', 'ms'].find((k) => p[k] !== undefined);
	if (!key) return Object.keys(p).length ? show(p) : '(no parameters)';
	const v = p[key];
	if (typeof v !== 'string') return `${key} ${show(v)}`;
	const text = v.replace(/\s+/g, ' ');
	return `${key} ${JSON.stringify(text.length > 70 ? `${text.slice(0, 69)}…` : text)}`;
}
