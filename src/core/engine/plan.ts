// Plan: the validated workflow turned into what the scheduler and `qo plan` need, computed once before a run.
import { describeError, StepError } from '../errors';
import type { HandlerRegistry } from '../handlers/registry';
import type { OperationSpec, Touches } from '../handlers/types';
import type { Sandbox } from '../sandbox/types';
import { buildGraph, withDurations, type Graph } from '../workflow/graph';
import { getStaticParams, getValidatedGraph } from '../workflow/parse';
import type { ExecutionMode, Instruction, OnFailure, Workflow } from '../workflow/schema';
import { findReferences, hasTemplates, substitute, type SubstitutionScope } from '../workflow/substitute';
import { RUN_IF_CODE } from './scheduler';

export interface PlannedStep {
	readonly index: number;
	readonly instruction: Instruction;
	readonly op: OperationSpec<never>;
	readonly level: number;
	/** Parameters parsed by the operation's schema, when they depend on nothing known only at run time. */
	readonly staticParams: unknown;
	/** Parameters reference `${steps...}` or `${context...}`: substitute and parse when the step starts. */
	readonly dynamic: boolean;
	/** One line: what the step will do ("write src/a.ts", "npm test in ."). */
	readonly summary: string;
	readonly touches: Touches;
	/** Why this step must be approved before it runs, or undefined. */
	readonly approval: string | undefined;
}

export interface RunSettings {
	mode: ExecutionMode;
	concurrency: number;
	onFailure: OnFailure;
}

export interface Plan {
	readonly workflow: Workflow;
	readonly graph: Graph;
	readonly steps: PlannedStep[];
	readonly settings: RunSettings;
	readonly priority: Int32Array;
	readonly runIf: Uint8Array;
}

export const DEFAULT_CONCURRENCY = 4;

export function resolveSettings(workflow: Workflow, overrides: Partial<RunSettings> = {}): RunSettings {
	const s = workflow.settings;
	return {
		mode: overrides.mode ?? s.mode ?? 'parallel',
		concurrency: overrides.concurrency ?? s.max_parallel ?? DEFAULT_CONCURRENCY,
		onFailure: overrides.onFailure ?? s.on_failure ?? 'stop',
	};
}

/** Scope for parameters known before the run: vars, env and workspace; steps and context are not. */
export function staticScope(workflow: Workflow, workspace: string, env: NodeJS.ProcessEnv): SubstitutionScope {
	return {
		vars: workflow.variables,
		env,
		workspace,
		context: () => ({ found: false }),
		step: () => ({ found: false }),
	};
}

function isDynamic(params: Record<string, unknown>): boolean {
	return findReferences(params).some((r) => r.root === 'steps' || r.root === 'context');
}

export interface PlanOptions {
	registry: HandlerRegistry;
	sandbox: Sandbox;
	workspace: string;
	env: NodeJS.ProcessEnv;
	settings?: Partial<RunSettings>;
	/** Past mean durations (ms) by step id, for critical-path estimates. */
	durations?: (id: string) => number | undefined;
}

export function planWorkflow(workflow: Workflow, opts: PlanOptions): Plan {
	const durations = durationEstimates(workflow, opts);
	// The graph validation built is reused; only the duration-weighted parts are recomputed.
	const validated = getValidatedGraph(workflow);
	const graph = validated ? withDurations(validated, workflow.instructions, durations) : buildGraph(workflow.instructions, durations);
	const n = workflow.instructions.length;
	const priority = new Int32Array(n);
	const runIf = new Uint8Array(n);
	const scope = staticScope(workflow, opts.workspace, opts.env);
	const steps: PlannedStep[] = new Array(n);
	for (let i = 0; i < n; i++) {
		const ins = workflow.instructions[i];
		const op = opts.registry.operation(ins.type, ins.operation);
		if (!op) throw new StepError('parameters', `unknown operation ${ins.type}.${ins.operation}`, { location: { path: `instructions[${i}]` } });
		priority[i] = ins.priority;
		runIf[i] = RUN_IF_CODE[ins.run_if ?? 'success'];
		steps[i] = planStep(i, ins, op, graph.levels[i], scope, opts.sandbox, workflow);
	}
	return { workflow, graph, steps, settings: resolveSettings(workflow, opts.settings), priority, runIf };
}

/**
 * Step durations for critical paths: the mean of past runs, else what the operation expects from its parameters
 * (a wait of 300 ms), else unknown (one unit).
 */
