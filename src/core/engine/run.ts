// One run's lifecycle: the scheduler drives, each step goes approval → parameters → attempts → journal → events.
import { describeError, SandboxError, StepError, WorkflowError } from '../errors';
import type { AgentAssignment, StepDecision, ToolStep, Touches } from '../handlers/types';
import { runToolStep } from './toolSteps';
import { systemClock, type DecisionAnswer, type DecisionRequest } from '../ports';
import type { LlmClient, LlmUsage } from '../services/llm/client';
import { costOf } from '../services/llm/pricing';
import { StepEndsBatch } from '../state/journal';
import type { Instruction } from '../workflow/schema';
import { substitute, type SubstitutionScope } from '../workflow/substitute';
import type { Spend } from './budget';
import { RunBudget } from './runBudget';
import { approvalReason, askDecision, requestDecision, type ApprovalNeed } from './approval';
import type { RunStatus, StepState } from './events';
import type { Plan, PlannedStep } from './plan';
import { PathLocks, resourceClaim } from './pathLocks';
import { backoffDelay } from './retry';
import type { RunInputs, RunJournal, RunOutcome, RunServices, RunTransaction } from './runTypes';
import { runScheduler, Status, type Outcome } from './scheduler';
import { parseParams, StepCtx, stateOf, touchesOf } from './stepContext';

export type { RunInputs, RunJournal, RunOutcome, RunServices, RunTransaction } from './runTypes';
export { stateOf } from './stepContext';

/** Number of scheduler status codes (see Status). */
const STATUS_CODES = 8;

/** Pure step ends per batched journal record. */
const PURE_BATCH = 4096;

export class RunExecution {
	readonly runId: string;
	readonly services: RunServices;
	readonly tx: RunTransaction;
	readonly context: Map<string, unknown>;
	private readonly plan: Plan;
	readonly journal: RunJournal;
	/** Output of each finished step by index; undefined = none yet (a step without output stores null). */
	private readonly outputs: unknown[];
	private readonly durations: Float64Array;
	private readonly scope: SubstitutionScope;
	private readonly signal: AbortSignal;
	private readonly controller = new AbortController();
	private rejected = 0;
	private failedForOtherReasons = 0;
	private firstMessage: string | undefined;
	private decisionSeq = 0;
	readonly locks: PathLocks;
	private readonly childCounts = new Map<string, number>();
	private readonly instructions: Instruction[];
	private readonly pureEnds = new StepEndsBatch();
	private readonly budget: RunBudget;
	/** Why the run was stopped from inside (a budget's stop threshold); the run then ends failed, not cancelled. */
	private stopMessage: string | undefined;
	/** The run's header is durable (always, except at the start of a new run): steps with effects may start. */
	private headerDurable: boolean;
	/** The clock for step times: Date.now itself for the system clock (a call less, once or twice per step). */
	private readonly now: () => number;
	/** The clock as read by the step that just finished, valid while the steps it releases start (see finishPlain). */
	private turnClock = false;
	private turnNow = 0;
	private lastEnd = 0;
	/** The longest step duration so far (ms). */
	private longest = 0;
	/** No budget watches step starts: plain steps may take the short path. */
	private readonly plainSteps: boolean;
	/** Some steps were edited by a decision or are in doubt after a crash (a resumed run): check each step. */
	private readonly resumeChecks: boolean;

	constructor(private readonly inputs: RunInputs) {
		this.runId = inputs.runId;
		this.services = inputs.services;
		this.plan = inputs.plan;
		this.journal = inputs.journal;
		this.tx = inputs.tx;
		this.context = inputs.context;
		this.instructions = this.plan.workflow.instructions;
		this.outputs = new Array(this.instructions.length);
		if (inputs.outputs) for (const [i, out] of inputs.outputs) this.outputs[i] = out;
		this.durations = new Float64Array(this.instructions.length).fill(NaN);
		this.signal = inputs.signal ? AbortSignal.any([inputs.signal, this.controller.signal]) : this.controller.signal;
		this.locks = inputs.services.locks ?? new PathLocks();
		const clock = this.services.clock;
		this.now = clock === systemClock ? Date.now : () => clock.now();
		this.headerDurable = inputs.started === undefined;
		this.resumeChecks = (inputs.editedParams?.size ?? 0) > 0 || (inputs.inDoubt?.size ?? 0) > 0;
		// A header that cannot be written stops the run: it never started (execute() reports the error).
		inputs.started?.then(
			() => (this.headerDurable = true),
			(err: unknown) => this.controller.abort(err),
		);
		this.budget = new RunBudget(
			{
				runId: this.runId,
				services: this.services,
				journal: this.journal,
				decideInStep: (step, attempt, request, signal) => this.decideInStep(step, attempt, request, signal),
				stopRun: (message) => this.stopRun(message),
			},
			this.plan.workflow.settings,
			this.plan.workflow.instructions,
			this.services.clock.now(),
		);
		this.plainSteps = !this.budget.watchesStarts && this.services.resources === undefined;
		const indexOf = this.plan.graph.indexOf;
		this.scope = {
			vars: this.plan.workflow.variables,
			env: this.services.env,
			workspace: this.services.workspace,
			context: (key) => (this.context.has(key) ? { found: true, value: this.context.get(key) } : { found: false }),
			step: (id) => {
				const i = indexOf.get(id);
				const output = i === undefined ? undefined : this.outputs[i];
				return output === undefined ? { found: false } : { found: true, output };
			},
		};
	}

