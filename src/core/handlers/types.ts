// What a handler is: a type with operations, each declaring its parameters (zod), its effects and how it runs.
import type { z } from 'zod';
import type { Logger } from '../ports';
import type { Finding } from '../quality/findings';
import type { Sandbox } from '../sandbox/types';
import type { LlmClient } from '../services/llm/client';
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
	/** Partial output, streamed to the event stream. */
	output(stream: 'stdout' | 'stderr', text: string): void;
	/** A tool's findings, to the event stream (diagnostics, board counts, CLI summary); replaces this step's earlier list for the tool. */
	reportFindings(tool: string, findings: Finding[]): void;
	/** Set a global context key (util set_context); persisted with the run. */
	setContext(key: string, value: unknown): void;
	getContext(key: string): unknown;
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