function durationEstimates(workflow: Workflow, opts: PlanOptions): ((id: string) => number | undefined) | undefined {
	let expected: Map<string, number> | undefined;
	for (const ins of workflow.instructions) {
		const op = opts.registry.operation(ins.type, ins.operation);
		if (!op?.estimateMs) continue;
		const params = getStaticParams(ins, workflow);
		const ms = params === undefined ? undefined : op.estimateMs(params as never);
		if (ms !== undefined) (expected ??= new Map()).set(ins.id, ms);
	}
	const past = opts.durations;
	if (!expected) return past;
	const known = expected;
	return (id) => past?.(id) ?? known.get(id);
}

const NO_TOUCHES: Touches = Object.freeze({ reads: [], writes: [] }) as Touches;

function planStep(
	i: number,
	ins: Instruction,
	op: OperationSpec<never>,
	level: number,
	scope: SubstitutionScope,
	sandbox: Sandbox,
	workflow: Workflow,
): PlannedStep {
	const templated = hasTemplates(ins.parameters);
	// The parser already parsed static parameters; a workflow read back from a journal is parsed again here.
	let staticParams = getStaticParams(ins, workflow);
	const dynamic = templated && staticParams === undefined && isDynamic(ins.parameters);
	if (!dynamic && staticParams === undefined) {
		const raw = templated ? substitute(ins.parameters, scope) : ins.parameters;
		const parsed = op.params.safeParse(raw);
		if (!parsed.success) {
			throw new StepError('parameters', `invalid parameters for ${ins.type}.${ins.operation}: ${parsed.error.issues[0]?.message}`, {
				location: { path: `instructions[${i}].parameters` },
			});
		}
		staticParams = parsed.data;
	}
	const requested = ins.requires_approval ? 'the step sets requires_approval' : undefined;
	if (dynamic) {
		// Show what is known: the operation's view of the raw parameters, with ${steps...} left as written.
		const partial = substitutePartially(ins.parameters, scope);
		return new Step(i, ins, op, level, undefined, true, tryTouches(op, partial), requested, () => trySummary(op, partial));
	}
	const touches = op.touches ? op.touches(staticParams as never) : NO_TOUCHES;
	const approval = requested ?? (op.approvalReason ? approvalFor(op, staticParams, sandbox) : undefined);
	return new Step(i, ins, op, level, staticParams, false, touches, approval, () => op.summary(staticParams as never));
}

/** A planned step; its one-line summary is built only when something shows it. */
class Step implements PlannedStep {
	private summaryText: string | undefined;
	constructor(
		readonly index: number,
		readonly instruction: Instruction,
		readonly op: OperationSpec<never>,
		readonly level: number,
		readonly staticParams: unknown,
		readonly dynamic: boolean,
		readonly touches: Touches,
		readonly approval: string | undefined,
		private readonly describe: () => string | undefined,
	) {}

	get summary(): string {
		return (this.summaryText ??= this.describe() ?? `${this.instruction.type}.${this.instruction.operation} (parameters resolved when it starts)`);
	}
}

function substitutePartially(params: Record<string, unknown>, scope: SubstitutionScope): unknown {
	const keep: SubstitutionScope = {
		...scope,
		context: () => ({ found: false }),
		step: () => ({ found: false }),
	};
	const walk = (value: unknown): unknown => {
		if (typeof value === 'string') {
			try {
				return substitute(value, keep);
			} catch {
				// Resolve what is known now (vars, env, workspace) and leave ${steps...} / ${context...} as written.
				return value.replace(/(?<!\$)\$\{[^}]*\}/g, (ref) => {
					try {
						const v = substitute(ref, keep);
						return typeof v === 'string' ? v : JSON.stringify(v);
					} catch {
						return ref;
					}
				});
			}
		}
		if (Array.isArray(value)) return value.map(walk);
		if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
		return value;
	};
	return walk(params);
}

function trySummary(op: OperationSpec<never>, params: unknown): string | undefined {
	try {
		return op.summary(params as never);
	} catch {
		return undefined;
	}
}

function tryTouches(op: OperationSpec<never>, params: unknown): Touches {
	try {
		return op.touches?.(params as never) ?? NO_TOUCHES;
	} catch {
		return NO_TOUCHES;
	}
}

/** The policy's reason to ask before running these parameters, if any. */
export function approvalFor(op: OperationSpec<never>, params: unknown, sandbox: Sandbox): string | undefined {
	try {
		return op.approvalReason?.(params as never, sandbox);
	} catch (err) {
		return `could not check the approval policy: ${describeError(err)}`;
	}
}
