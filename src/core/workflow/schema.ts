// The workflow file format, written once in zod; schemas/*.json are generated from here (npm run schemas).
import { z } from 'zod';

export const EXECUTION_MODES = ['parallel', 'sequential', 'adaptive'] as const;
export const ON_FAILURE = ['stop', 'continue', 'rollback'] as const;
export const RUN_IF = ['success', 'failure', 'always'] as const;
/** What a step id looks like (validate.ts tests it directly on the fast path). */
export const ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export const retrySchema = z
	.object({
		attempts: z.number().int().min(1).max(100).describe('Total attempts, including the first.'),
		backoff_ms: z.number().int().min(0).default(500).describe('Delay before the second attempt; doubles each time, with jitter.'),
		max_backoff_ms: z.number().int().min(0).default(30_000).describe('Upper bound of the delay between attempts.'),
	})
	.strict();

export const undoSchema = z
	.object({
		command: z.string().min(1).describe('Executable (with args) or shell line that compensates this step on rollback.'),
		args: z.array(z.string()).optional(),
		cwd: z.string().optional(),
		env: z.record(z.string(), z.string()).optional(),
		timeout_ms: z.number().int().positive().optional(),
	})
	.strict();

/** Thresholds of one budget metric: warn (an event), pause (a decision in the queue), stop (the run stops). */
export const limitSchema = z
	.object({
		warn: z.number().nonnegative().optional().describe('Report when use reaches this.'),
		pause: z.number().nonnegative().optional().describe('Ask whether to go on when use would reach this.'),
		stop: z.number().nonnegative().optional().describe('Stop when use would reach this.'),
	})
	.strict()
	.refine((l) => l.warn !== undefined || l.pause !== undefined || l.stop !== undefined, 'give at least one of warn, pause, stop')
	.refine((l) => ordered(l.warn, l.pause) && ordered(l.pause, l.stop) && ordered(l.warn, l.stop), 'thresholds must rise: warn ≤ pause ≤ stop');

function ordered(a: number | undefined, b: number | undefined): boolean {
	return a === undefined || b === undefined || a <= b;
}

/** LLM tokens, money (USD, at the model's price) and wall time, each with its thresholds. */
export const budgetSchema = z
	.object({
		tokens: limitSchema.optional().describe('Prompt + completion tokens.'),
		cost_usd: limitSchema.optional().describe('US dollars at the configured model prices.'),
		wall_ms: limitSchema.optional().describe('Elapsed time in milliseconds.'),
	})
	.strict();

export const instructionSchema = z
	.object({
		id: z
			.string()
			.regex(ID_PATTERN, 'ids start with a letter or _ and hold letters, digits, _ . -')
			.optional()
			.describe('Unique step id; generated from the position when omitted.'),
		type: z.string().min(1).describe('Handler type: file, exec, git, util (later llm, quality, agent).'),
		operation: z.string().min(1).describe("The handler's operation, e.g. create, run, commit."),
		description: z.string().optional(),
		parameters: z.record(z.string(), z.unknown()).optional().describe('Operation parameters; strings may use ${...} substitution.'),
		dependencies: z.array(z.string()).optional().describe('Ids of steps that must finish first.'),
		priority: z.number().int().optional().describe('Lower runs first among ready steps (default 0).'),
		update_context: z.boolean().optional().describe("Store this step's output in the global context."),
		context_key: z.string().min(1).optional().describe('Context key for update_context (default: the step id).'),
		timeout_ms: z.number().int().positive().optional(),
		retry: retrySchema.optional(),
		requires_approval: z.boolean().optional().describe('Pause for an explicit approval before running.'),
		run_if: z.enum(RUN_IF).optional().describe('success (default): all dependencies succeeded; failure: one failed; always.'),
		idempotent: z.boolean().optional().describe('Safe to run again after a crash without asking (exec steps).'),
		undo: undoSchema.optional().describe('Compensation command run on rollback (exec steps).'),
		budget: budgetSchema.optional().describe("This step's LLM tokens, cost and wall time limits."),
		resources: z
			.array(z.string().min(1))
			.optional()
			.describe('Named resources the step uses exclusively (a database, a port): steps naming the same one never overlap, across runs too.'),
	})
	.strict();

/** What a scheduled run does when the previous run of its schedule is still going (the dispatcher's policies). */
export const SCHEDULE_POLICIES = ['skip', 'queue', 'cancel-running'] as const;

export const scheduleObjectSchema = z
	.object({
		cron: z.string().min(1).describe('Cron expression: 5 fields, or 6 with seconds first.'),
		timezone: z.string().min(1).optional().describe("IANA time zone the expression is read in, e.g. Europe/Paris (default: the machine's)."),
		policy: z.enum(SCHEDULE_POLICIES).optional().describe('When the previous scheduled run is still going: skip (default) the slot, queue it, or cancel-running.'),
	})
	.strict();

/** When a workflow runs by itself: a cron expression, or one with a time zone and a concurrency policy. */
export const scheduleSchema = z.union([
	z.string().min(1).describe('Cron expression: 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first; @daily and the like work too.'),
	scheduleObjectSchema,
]);

export const settingsSchema = z
	.object({
		mode: z.enum(EXECUTION_MODES).optional(),
		max_parallel: z.number().int().min(1).max(1024).optional(),
		on_failure: z.enum(ON_FAILURE).optional(),
		budget: budgetSchema.optional().describe("The run's LLM tokens, cost and wall time limits."),
		agent_budgets: z
			.record(z.string(), budgetSchema)
			.optional()
			.describe('Limits per agent within the run, by agent name; "*" applies to every agent without its own.'),
		schedule: scheduleSchema.optional().describe('Run this workflow on a cron schedule while the orchestrator is running (VS Code or qo serve).'),
	})
	.strict();

export const workflowSchema = z
	.object({
		$schema: z.string().optional(),
		version: z.literal(1).optional(),
		name: z.string().min(1),
		description: z.string().optional(),
		variables: z.record(z.string(), z.unknown()).optional(),
		settings: settingsSchema.optional(),
		instructions: z.array(instructionSchema),
	})
	.strict();

export type RawInstruction = z.infer<typeof instructionSchema>;
export type WorkflowSettings = z.infer<typeof settingsSchema>;
export type RawWorkflow = z.infer<typeof workflowSchema>;
export type ExecutionMode = (typeof EXECUTION_MODES)[number];
export type OnFailure = (typeof ON_FAILURE)[number];
export type RunIf = (typeof RUN_IF)[number];
export type RetryPolicy = z.infer<typeof retrySchema>;
export type Budget = z.infer<typeof budgetSchema>;
export type BudgetLimit = z.infer<typeof limitSchema>;
export type UndoCommand = z.infer<typeof undoSchema>;
export type WorkflowSchedule = z.infer<typeof scheduleSchema>;
export type SchedulePolicy = (typeof SCHEDULE_POLICIES)[number];

/** An instruction after parsing: id assigned, dependencies resolved (explicit + inferred from ${steps.X}). */
export interface Instruction extends RawInstruction {
	id: string;
	parameters: Record<string, unknown>;
	dependencies: string[];
	priority: number;
	/** Index in the file's instructions array, for error locations. */
	index: number;
}

/** A validated workflow, ready to plan and run. */
export interface Workflow {
	name: string;
	description?: string;
	variables: Record<string, unknown>;
	settings: WorkflowSettings;
	instructions: Instruction[];
	/** Absolute path of the source file, when read from disk. */
	file?: string;
	/** sha256 of the source bytes: resume refuses a changed file unless forced. */
	sourceHash?: string;
}