	/** Stops the run: running steps are aborted (processes killed), the rest cancelled. */
	cancel(reason = 'cancelled by user'): void {
		this.controller.abort(new StepError('cancelled', reason));
	}

	/** Whether a step set a context key, so the global context must be saved. */
	contextChanged = false;

	setContext(key: string, value: unknown): void {
		this.contextChanged = true;
		this.context.set(key, value);
		this.journal.append({ t: 'context', key, value });
	}

	/** An LLM response's tokens and cost, counted against the step, its agent and the run (once), and announced. */
	recordUsage(stepId: string, model: string, usage: LlmUsage): void {
		this.budget.record(stepId, model, usage);
	}

	/** The run's LLM client as one step attempt sees it: budget-gated, reserving, recording. */
	llmFor(step: Instruction, attempt: number, signal: AbortSignal): LlmClient | undefined {
		const llm = this.services.llm;
		return llm && this.budget.wrap(llm, step, attempt, signal);
	}

	/** Attributes a step's further LLM use to an agent (for per-agent accounting and budgets). */
	setAgent(stepId: string, agent: string): void {
		this.budget.setAgent(stepId, agent);
	}

	agentOf(stepId: string): string | undefined {
		return this.budget.agentOf(stepId);
	}

	/** Records and announces which agent took a step, and why. */
	assignAgent(stepId: string, assignment: AgentAssignment): void {
		this.setAgent(stepId, assignment.agent);
		this.journal.append({ t: 'allocation', id: stepId, ...assignment });
		this.services.logger.log('info', 'agents', `${stepId} → ${assignment.agent}: ${assignment.reason}`);
		if (this.services.events.active) this.services.events.emit({ type: 'allocation', runId: this.runId, id: stepId, assignment });
	}

	nextChild(parentId: string): number {
		const n = (this.childCounts.get(parentId) ?? 0) + 1;
		this.childCounts.set(parentId, n);
		return n;
	}

	/** Undoes the workspace changes of a step's tool steps so far (see Transaction.undoSteps). */
	async undoToolSteps(parentId: string): Promise<string[]> {
		const n = this.childCounts.get(parentId) ?? 0;
		const ids = Array.from({ length: n }, (_, k) => `${parentId}.${k + 1}`);
		await this.tx.undoSteps(ids, `the changes of ${parentId}`);
		this.services.logger.log('info', 'run', `undid the changes of ${parentId}'s tool steps`);
		return ids;
	}

	/** Runs a tool call of a running step as its child step (see toolSteps.ts). */
	runTool(parent: Instruction, call: ToolStep, signal: AbortSignal): Promise<unknown> {
		// A tool step's own tool steps sit at the level of the planned step they all come from.
		let id = parent.id;
		let index = this.plan.graph.indexOf.get(id);
		while (index === undefined && /\.\d+$/.test(id)) index = this.plan.graph.indexOf.get((id = id.replace(/\.\d+$/, '')));
		return runToolStep(this, parent, index === undefined ? 0 : this.plan.graph.levelOf(index), call, signal);
	}

	/** Stops the run from inside: running steps are aborted, the rest cancelled, and the run ends failed. */
	stopRun(message: string): void {
		if (this.stopMessage !== undefined) return;
		this.stopMessage = message;
		this.services.logger.log('warn', 'run', `stopping the run: ${message}`);
		this.controller.abort(new StepError('budget', message));
	}

