// Plan: the validated workflow turned into what the scheduler and `qo plan` need, computed once before a run.
import { describeError, StepError } from '../errors';
import type { HandlerRegistry } from '../handlers/registry';
import type { OperationSpec, Touches } from '../handlers/types';
import type { Sandbox } from '../sandbox/types';
import { buildGraph, withDurations, type Graph } from '../workflow/graph';
import { getValidatedGraph, staticParamsOf } from '../workflow/parse';
import type { ExecutionMode, Instruction, OnFailure, UndoCommand, Workflow } from '../workflow/schema';
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
	/**
	 * Nothing to arrange around it: no approval, parameters known now, no external effect, no writes (no path
	 * locks), no retry, timeout or budget. The run takes a shorter path for such steps (see RunExecution.isPlain).
	 */
	readonly plain: boolean;
}

export interface RunSettings {
	mode: ExecutionMode;
	concurrency: number;
	onFailure: OnFailure;
}

export interface Plan {
	readonly workflow: Workflow;
	readonly graph: Graph;
	/** Every step planned. A plain step's entry is built when first asked for: a run of plain steps needs none. */
	readonly steps: readonly PlannedStep[];
	/** Step i planned (built on first use for a plain step). */
	step(index: number): PlannedStep;
	/** What a run needs of each step without its PlannedStep: its operation... */
	readonly ops: readonly OperationSpec<never>[];
	/** ...its parameters as parsed now (undefined when they are resolved at run time)... */
	readonly params: readonly unknown[];
	/** ...and 1 where it is plain (see PlannedStep.plain). */
	readonly plain: Uint8Array;
	readonly settings: RunSettings;
	readonly priority: Int32Array;
	/** Every step has the same priority: the ready queue orders by critical path alone. */
	readonly uniformPriority: boolean;
	readonly runIf: Uint8Array;
	/** Each step's `undo` compensation, by id (only steps that have one), for the run record. */
	readonly undo: Record<string, UndoCommand>;
	/** Some step is an `agent` step (the engine rereads the agent files before such a run). */
	readonly hasAgentSteps: boolean;
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
	/** What an `agent` step is likely to take when its history does not say (the learning store's estimate). */
	agentEstimate?: (ins: Instruction) => number | undefined;
}

/**
 * Plans every step in one pass (a 10,000-step plan runs mostly cold code, where each extra pass costs milliseconds):
 * its operation, parameters (reusing what validation parsed), touches, approval, and the duration estimates. Plain
 * steps get no PlannedStep object until one is asked for: 100,000 of them would be 10 MB for the young generation
 * to copy during the run that follows.
 */
export function planWorkflow(workflow: Workflow, opts: PlanOptions): Plan {
	const instructions = workflow.instructions;
	const n = instructions.length;
	// The graph validation built is reused; only the duration-weighted parts are recomputed, after this pass.
	const structure = getValidatedGraph(workflow) ?? buildGraph(instructions);
	const staticOf = staticParamsOf(workflow);
	const priority = new Int32Array(n);
	const runIf = new Uint8Array(n);
	const plain = new Uint8Array(n);
	const ops: OperationSpec<never>[] = new Array(n);
	const params: unknown[] = new Array(n);
	const built: (PlannedStep | undefined)[] = new Array(n);
	const scope = staticScope(workflow, opts.workspace, opts.env);
	const undo: Record<string, UndoCommand> = {};
	let expected: Map<string, number> | undefined;
	let learned: Map<string, number> | undefined;
	let hasAgentSteps = false;
	let uniformPriority = true;
	let lastType: string | undefined;
	let lastOperation: string | undefined;
	let op: OperationSpec<never> | undefined;
	for (let i = 0; i < n; i++) {
		const ins = instructions[i];
		// Neighbouring steps mostly share their operation: look it up again only when it changes.
		if (ins.type !== lastType || ins.operation !== lastOperation) {
			lastType = ins.type;
			lastOperation = ins.operation;
			op = opts.registry.operation(ins.type, ins.operation);
			if (ins.type === 'agent') hasAgentSteps = true;
		}
		if (!op) throw new StepError('parameters', `unknown operation ${ins.type}.${ins.operation}`, { location: { path: `instructions[${i}]` } });
		ops[i] = op;
		priority[i] = ins.priority;
		if (ins.priority !== priority[0]) uniformPriority = false;
		runIf[i] = ins.run_if === undefined ? RUN_IF_CODE.success : RUN_IF_CODE[ins.run_if];
		if (ins.undo) undo[ins.id] = ins.undo;
		// Durations: the mean of past runs, else (agent steps) what was learned, else what the parameters say.
		const known = staticOf === undefined || ins.index !== i ? undefined : staticOf[i];
		if (op.estimateMs && known !== undefined) {
			const ms = op.estimateMs(known as never);
			if (ms !== undefined) (expected ??= new Map()).set(ins.id, ms);
		}
		if (opts.agentEstimate && ins.type === 'agent') {
			const ms = opts.agentEstimate(ins);
			if (ms !== undefined) (learned ??= new Map()).set(ins.id, ms);
		}
		// The parameters: parsed by validation, else now, else (${steps...}, ${context...}) when the step starts.
		const requested = ins.requires_approval ? 'the step sets requires_approval' : undefined;
		let staticParams = known;
		if (staticParams === undefined) {
			const templated = hasTemplates(ins.parameters);
			if (templated && isDynamic(ins.parameters)) {
				// Show what is known: the operation's view of the raw parameters, with ${steps...} left as written.
				const partial = substitutePartially(ins.parameters, scope);
				built[i] = new Step(i, ins, op, structure.levelOf(i), undefined, true, tryTouches(op, partial), requested, false, partial);
				continue;
			}
			staticParams = parseStatic(i, ins, op, templated ? substitute(ins.parameters, scope) : ins.parameters);
		}
		params[i] = staticParams;
		const touches = op.touches ? op.touches(staticParams as never) : NO_TOUCHES;
		const approval = requested ?? (op.approvalReason ? approvalFor(op, staticParams, opts.sandbox) : undefined);
		// PlannedStep.plain's static part (written out: this loop runs once per step, cold).
		if (approval === undefined && op.effect !== 'external' && touches.writes.length === 0 && ins.retry === undefined && ins.timeout_ms === undefined && ins.budget === undefined && ins.resources === undefined) {
			plain[i] = 1;
		} else built[i] = new Step(i, ins, op, structure.levelOf(i), staticParams, false, touches, approval, false, undefined);
	}
	const graph = withDurations(structure, instructions, combineDurations(opts.durations, learned, expected));
	return new StepPlan(workflow, graph, resolveSettings(workflow, opts.settings), priority, uniformPriority, runIf, undo, hasAgentSteps, ops, params, plain, built);
}

