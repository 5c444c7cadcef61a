// What a handler is: a type with operations, each declaring its parameters (zod), its effects and how it runs.
import type { z } from 'zod';
import type { AgentRegistry } from '../agents/registry';
import type { LearningStore } from '../agents/learning';
import type { Clock, DecisionAnswer, DecisionKind, Logger, ProposedChange } from '../ports';
import type { Finding } from '../quality/findings';
import type { Sandbox } from '../sandbox/types';
import type { LlmClient, LlmUsage } from '../services/llm/client';
import type { Instruction } from '../workflow/schema';

/**
 * Every write a step makes to the workspace goes through here: the transaction journals the before-image
 * (durably) before the effect, and the after-state once it is done, so rollback can restore exact bytes.
 * Paths are workspace-relative; the sandbox checks them.
 */
export interface WorkspaceFs {
	readFile(rel: string): Promise<Buffer>;
	/**
	 * Create or overwrite a file (parents are created, and journaled, as needed). `exclusive`: fail with EEXIST /
	 * StepError 'exists' when it exists; `mustExist`: fail with ENOENT / StepError 'not-found' when it does not
	 * (checked with the write itself, so callers need no separate exists() round trip).
	 */
	writeFile(rel: string, data: Buffer | string, opts?: { mode?: number; exclusive?: boolean; mustExist?: boolean }): Promise<void>;
	/** Remove a file, or a directory with everything under it. */
	remove(rel: string): Promise<void>;
	mkdir(rel: string): Promise<void>;
	copy(from: string, to: string, opts?: { overwrite?: boolean }): Promise<void>;
	move(from: string, to: string, opts?: { overwrite?: boolean }): Promise<void>;
	exists(rel: string): Promise<boolean>;
}

/** What a step reads and writes, for `qo plan` and (later) conflict detection. Workspace-relative paths. */
export interface Touches {
	reads: string[];
	writes: string[];
	/** Commands it runs, shown as written. */
	commands?: string[];
}

/**
 * How an interrupted step is treated on resume:
 * none (pure, re-run), workspace (journaled file effects, re-run), external (processes, git: in doubt unless idempotent).
 */
export type EffectKind = 'none' | 'workspace' | 'external';

export interface StepContext {
	readonly runId: string;
	readonly step: Instruction;
	readonly attempt: number;
	readonly workspace: string;
	readonly sandbox: Sandbox;
	readonly fs: WorkspaceFs;
	/** Aborted on cancel or timeout; handlers stop promptly (kill processes, stop waiting). */
	readonly signal: AbortSignal;
	readonly logger: Logger;
	/** Environment for child processes, already scrubbed of secrets by policy. */
	readonly env: NodeJS.ProcessEnv;
	/** The unscrubbed host environment: only for variables a step explicitly allows (exec `env_allow`). */
	readonly hostEnv: NodeJS.ProcessEnv;
	/** Which variable names count as secrets and are removed from child processes. */
	readonly secretPolicy: SecretPolicy;
	/** The configured LLM endpoint, if any (`llm` steps fail clearly without one). */
	readonly llm: LlmClient | undefined;
	/** The agent registry and learning store (`agent` steps). */
	readonly agents: AgentServices | undefined;
	/** Counts an LLM response's tokens (and cost, where the model's price is known) against this step and the run. */
	recordUsage(model: string, usage: LlmUsage): void;
	/**
	 * Pauses the step for a person (it shows as waiting; the request joins the decision queue) and resolves with the
	 * answer when approved; throws a 'rejected' StepError when not, or the abort reason when the run stops.
	 */
	decide(request: StepDecision): Promise<DecisionAnswer>;
	/**
	 * Runs another operation as a child step of this one (an agent's tool call): validated, sandboxed, subject to the
	 * escalation policy, journaled so rollback undoes it, and shown under this step. Throws its failure.
	 */
	runTool(call: ToolStep): Promise<unknown>;
	/**
	 * Undoes what this step's tool steps changed in the workspace (compensation before giving up or handing the task
	 * to another agent); resolves with the tool step ids undone.
	 */
	undoToolSteps(): Promise<string[]>;
	/** Names the agent working this step (its LLM use and tool steps count for it) and announces why. */
	assignAgent(assignment: AgentAssignment): void;
	/** Partial output, streamed to the event stream. */
	output(stream: 'stdout' | 'stderr', text: string): void;
	/** A tool's findings, to the event stream (diagnostics, board counts, CLI summary); replaces this step's earlier list for the tool. */
	reportFindings(tool: string, findings: Finding[]): void;
	/** Set a global context key (util set_context); persisted with the run. */
	setContext(key: string, value: unknown): void;
	getContext(key: string): unknown;
}

/** What `agent` steps allocate from: the registry, the learning store, the clock for waits and backoff. */
export interface AgentServices {
	registry: AgentRegistry;
	learning?: LearningStore;
	clock?: Clock;
}

/** A step a running step starts (an agent's tool call): a type, an operation and its parameters. */
export interface ToolStep {
	type: string;
	operation: string;
	parameters: Record<string, unknown>;
	/** What it is for, in a few words (the tool's name), shown with the step. */
	label?: string;
	/** Stop it after this long (a StepError 'timeout'). */
	timeoutMs?: number;
}

/** The agent working a step and why it was chosen. */
export interface AgentAssignment {
	agent: string;
	/** The allocation score (0–1) and its parts, when allocated by score. */
	score?: number;
	parts?: Record<string, number>;
	/** One line: the score's parts, or "assigned by the step". */
	reason: string;
}

/** What a step asks a person mid-run: apply a proposed change, pass a budget threshold... */
export interface StepDecision {
	kind: DecisionKind;
	/** Why it asks, one line. */
	reason: string;
	/** What approving does, one line. */
	summary: string;
	rule?: string;
	changes?: ProposedChange[];
	details?: string;
	/** Shown with the decision (default: the step's parameters). */
	parameters?: Record<string, unknown>;
}

export interface SecretPolicy {
	/** Regexes (case-insensitive) matched against env var names to remove. */
	patterns: string[];
}

export interface OperationSpec<P = Record<string, unknown>> {
	/** Parameters after substitution; `z.input` may differ (defaults). */
	readonly params: z.ZodType<P>;
	readonly effect: EffectKind;
	/** One line describing what the step will do, for plans and decisions. */
	summary(params: P): string;
	touches?(params: P): Touches;
	/** Why this step needs approval regardless of requires_approval (e.g. writes `.vscode/`), or undefined. */
	approvalReason?(params: P, sandbox: Sandbox): string | undefined;
	/** Expected duration in ms when the parameters say it (a wait), for critical paths before any history exists. */
	estimateMs?(params: P): number | undefined;
	/** Expected LLM use with these parameters, for budget checks before the step starts and the plan's projected cost. */
	estimateUsage?(params: P): (LlmUsage & { model?: string }) | undefined;
	/** Returns the step's output (for ${steps.ID.output}). Throws StepError on failure. */
	run(params: P, ctx: StepContext): Promise<unknown>;
}

export interface Handler {
	readonly type: string;
	readonly description: string;
	readonly operations: Readonly<Record<string, OperationSpec<never>>>;
}

/** Helper that keeps the parameter type of each operation while erasing it for the registry. */
export function defineOperation<S extends z.ZodType>(
	spec: Omit<OperationSpec<z.output<S>>, 'params'> & { params: S },
): OperationSpec<never> {
	return spec as unknown as OperationSpec<never>;
}