	/** A decision a running step asks for (a proposed change, a budget pause): waiting while it is open, then running. */
	async decideInStep(step: Instruction, attempt: number, ask: StepDecision, signal: AbortSignal): Promise<DecisionAnswer> {
		const events = this.services.events;
		const emit = (state: StepState, message?: string) => {
			if (events.active) events.emit({ type: 'step', runId: this.runId, id: step.id, state, attempt, at: this.services.clock.now(), message });
		};
		emit('waiting', ask.reason);
		const request: DecisionRequest = {
			id: `${this.runId}:${step.id}:${++this.decisionSeq}`,
			runId: this.runId,
			stepId: step.id,
			kind: ask.kind,
			reason: ask.reason,
			summary: ask.summary,
			type: step.type,
			operation: step.operation,
			parameters: ask.parameters ?? step.parameters,
			...(ask.rule ? { rule: ask.rule } : {}),
			...(ask.changes ? { changes: ask.changes } : {}),
			...(ask.details ? { details: ask.details } : {}),
		};
		try {
			return await requestDecision({ runId: this.runId, services: this.services, journal: this.journal, signal }, request);
		} finally {
			if (!signal.aborted) emit('running');
		}
	}

	async execute(): Promise<RunOutcome> {
		const { plan, services } = this;
		const started = services.clock.now();
		const n = this.instructions.length;
		const events = services.events;
		if (events.active) {
			events.emit({
				type: 'run-started',
				runId: this.runId,
				workflow: plan.workflow.name,
				file: plan.workflow.file,
				resumed: this.inputs.resumed ?? false,
				steps: plan.steps.map((s) => ({
					id: s.instruction.id,
					type: s.instruction.type,
					operation: s.instruction.operation,
					dependencies: s.instruction.dependencies,
					level: s.level,
				})),
				criticalPath: plan.graph.criticalPath,
				levels: plan.graph.levelCount,
				concurrency: plan.settings.concurrency,
				mode: plan.settings.mode,
			});
			if (this.inputs.initial) {
				for (let i = 0; i < n; i++) {
					const s = this.inputs.initial[i];
					if (s === Status.Succeeded) this.emitStep(i, 'succeeded', 0, undefined, 'done in an earlier attempt');
				}
			}
		}
		this.budget.start();
		this.locks.runStarted();
		const result = await runScheduler(
			{
				count: n,
				depStart: plan.graph.depStart,
				depList: plan.graph.depList,
				dependentStart: plan.graph.dependentStart,
				dependentList: plan.graph.dependentList,
				priority: plan.priority,
				uniformPriority: plan.uniformPriority,
				remaining: plan.graph.remaining,
				runIf: plan.runIf,
			},
			{
				execute: this.runStep,
				onQueued: events.active ? (i) => this.emitStep(i, 'queued', 0) : undefined,
				onSkipped: (i, reason) => this.finishUnrun(i, 'skipped', reason),
				onCancelled: (i) => this.finishUnrun(i, 'cancelled', 'the run was cancelled'),
				onConcurrency: (limit, reason) => {
					services.logger.log('info', 'scheduler', `concurrency ${limit}: ${reason}`);
					if (events.active) events.emit({ type: 'concurrency', runId: this.runId, limit, reason });
				},
			},
			{
				mode: plan.settings.mode,
				concurrency: plan.settings.concurrency,
				onFailure: plan.settings.onFailure,
				signal: this.signal,
				initial: this.inputs.initial,
				loadProbe: services.loadProbe,
				nameOf: (i) => this.instructions[i].id,
			},
		);
		this.budget.stop();
		this.locks.runEnded();
		this.flushPureEnds();
		// Tallied by status code (a string-keyed count per step is a slow generic store 100,000 times), in order of first
		// appearance as before.
		const tally = new Int32Array(STATUS_CODES);
		const order: number[] = [];
		for (let i = 0; i < n; i++) if (tally[result.status[i]]++ === 0) order.push(result.status[i]);
		const counts: Partial<Record<StepState, number>> = {};
		for (const code of order) counts[stateOf(code)] = tally[code];
		let status: RunStatus = 'succeeded';
		if (this.stopMessage !== undefined) status = 'failed';
		else if (result.cancelled) status = 'cancelled';
		else if (this.failedForOtherReasons > 0) status = 'failed';
		else if (this.rejected > 0) status = 'rejected';
		const durationMs = services.clock.now() - started;
		return {
			status,
			statuses: result.status,
			counts,
			durationMs,
			message: this.stopMessage ?? (result.cancelled ? 'the run was cancelled' : this.firstMessage),
			durations: this.durations,
			longestMs: this.longest,
			usage: this.budget.usage(),
		};
	}

