// An instruction's envelope: a hand-written fast path for the common valid case, zod's verdict and wording otherwise.
import { ID_PATTERN, instructionSchema, RUN_IF, retrySchema, undoSchema } from './schema';
import type { RawInstruction } from './schema';
import { envelopeProblems } from './problems';
import type { Problem } from './problems';

/**
 * instructionSchema's verdict on one instruction of JSON.parse output: hand checks accept exactly the common valid
 * case, and anything they do not accept goes to zod, which decides and words the problems (at `instructions[i]`).
 * Returns the parsed instruction, or undefined after adding the problems.
 */
export function parseInstruction(i: number, raw: unknown, data: unknown, single: boolean, problems: Problem[]): RawInstruction | undefined {
	const quick = quickInstruction(raw);
	if (quick) return quick;
	const result = instructionSchema.safeParse(raw);
	if (result.success) return result.data;
	for (const issue of result.error.issues) problems.push(...envelopeProblems({ ...issue, path: ['instructions', i, ...issue.path] }, data, single));
	return undefined;
}

/**
 * The instruction when instructionSchema certainly accepts it unchanged (retry and undo are parsed by their own
 * schemas, for their defaults), else undefined. Exact only for JSON.parse output: plain objects with own string keys
 * and finite numbers; a `__proto__` key in parameters (which zod strips) is left to zod.
 */
function quickInstruction(raw: unknown): RawInstruction | undefined {
	if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
	const obj = raw as Record<string, unknown>;
	let typed = 0;
	let retry: RawInstruction['retry'];
	let undo: RawInstruction['undo'];
	for (const key in obj) {
		const v = obj[key];
		switch (key) {
			case 'type':
			case 'operation':
				if (typeof v !== 'string' || v.length === 0) return undefined;
				typed++;
				break;
			case 'id':
				if (typeof v !== 'string' || !ID_PATTERN.test(v)) return undefined;
				break;
			case 'parameters':
				if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.hasOwn(v, '__proto__')) return undefined;
				break;
			case 'dependencies':
				if (!Array.isArray(v)) return undefined;
				for (let k = 0; k < v.length; k++) if (typeof v[k] !== 'string') return undefined;
				break;
			case 'priority':
				if (!Number.isSafeInteger(v)) return undefined;
				break;
			case 'timeout_ms':
				if (!Number.isSafeInteger(v) || (v as number) <= 0) return undefined;
				break;
			case 'description':
				if (typeof v !== 'string') return undefined;
				break;
			case 'context_key':
				if (typeof v !== 'string' || v.length === 0) return undefined;
				break;
			case 'update_context':
			case 'requires_approval':
			case 'idempotent':
				if (typeof v !== 'boolean') return undefined;
				break;
			case 'run_if':
				if (!(RUN_IF as readonly unknown[]).includes(v)) return undefined;
				break;
			case 'retry': {
				const r = retrySchema.safeParse(v);
				if (!r.success) return undefined;
				retry = r.data;
				break;
			}
			case 'undo': {
				const r = undoSchema.safeParse(v);
				if (!r.success) return undefined;
				undo = r.data;
				break;
			}
			default:
				return undefined;
		}
	}
	if (typed !== 2) return undefined;
	if (retry === undefined && undo === undefined) return obj as RawInstruction;
	const out = { ...obj } as RawInstruction;
	if (retry !== undefined) out.retry = retry;
	if (undo !== undefined) out.undo = undo;
	return out;
}
