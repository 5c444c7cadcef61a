// Workflow front end: JSON.parse for the data, a location scanner only when a problem needs a line and column.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { WorkflowError } from '../errors';
import type { ErrorLocation } from '../errors';
import type { HandlerRegistry } from '../handlers/registry';
import { formatCycle, graphFromEdges } from './graph';
import type { Graph } from './graph';
import { diagnoseJson, LineIndex, locatePaths } from './jsonLocation';
import type { PathKey } from './jsonLocation';
import { checkDepth } from './references';
import { workflowSchema } from './schema';
import type { Instruction, RawInstruction, Workflow } from './schema';
import { formatKeys } from './substitute';
import type { SubstitutionScope } from './substitute';
import { assignIds, envelopeProblems, InstructionChecker, isObject, parseInstruction } from './validate';
import type { Problem } from './validate';

export { diagnoseJson } from './jsonLocation';
export { MAX_VALUE_DEPTH } from './references';

export interface ParseOptions {
	/** Shown in error locations; also names a single-instruction workflow. */
	file?: string;
	registry: HandlerRegistry;
	/** For `${env.X}`; defaults to process.env. */
	env?: NodeJS.ProcessEnv;
	/** Absolute workspace root, for `${workspace}`. */
	workspace: string;
	/** Variables that override (or add to) the file's, e.g. `qo run --var NAME=VALUE`. */
	variables?: Record<string, unknown>;
}

/**
 * What validation leaves for the engine's plan, kept per instructions array (which a copy of the workflow with other
 * variables still shares), never per step: 100,000 WeakMap entries cost more than the lookups save.
 */
interface Validated {
	instructions: Instruction[];
	count: number;
	graph: Graph;
	/** Parameters zod-parsed at load time, by index; undefined where they need ${steps}/${context} at run time. */
	staticOf: unknown[];
	/** 1 where the parameters had ${vars}/${env}/${workspace} substituted: valid only with the same variables. */
	scoped: Uint8Array;
	variables: Record<string, unknown>;
}
const validated = new WeakMap<Instruction[], Validated>();
/** The most recently validated workflows, weakly: how getStaticParams(step) without its workflow finds the step. */
const recent: WeakRef<Validated>[] = [];
const RECENT_LIMIT = 8;

function entryFor(instructions: Instruction[]): Validated | undefined {
	const entry = validated.get(instructions);
	return entry && instructions.length === entry.count ? entry : undefined;
}

/**
 * Parameters zod-parsed at load time, or undefined when they need ${steps}/${context} or are not known here (then
 * parse them). Pass the step's workflow: the lookup is then O(1) and sure, and parameters that substituted
 * ${vars...} are returned only while the workflow has the variables they were substituted with. Without it, only
 * the last few validated workflows are searched and such parameters are never returned.
 */
export function getStaticParams(step: Instruction, workflow?: Workflow): unknown {
	const i = step.index;
	if (workflow) {
		const entry = entryFor(workflow.instructions);
		if (!entry || entry.instructions[i] !== step) return undefined;
		return entry.scoped[i] && entry.variables !== workflow.variables ? undefined : entry.staticOf[i];
	}
	for (let k = recent.length - 1; k >= 0; k--) {
		const entry = recent[k].deref();
		if (entry && entry.instructions[i] === step) return entry.scoped[i] ? undefined : entry.staticOf[i];
	}
	return undefined;
}

/**
 * getStaticParams(step, workflow) for every step of a workflow at once, by index (undefined where it would give
 * undefined): the workflow's lookup done once, not per step (a plan asks for every step).
 */
export function staticParamsOf(workflow: Workflow): readonly unknown[] | undefined {
	const entry = entryFor(workflow.instructions);
	if (!entry) return undefined;
	const { scoped, staticOf } = entry;
	// entryFor found the parser's own instructions array, its length unchanged: step i is its instructions[i].
	if (entry.variables === workflow.variables) return staticOf;
	// Other variables: parameters that substituted some are not valid for these.
	const out = staticOf.slice();
	for (let i = 0; i < out.length; i++) if (scoped[i]) out[i] = undefined;
	return out;
}

/**
 * The graph built while validating the workflow's instructions (unit durations; graph.ts `withDurations` gives it
 * others), or undefined when the parser did not make that instructions array or it was resized since. The graph
 * stays valid as long as no instruction's id or dependencies are edited.
 */