	private emitStep(i: number, state: StepState, attempt: number, durationMs?: number, message?: string): void {
		this.services.events.emit({
			type: 'step',
			runId: this.runId,
			id: this.instructions[i].id,
			state,
			attempt,
			at: this.services.clock.now(),
			durationMs,
			message,
		});
	}

	private finishUnrun(i: number, status: 'skipped' | 'cancelled', reason: string): void {
		const id = this.instructions[i].id;
		this.journal.append({ t: 'step-end', id, status, attempt: 0, at: this.services.clock.now(), durationMs: 0, error: reason });
		if (this.services.events.active) this.emitStep(i, status, 0, undefined, reason);
	}

	private fail(i: number, attempt: number, started: number, err: unknown): Outcome {
		const id = this.instructions[i].id;
		const message = describeError(err);
		const cancelled = this.signal.aborted && !(StepError.is(err, 'timeout'));
		const durationMs = this.services.clock.now() - started;
		if (StepError.is(err, 'rejected')) this.rejected++;
		else if (!cancelled) this.failedForOtherReasons++;
		this.firstMessage ??= `${id}: ${message}`;
		const status = cancelled ? 'cancelled' : 'failed';
		this.journal.append({ t: 'step-end', id, status, attempt, at: this.services.clock.now(), durationMs, error: message });
		this.services.logger.log(cancelled ? 'info' : 'error', 'run', `${id} ${status}: ${message}`);
		if (this.services.events.active) this.emitStep(i, status, attempt, durationMs, message);
		return cancelled ? Status.Cancelled : Status.Failed;
	}

	/** Runs one step to a final outcome and reports it through `done`. Plain steps take a path with a single promise. */
	// An arrow property, handed to the scheduler as is: one call less per step.
	private readonly runStep = (i: number, done: (i: number, outcome: Outcome) => void): void => {
		const plan = this.plan;
		const op = plan.ops[i];
		// Another run executing beside this one may be writing what a plain step reads: that read takes the full path.
		if (
			!(plan.plain[i] === 1 && this.plainSteps && (this.headerDurable || op.effect === 'none') && !(this.resumeChecks && this.editedOrInDoubt(i))) ||
			(this.locks.activeRuns > 1 && plan.step(i).touches.reads.length > 0)
		) {
			this.runFullStep(i).then(
				(outcome) => done(i, outcome),
				(err) => done(i, this.fail(i, 0, this.services.clock.now(), err)),
			);
			return;
		}
		const t0 = this.turnClock ? this.turnNow : this.now();
		if (this.services.events.active) this.emitStep(i, 'running', 1);
		let pending: Promise<unknown>;
		try {
			pending = op.run(plan.params[i] as never, new StepCtx(this, this.instructions[i], 1, this.signal));
		} catch (err) {
			done(i, this.fail(i, 1, t0, err));
			return;
		}
		pending.then(
			(output) => this.finishPlain(i, t0, output, done),
			(err) => done(i, this.fail(i, 1, t0, err)),
		);
	};

	/**
	 * A plain step succeeded: its end time is also the start time of the steps it releases, which start in this
	 * same turn (one clock read per step instead of two: the clock is a measurable share of a zero-work step).
	 */
	private finishPlain(i: number, t0: number, output: unknown, done: (i: number, outcome: Outcome) => void): void {
		const ins = this.instructions[i];
		let at: number;
		if (ins.update_context || ins.undo || this.plan.ops[i].effect !== 'none' || this.services.events.active) {
			this.succeed(i, 1, t0, output);
			at = this.lastEnd;
		} else {
			// succeed() for a pure step nobody watches, written out: this runs once per step, the first thousands cold.
			at = this.now();
			const durationMs = at - t0;
			this.durations[i] = durationMs;
			if (durationMs > this.longest) this.longest = durationMs;
			const stored = output === undefined ? null : output;
			this.outputs[i] = stored;
			this.pureEnds.add(ins.id, 1, at, durationMs, stored);
			if (this.pureEnds.count >= PURE_BATCH) this.writePureEnds();
		}
		this.turnNow = at;
		this.turnClock = true;
		try {
			done(i, Status.Succeeded);
		} finally {
			this.turnClock = false;
		}
	}