function parseStatic(i: number, ins: Instruction, op: OperationSpec<never>, raw: unknown): unknown {
	const parsed = op.params.safeParse(raw);
	if (!parsed.success) {
		throw new StepError('parameters', `invalid parameters for ${ins.type}.${ins.operation}: ${parsed.error.issues[0]?.message}`, {
			location: { path: `instructions[${i}].parameters` },
		});
	}
	return parsed.data;
}

class StepPlan implements Plan {
	private all: PlannedStep[] | undefined;

	constructor(
		readonly workflow: Workflow,
		readonly graph: Graph,
		readonly settings: RunSettings,
		readonly priority: Int32Array,
		readonly uniformPriority: boolean,
		readonly runIf: Uint8Array,
		readonly undo: Record<string, UndoCommand>,
		readonly hasAgentSteps: boolean,
		readonly ops: readonly OperationSpec<never>[],
		readonly params: readonly unknown[],
		readonly plain: Uint8Array,
		private readonly built: (PlannedStep | undefined)[],
	) {}

	get steps(): readonly PlannedStep[] {
		if (!this.all) {
			const all: PlannedStep[] = new Array(this.ops.length);
			for (let i = 0; i < all.length; i++) all[i] = this.step(i);
			this.all = all;
		}
		return this.all;
	}

	step(i: number): PlannedStep {
		let step = this.built[i];
		if (step === undefined) {
			// A plain step, exactly as planning would have built it (touches are a function of the parameters).
			const op = this.ops[i];
			const params = this.params[i];
			const touches = op.touches ? op.touches(params as never) : NO_TOUCHES;
			step = this.built[i] = new Step(i, this.workflow.instructions[i], op, this.graph.levelOf(i), params, false, touches, undefined, true, undefined);
		}
		return step;
	}
}

/**
 * Step durations for critical paths: the mean of past runs, else what was learned about agents, else what the
 * operation expects from its parameters (a wait of 300 ms), else unknown (one unit).
 */
function combineDurations(
	past: ((id: string) => number | undefined) | undefined,
	learned: Map<string, number> | undefined,
	expected: Map<string, number> | undefined,
): ((id: string) => number | undefined) | undefined {
	// Nothing measured or expected (a new workspace, or only fast steps): no per-step lookups at all.
	if (!learned && !expected) return past;
	return (id) => past?.(id) ?? learned?.get(id) ?? expected?.get(id);
}

const NO_TOUCHES: Touches = Object.freeze({ reads: [], writes: [] }) as Touches;

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
		readonly plain: boolean,
		/** A dynamic step's parameters with what is known substituted (for its summary). */
		private readonly partial: unknown,
	) {}

	get summary(): string {
		return (this.summaryText ??=
			(this.dynamic ? trySummary(this.op, this.partial) : this.op.summary(this.staticParams as never)) ??
			`${this.instruction.type}.${this.instruction.operation} (parameters resolved when it starts)`);
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
