// A step's view of its run (the StepContext handlers get), and the small helpers the step lifecycle shares.
import { StepError } from '../errors';
import type { AgentAssignment, StepContext, StepDecision, ToolStep, Touches, WorkspaceFs } from '../handlers/types';
import type { DecisionAnswer } from '../ports';
import type { LlmClient, LlmUsage } from '../services/llm/client';
import type { Finding } from '../quality/findings';
import type { Instruction } from '../workflow/schema';
import type { StepState } from './events';
import type { PlannedStep } from './plan';
import type { RunServices, RunTransaction } from './runTypes';
import { Status } from './scheduler';

const STATE_OF: Record<number, StepState> = {
	[Status.Pending]: 'pending',
	[Status.Queued]: 'queued',
	[Status.Running]: 'running',
	[Status.Succeeded]: 'succeeded',
	[Status.Failed]: 'failed',
	[Status.Skipped]: 'skipped',
	[Status.Cancelled]: 'cancelled',
};

/** A scheduler status as the event stream names it. */
export function stateOf(status: number): StepState {
	return STATE_OF[status];
}

/** What a step's context reads from its run (a RunExecution). */
export interface StepHost {
	readonly runId: string;
	readonly services: RunServices;
	readonly tx: RunTransaction;
	readonly context: Map<string, unknown>;
	setContext(key: string, value: unknown): void;
	recordUsage(stepId: string, model: string, usage: LlmUsage): void;
	llmFor(step: Instruction, attempt: number, signal: AbortSignal): LlmClient | undefined;
	runTool(parent: Instruction, call: ToolStep, signal: AbortSignal): Promise<unknown>;
	assignAgent(stepId: string, assignment: AgentAssignment): void;
	undoToolSteps(parentId: string): Promise<string[]>;
	decideInStep(step: Instruction, attempt: number, request: StepDecision, signal: AbortSignal): Promise<DecisionAnswer>;
}

/** What an operation runs with: one per attempt, its WorkspaceFs made on first use. */
export class StepCtx implements StepContext {
	// Declared and set in the constructor: one StepCtx per step, and class field initializers are a call more each.
	private declare fsCache: WorkspaceFs | undefined;
	private declare llmCache: LlmClient | undefined | null;
	private declare readonly run: StepHost;
	declare readonly step: Instruction;
	declare readonly attempt: number;
	declare readonly signal: AbortSignal;
	constructor(run: StepHost, step: Instruction, attempt: number, signal: AbortSignal) {
		this.run = run;
		this.step = step;
		this.attempt = attempt;
		this.signal = signal;
		this.fsCache = undefined;
		this.llmCache = null;
	}
	get runId() {
		return this.run.runId;
	}
	get workspace() {
		return this.run.services.workspace;
	}
	get sandbox() {
		return this.run.services.sandbox;
	}
	get logger() {
		return this.run.services.logger;
	}
	get env() {
		return this.run.services.childEnv;
	}
	get hostEnv() {
		return this.run.services.env;
	}
	get secretPolicy() {
		return this.run.services.secretPolicy;
	}
	get llm(): LlmClient | undefined {
		if (this.llmCache === null) this.llmCache = this.run.llmFor(this.step, this.attempt, this.signal);
		return this.llmCache;
	}
	get agents() {
		return this.run.services.agents;
	}
	get fs(): WorkspaceFs {
		return (this.fsCache ??= this.run.tx.fsFor(this.step.id));
	}
	recordUsage(model: string, usage: LlmUsage): void {
		this.run.recordUsage(this.step.id, model, usage);
	}
	decide(request: StepDecision): Promise<DecisionAnswer> {
		return this.run.decideInStep(this.step, this.attempt, request, this.signal);
	}
	runTool(call: ToolStep): Promise<unknown> {
		return this.run.runTool(this.step, call, this.signal);
	}
	assignAgent(assignment: AgentAssignment): void {
		this.run.assignAgent(this.step.id, assignment);
	}
	undoToolSteps(): Promise<string[]> {
		return this.run.undoToolSteps(this.step.id);
	}
	output(stream: 'stdout' | 'stderr', text: string): void {
		const events = this.run.services.events;
		if (events.active) events.emit({ type: 'step-output', runId: this.run.runId, id: this.step.id, stream, text });
	}
	reportFindings(tool: string, findings: Finding[]): void {
		const events = this.run.services.events;
		if (events.active) events.emit({ type: 'findings', runId: this.run.runId, id: this.step.id, tool, findings });
	}
	setContext(key: string, value: unknown): void {
		this.run.setContext(key, value);
	}
	getContext(key: string): unknown {
		return this.run.context.get(key);
	}
}

/** The parameters as the operation's schema parses them; a StepError names the first problem. */
export function parseParams(step: PlannedStep, raw: unknown): unknown {
	const parsed = step.op.params.safeParse(raw);
	if (parsed.success) return parsed.data;
	const issue = parsed.error.issues[0];
	const where = issue?.path.length ? ` at parameters.${issue.path.join('.')}` : '';
	throw new StepError('parameters', `invalid parameters${where}: ${issue?.message ?? 'rejected by the schema'}`);
}

/** The paths a step reads and writes with these parameters; none when its operation cannot tell. */
export function touchesOf(step: PlannedStep, params: unknown): Touches {
	try {
		return step.op.touches?.(params as never) ?? NO_TOUCHES;
	} catch {
		return NO_TOUCHES;
	}
}

const NO_TOUCHES: Touches = { reads: [], writes: [] };