	/** A resumed run's step whose parameters a decision edited, or which a crash left in doubt. */
	private editedOrInDoubt(i: number): boolean {
		return (this.inputs.editedParams?.has(i) ?? false) || (this.inputs.inDoubt?.has(i) ?? false);
	}

	private async runFullStep(i: number): Promise<Outcome> {
		const step = this.plan.step(i);
		let started = this.services.clock.now();
		let params: unknown;
		try {
			// No effect before the run's header is durable (pure steps do not come here until then).
			if (!this.headerDurable) {
				await this.inputs.started;
				started = this.services.clock.now();
			}
			params = this.inputs.editedParams?.get(i) ?? this.resolveParams(step);
			if (this.inputs.editedParams?.has(i)) params = parseParams(step, params);
			const inDoubt = this.inputs.inDoubt?.has(i) ?? false;
			const need = approvalReason(step, params, inDoubt, this.services.sandbox, this.services.escalation);
			if (need) params = await this.decide(i, need, params, inDoubt ? 'in-doubt' : 'approval');
			if (this.budget.watchesStarts) await this.budget.gate(step.instruction, 0, this.expectedUse(step, params), this.signal);
		} catch (err) {
			// A rejected step did not run: the time a person took to decide is not its duration.
			return this.fail(i, 0, StepError.is(err, 'rejected') ? this.services.clock.now() : started, err);
		}

		const touches = step.dynamic ? touchesOf(step, params) : step.touches;
		let release: (() => void) | undefined;
		try {
			if (this.services.resources) await this.services.resources.admit(this.signal, (reason) => this.hold(i, reason));
			release = await this.lock(i, touches);
		} catch (err) {
			return this.fail(i, 0, started, err);
		}
		try {
			return await this.attempts(i, step, params);
		} finally {
			release?.();
		}
	}

	private async attempts(i: number, step: PlannedStep, params: unknown): Promise<Outcome> {
		const ins = step.instruction;
		const retry = ins.retry;
		const attempts = retry?.attempts ?? 1;
		for (let attempt = 1; ; attempt++) {
			const t0 = this.services.clock.now();
			try {
				const output = await this.attempt(step, params, attempt);
				return this.succeed(i, attempt, t0, output);
			} catch (err) {
				const permanent = (StepError.is(err) && err.permanent) || SandboxError.is(err) || WorkflowError.is(err);
				if (this.signal.aborted || permanent || attempt >= attempts || !retry) return this.fail(i, attempt, t0, err);
				const delay = backoffDelay(retry, attempt + 1);
				this.services.logger.log('warn', 'run', `${ins.id} attempt ${attempt} failed (${describeError(err)}); retrying in ${delay} ms`);
				if (this.services.events.active) this.emitStep(i, 'retrying', attempt, undefined, `${describeError(err)}; retry in ${delay} ms`);
				try {
					await this.services.clock.sleep(delay, this.signal);
				} catch (abortErr) {
					return this.fail(i, attempt, t0, abortErr);
				}
			}
		}
	}

	private resolveParams(step: PlannedStep): unknown {
		if (!step.dynamic) return step.staticParams;
		return parseParams(step, substitute(step.instruction.parameters, this.scope));
	}

