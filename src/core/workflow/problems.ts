// zod issues → Problems: a located, worded complaint per issue, with "did you mean" hints for unknown keys.
import { z } from 'zod';
import type { WorkflowErrorCode } from '../errors';
import type { PathKey } from './jsonLocation';
import { instructionSchema, retrySchema, scheduleObjectSchema, settingsSchema, undoSchema, workflowSchema } from './schema';
import { suggest } from './suggest';

/** One thing wrong with a workflow, at a JSON path; parse.ts gathers them into one located WorkflowError. */
export interface Problem {
	code: WorkflowErrorCode;
	message: string;
	keys: PathKey[];
	/** Point at the property name rather than its value (unknown properties). */
	atKey?: boolean;
}

const KNOWN_KEYS = {
	workflow: Object.keys(workflowSchema.shape),
	instruction: Object.keys(instructionSchema.shape),
	settings: Object.keys(settingsSchema.shape),
	retry: Object.keys(retrySchema.shape),
	undo: Object.keys(undoSchema.shape),
	schedule: Object.keys(scheduleObjectSchema.shape),
};

/** Problems for an issue of the workflow envelope (the whole file, or an instruction's own properties). */
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
	if (issue.code === 'invalid_union' && path[path.length - 1] === 'schedule') return scheduleProblems(data, path);
	let known: string[] | undefined;
	if (issue.code === 'unrecognized_keys') {
		const last = path[path.length - 1];
		if (path.length === 0) known = KNOWN_KEYS.workflow;
		else if (path.length === 2 && path[0] === 'instructions') known = single ? [...KNOWN_KEYS.instruction, '$schema'] : KNOWN_KEYS.instruction;
		else if (last === 'settings' || last === 'retry' || last === 'undo' || last === 'schedule') known = KNOWN_KEYS[last];
	}
	return issueProblems(issue, data, [], 'property', known);
}

/** A union's "Invalid input" said better: the object form's own complaints, or what a schedule may be. */
function scheduleProblems(data: unknown, path: PathKey[]): Problem[] {
	const value = valueAt(data, path);
	const parsed = isObject(value) ? scheduleObjectSchema.safeParse(value) : undefined;
	if (parsed && !parsed.success) {
		return parsed.error.issues.flatMap((i) => issueProblems(i, value, path, 'property', KNOWN_KEYS.schedule)).map((p) => ({ ...p, code: 'schema' as const }));
	}
	return [{ code: 'schema', message: 'a schedule is a cron expression such as "0 3 * * *", or { "cron": "...", "timezone"?: "Europe/Paris", "policy"?: "skip" | "queue" | "cancel-running" }', keys: path }];
}

/** Problems for one zod issue at `prefix` of `root`: unknown keys get a hint, a missing value names what is missing. */
export function issueProblems(issue: z.core.$ZodIssue, root: unknown, prefix: PathKey[], noun: string, known: string[] | undefined): Problem[] {
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

/** An object schema's keys, for "did you mean" hints on parameters. */
export function topKeys(schema: z.ZodType): string[] | undefined {
	return schema instanceof z.ZodObject ? Object.keys(schema.shape).sort() : undefined;
}

export function isObject(v: unknown): v is Record<string, unknown> {
	return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The value at `path` inside `root`, own properties only; undefined when any step is missing. */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
	let cur = root;
	for (const k of path) {
		if (typeof cur !== 'object' || cur === null || typeof k === 'symbol' || !Object.hasOwn(cur, k)) return undefined;
		cur = (cur as Record<string, unknown>)[k as string];
	}
	return cur;
}