export function getValidatedGraph(workflow: Workflow): Graph | undefined {
	return entryFor(workflow.instructions)?.graph;
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
// Validation: the checks of validate.ts, in order, over the whole workflow

function validateWorkflow(input: unknown, opts: ParseOptions, text: string | undefined): Workflow {
	const problems: Problem[] = [];
	let data = input;
	const single = isSingleInstruction(input);
	if (single) {
		const { $schema, ...instruction } = input;
		data = { name: singleName(opts.file, instruction), instructions: [typeof $schema === 'string' ? instruction : input] };
	}

	const root = isObject(data) ? data : {};
	const rawInstructions: unknown[] = Array.isArray(root.instructions) ? root.instructions : [];
	// JSON text holds only plain data, for which parseInstruction's hand checks are exact: zod then sees the envelope
	// and only the instructions those checks do not accept. Anything else is checked by zod as a whole.
	const quick = text !== undefined && Array.isArray(root.instructions);
	const envelope = workflowSchema.safeParse(quick ? { ...root, instructions: [] } : data);
	if (!envelope.success) {
		for (const issue of envelope.error.issues) problems.push(...envelopeProblems(issue, data, single));
	}
	const n = rawInstructions.length;
	let parsed: (RawInstruction | undefined)[] | undefined;
	if (quick) {
		parsed = new Array(n);
		for (let i = 0; i < n; i++) parsed[i] = parseInstruction(i, rawInstructions[i], data, single, problems);
	} else if (envelope.success) {
		parsed = envelope.data.instructions;
	}
	const declared = envelope.success ? (envelope.data.variables ?? {}) : isObject(root.variables) ? root.variables : {};
	const variables = opts.variables ? { ...declared, ...opts.variables } : declared;
	checkDepth(variables, ['variables'], problems);

	const { ids, indexOf } = assignIds(rawInstructions, problems);
	const scope: SubstitutionScope = {
		vars: variables,
		env: opts.env ?? process.env,
		workspace: opts.workspace,
		context: () => ({ found: false }),
		step: () => ({ found: false }),
	};
	const checker = new InstructionChecker(ids, indexOf, scope, opts.registry, problems, quick);
	const instructions: Instruction[] = new Array(n);
	const staticOf: unknown[] = new Array(n);
	for (let i = 0; i < n; i++) {
		instructions[i] = checker.check(i, rawInstructions[i], parsed?.[i]);
		staticOf[i] = checker.staticValue;
	}

	// The dependencies are already indices, so the cycle check builds the graph the engine's plan reuses.
	const { graph, cycles } = graphFromEdges(instructions, indexOf, checker.edges());
	for (const cycle of cycles ?? []) {
		const from = indexOf.get(cycle[0]) ?? 0;
		const raw = rawInstructions[from];
		const k = isObject(raw) && Array.isArray(raw.dependencies) ? raw.dependencies.indexOf(cycle[1]) : -1;
		const origin = checker.origins[from]?.get(cycle[1]);
		const keys: PathKey[] = k >= 0 ? ['instructions', from, 'dependencies', k] : (origin ?? ['instructions', from]);
		problems.push({ code: 'cycle', message: `dependency cycle: ${formatCycle(cycle)}`, keys });
	}

	if (problems.length || !graph) throw toError(problems, text, opts.file, single);
	const wf = envelope.success ? envelope.data : undefined;
	const workflow: Workflow = {
		name: wf?.name ?? '',
		variables,
		settings: wf?.settings ?? {},
		instructions,
	};
	if (wf?.description !== undefined) workflow.description = wf.description;
	remember({ instructions, count: n, graph, staticOf, scoped: checker.scoped, variables });
	return workflow;
}

function remember(entry: Validated): void {
	validated.set(entry.instructions, entry);
	for (let k = recent.length - 1; k >= 0; k--) if (!recent[k].deref()) recent.splice(k, 1);
	if (recent.length >= RECENT_LIMIT) recent.shift();
	recent.push(new WeakRef(entry));
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

// ---------------------------------------------------------------------------------------------------------------
// Errors with locations

function toError(problems: Problem[], text: string | undefined, file: string | undefined, single: boolean): WorkflowError {
	const located = problems.map((p, i) => {
		const keys = single && p.keys[0] === 'instructions' && p.keys[1] === 0 ? p.keys.slice(2) : p.keys;
		return { p, keys, i, offset: -1 };
	});
	if (text !== undefined) {
		const offsets = locatePaths(text, located.map((l) => ({ keys: l.keys, atKey: l.p.atKey })));
		for (let k = 0; k < located.length; k++) located[k].offset = offsets[k];
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

// ---------------------------------------------------------------------------------------------------------------
// Malformed JSON

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