	private async attempt(step: PlannedStep, params: unknown, attempt: number): Promise<unknown> {
		const ins = step.instruction;
		if (step.op.effect === 'external') {
			// Durable before the effect, so a crash leaves this step "in doubt" rather than silently re-run.
			this.journal.append({ t: 'step-start', id: ins.id, attempt, at: this.services.clock.now() });
			await this.journal.flush();
		}
		if (this.services.events.active) this.emitStep(step.index, 'running', attempt);
		if (this.signal.aborted) throw this.signal.reason;
		const timeout = ins.timeout_ms;
		if (!timeout && !ins.budget?.wall_ms) return step.op.run(params as never, new StepCtx(this, ins, attempt, this.signal));
		// The step's own abort: its timeout, or its wall-time budget's stop (or a rejected pause).
		const own = new AbortController();
		const signal = AbortSignal.any([this.signal, own.signal]);
		const handle = timeout ? setTimeout(() => own.abort(new StepError('timeout', `timed out after ${timeout} ms`)), timeout) : undefined;
		const unwatch = this.budget.watch(ins, attempt, signal, (reason) => own.abort(reason));
		try {
			return await Promise.race([
				step.op.run(params as never, new StepCtx(this, ins, attempt, signal)),
				new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })),
			]);
		} catch (err) {
			if (own.signal.aborted && !this.signal.aborted) throw own.signal.reason;
			throw err;
		} finally {
			clearTimeout(handle);
			unwatch();
		}
	}

	/**
	 * The step's path locks: its writes and named resources, and its reads too while other runs execute beside this
	 * one. Waiting for another step is a conflict: shown on the step, logged, announced for the figures.
	 */
	private lock(i: number, touches: Touches): Promise<(() => void) | undefined> {
		const ins = this.plan.steps[i].instruction;
		const resources = ins.resources?.map(resourceClaim) ?? [];
		const shared = this.locks.activeRuns > 1;
		if (touches.writes.length === 0 && resources.length === 0 && !(shared && touches.reads.length > 0)) return Promise.resolve(undefined);
		const claim = { reads: shared ? touches.reads : [], writes: resources.length ? [...touches.writes, ...resources] : touches.writes };
		return this.locks.acquire(claim, { runId: this.runId, stepId: ins.id, priority: ins.priority }, (conflict) => {
			const message = PathLocks.describe(conflict);
			this.services.logger.log('info', 'conflicts', `${ins.id} ${message}`);
			const events = this.services.events;
			if (events.active) {
				this.emitStep(i, 'waiting', 0, undefined, message);
				events.emit({ type: 'conflict', runId: this.runId, id: ins.id, paths: [...new Set(conflict.paths)], holders: conflict.holders.map((h) => ({ runId: h.runId, stepId: h.stepId })) });
			}
		});
	}

	/** A step the resource manager holds back: shown as waiting, with why. */
	private hold(i: number, reason: string): void {
		this.services.logger.log('info', 'resources', `${this.plan.steps[i].instruction.id} ${reason}`);
		if (this.services.events.active) this.emitStep(i, 'waiting', 0, undefined, reason);
	}

	/** What a step is expected to spend on LLM calls, for the budget check before it starts. */
	private expectedUse(step: PlannedStep, params: unknown): Spend {
		const est = step.op.estimateUsage?.(params as never);
		if (!est) return { tokens: 0, costUsd: 0 };
		const model = est.model ?? this.services.llm?.model ?? '';
		return { tokens: est.promptTokens + est.completionTokens, costUsd: costOf(model, est, this.services.prices) ?? 0 };
	}

	private succeed(i: number, attempt: number, t0: number, output: unknown): Outcome {
		const ins = this.instructions[i];
		const at = this.now();
		this.lastEnd = at;
		const durationMs = at - t0;
		this.durations[i] = durationMs;
		if (durationMs > this.longest) this.longest = durationMs;
		const stored = output === undefined ? null : output;
		this.outputs[i] = stored;
		if (ins.update_context) this.setContext(ins.context_key ?? ins.id, stored);
		if (this.plan.ops[i].effect === 'none' && !ins.undo) {
			this.pureEnds.add(ins.id, attempt, at, durationMs, stored);
			if (this.pureEnds.count >= PURE_BATCH) this.writePureEnds();
		} else {
			this.journal.append({ t: 'step-end', id: ins.id, status: 'succeeded', attempt, at, durationMs, output: stored });
		}
		if (this.services.events.active) this.emitStep(i, 'succeeded', attempt, durationMs);
		return Status.Succeeded;
	}

	/** A full batch of pure step ends: journaled and on its way to the disk now, not at the next background flush. */
	private writePureEnds(): void {
		this.flushPureEnds();
		this.journal.flush().catch((err) => this.services.logger.log('warn', 'journal', describeError(err)));
	}

	/** Appends the batched ends of pure steps as one record (the engine calls this before each background flush). */
	flushPureEnds(): void {
		if (this.pureEnds.count === 0) return;
		this.journal.appendPayload('step-ends', this.pureEnds.take());
	}

	private async decide(i: number, need: ApprovalNeed, params: unknown, kind: DecisionRequest['kind']): Promise<unknown> {
		const step = this.plan.step(i);
		const id = `${this.runId}:${step.instruction.id}:${++this.decisionSeq}`;
		if (this.services.events.active) this.emitStep(i, 'waiting', 0, undefined, need.reason);
		return askDecision({ runId: this.runId, services: this.services, journal: this.journal, signal: this.signal }, id, step, need, params, kind);
	}
}
