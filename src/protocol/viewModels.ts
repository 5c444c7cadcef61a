// The snapshots the board renders: plain data, declared once as zod schemas so both sides agree and the host can check.
// The namespace import lets esbuild drop zod's locales from the webview bundle.
import * as z from 'zod';

export const stepStateSchema = z.enum([
	'pending',
	'queued',
	'waiting',
	'running',
	'retrying',
	'succeeded',
	'failed',
	'skipped',
	'cancelled',
	'rolled_back',
]);
export type StepStateView = z.infer<typeof stepStateSchema>;

export const runStatusSchema = z.enum(['running', 'succeeded', 'failed', 'cancelled', 'rejected', 'rolled_back', 'interrupted']);
export type RunStatusView = z.infer<typeof runStatusSchema>;

/** LLM tokens and cost; `costUsd` is absent when no call had a known price. */
export const usageViewSchema = z.object({
	promptTokens: z.number().nonnegative(),
	completionTokens: z.number().nonnegative(),
	costUsd: z.number().nonnegative().optional(),
	calls: z.number().int().nonnegative(),
	/** Calls to models without a known price: their tokens count, their cost does not. */
	unpricedCalls: z.number().int().nonnegative().optional(),
	/** The model of the last call (steps). */
	model: z.string().optional(),
});
export type UsageView = z.infer<typeof usageViewSchema>;

/** Which agent took a step and why: the allocation score and its parts (capability, load, performance, specialisation). */
export const allocationViewSchema = z.object({
	agent: z.string(),
	score: z.number().optional(),
	parts: z.record(z.string(), z.number()).optional(),
	reason: z.string(),
});
export type AllocationView = z.infer<typeof allocationViewSchema>;

/** A step a running step started (an agent's tool call), shown under its parent. */
export const childStepViewSchema = z.object({
	id: z.string(),
	type: z.string(),
	operation: z.string(),
	/** What it does, one line ("read_file: read src/a.ts"). */
	summary: z.string(),
	state: stepStateSchema,
	durationMs: z.number().optional(),
	message: z.string().optional(),
	decisionId: z.string().optional(),
	agent: z.string().optional(),
});
export type ChildStepView = z.infer<typeof childStepViewSchema>;

/** One step as the board shows it; patches carry only the fields that changed besides `id`. */
export const stepViewSchema = z.object({
	id: z.string(),
	type: z.string(),
	operation: z.string(),
	dependencies: z.array(z.string()),
	level: z.number().int().nonnegative(),
	state: stepStateSchema,
	attempt: z.number().int().nonnegative(),
	/** On the run's critical path (longest chain by expected duration). */
	critical: z.boolean(),
	startedAt: z.number().optional(),
	durationMs: z.number().optional(),
	/** Failure, skip or wait reason, one line. */
	message: z.string().optional(),
	/** Set while the step waits for this decision. */
	decisionId: z.string().optional(),
	/** Quality findings the step reported (all its tools together). */
	findings: z.object({ error: z.number().int().nonnegative(), warning: z.number().int().nonnegative(), info: z.number().int().nonnegative() }).optional(),
	/** The agent working the step (agent steps). */
	allocation: allocationViewSchema.optional(),
	/** The step's LLM use so far. */
	usage: usageViewSchema.optional(),
	/** Steps it started (tool calls), in order; a patch carries the whole list. */
	children: z.array(childStepViewSchema).optional(),
});
export type StepView = z.infer<typeof stepViewSchema>;

export const stepPatchSchema = stepViewSchema.partial().extend({
	id: z.string(),
	/** Fields to remove (a decision answered, a message gone): postMessage drops undefined values. */
	clear: z.array(z.enum(['decisionId', 'message', 'durationMs', 'startedAt'])).optional(),
});
export type StepPatch = z.infer<typeof stepPatchSchema>;

/** A budget threshold a run crossed (warn, pause or stop). */
export const budgetNoticeSchema = z.object({
	level: z.enum(['warn', 'pause', 'stop']),
	scope: z.enum(['run', 'step', 'agent']),
	name: z.string(),
	metric: z.enum(['tokens', 'cost_usd', 'wall_ms']),
	value: z.number(),
	limit: z.number(),
	message: z.string(),
	stepId: z.string().optional(),
});
export type BudgetNoticeView = z.infer<typeof budgetNoticeSchema>;

/** A run's LLM use: totals and, once it ends, per agent. */
export const runUsageViewSchema = usageViewSchema.extend({
	agents: z.record(z.string(), z.object({ promptTokens: z.number(), completionTokens: z.number(), costUsd: z.number(), calls: z.number() })).optional(),
});
export type RunUsageView = z.infer<typeof runUsageViewSchema>;

/** A run without its steps: what changes when the run itself changes. */
export const runHeaderSchema = z.object({
	runId: z.string(),
	workflow: z.string(),
	file: z.string().optional(),
	status: runStatusSchema,
	startedAt: z.number(),
	durationMs: z.number().optional(),
	levels: z.number().int().nonnegative(),
	concurrency: z.number().int().nonnegative(),
	mode: z.string(),
	criticalPath: z.array(z.string()),
	/** Steps in a final state / all steps. */
	done: z.number().int().nonnegative(),
	total: z.number().int().nonnegative(),
	counts: z.record(z.string(), z.number()),
	message: z.string().optional(),
	/** True while this session's engine drives the run (so it can be cancelled). */
	live: z.boolean(),
	/** Committed: its changes are final and it can no longer be rolled back. */
	committed: z.boolean().optional(),
	/** LLM tokens and cost so far (live), then as the run reported them. */
	usage: runUsageViewSchema.optional(),
	/** Budget thresholds crossed, oldest first (the last few). */
	budget: z.array(budgetNoticeSchema).optional(),
	/** The orchestration (goal) that started this run. */
	orchestration: z.string().optional(),
});
export type RunHeader = z.infer<typeof runHeaderSchema>;

export const runViewSchema = runHeaderSchema.extend({ steps: z.array(stepViewSchema) });
export type RunView = z.infer<typeof runViewSchema>;

/** A pending decision: what the step will do, so the user can answer without opening anything else. */
export const decisionViewSchema = z.object({
	id: z.string(),
	runId: z.string(),
	stepId: z.string(),
	kind: z.enum(['approval', 'in-doubt', 'proposal', 'budget', 'replan']),
	reason: z.string(),
	summary: z.string(),
	type: z.string(),
	operation: z.string(),
	parameters: z.record(z.string(), z.unknown()),
	/** The escalation rule that matched, when a policy (not the step itself) asked; can be always-allowed. */
	rule: z.string().optional(),
	/** What always-allowing `rule` would cover, in words ("every file deletion or move"). */
	ruleLabel: z.string().optional(),
	/** For exec steps: the exact command line and working folder. */
	command: z.string().optional(),
	cwd: z.string().optional(),
	/** For file steps: the workspace-relative file whose before/after diff the host can open. */
	file: z.string().optional(),
	/** Files a proposal would change (the host opens their diffs). */
	changedFiles: z.array(z.string()).optional(),
	/** A plan diff, budget figures: shown as preformatted text. */
	details: z.string().optional(),
	requestedAt: z.number(),
});
export type DecisionView = z.infer<typeof decisionViewSchema>;

export const orchestrationStateSchema = z.enum(['idle', 'analysing', 'planning', 'review', 'executing', 'monitoring', 'escalating', 'error', 'recover', 'completing']);

/** A goal being orchestrated: its state machine's current state, the plan and the runs it started. */
export const orchestrationViewSchema = z.object({
	id: z.string(),
	goal: z.string(),
	state: orchestrationStateSchema,
	/** What is happening or why, one line. */
	detail: z.string().optional(),
	/** The saved plan, workspace-relative (the host opens it by the orchestration's id). */
	planFile: z.string().optional(),
	/** Runs it started, oldest first. */
	runIds: z.array(z.string()),
	/** How it ended (set with the state 'completing'). */
	outcome: z.enum(['succeeded', 'failed', 'planned', 'cancelled', 'rejected']).optional(),
	/** Planned by the model, or by the offline templates. */
	planner: z.string().optional(),
	autonomous: z.boolean(),
	startedAt: z.number(),
	updatedAt: z.number(),
	/** True until the session ends. */
	live: z.boolean(),
});
export type OrchestrationView = z.infer<typeof orchestrationViewSchema>;

export const boardSnapshotSchema = z.object({
	/** Patches with version = this + 1 apply on top; anything else means resync. */
	version: z.number().int().nonnegative(),
	/** Newest first. */
	runs: z.array(runViewSchema),
	decisions: z.array(decisionViewSchema),
	/** False in an untrusted workspace: nothing runs, the board says why. */
	trusted: z.boolean(),
	/** Goals orchestrated in this window, newest first. */
	orchestrations: z.array(orchestrationViewSchema).optional(),
});
export type BoardSnapshot = z.infer<typeof boardSnapshotSchema>;

/** One ordered change to the board. */
export const boardPatchSchema = z.discriminatedUnion('kind', [
	/** A new run (with all its steps) or a run replaced wholesale. */
	z.object({ kind: z.literal('run'), run: runViewSchema }),
	/** The run's header changed (status, counts, duration). */
	z.object({ kind: z.literal('run-header'), run: runHeaderSchema }),
	/** Some steps of a run changed. */
	z.object({ kind: z.literal('steps'), runId: z.string(), steps: z.array(stepPatchSchema) }),
	z.object({ kind: z.literal('run-removed'), runId: z.string() }),
	/** The whole decision queue (it is short). */
	z.object({ kind: z.literal('decisions'), decisions: z.array(decisionViewSchema) }),
	z.object({ kind: z.literal('trust'), trusted: z.boolean() }),
	/** An orchestration started or moved to another state (replaces the one with its id). */
	z.object({ kind: z.literal('orchestration'), orchestration: orchestrationViewSchema }),
]);
export type BoardPatch = z.infer<typeof boardPatchSchema>;

/** One row of the board's metrics: a handler (`exec.run`) or a step (`workflow › step`), over every run recorded. */
export const metricsRowSchema = z.object({
	label: z.string(),
	count: z.number().int().nonnegative(),
	/** succeeded ÷ (finished − cancelled), 0..1; absent when nothing counts. */
	successRate: z.number().min(0).max(1).optional(),
	totalMs: z.number().nonnegative(),
	meanMs: z.number().nonnegative().optional(),
	p95Ms: z.number().nonnegative().optional(),
});
export type MetricsRow = z.infer<typeof metricsRowSchema>;

/** The board's metrics section: the telemetry store's summary, cut to the top rows by time. */
export const metricsViewSchema = z.object({
	updatedAt: z.string(),
	runs: z.object({ count: z.number().int().nonnegative(), successRate: z.number().min(0).max(1).optional() }),
	handlers: z.array(metricsRowSchema),
	steps: z.array(metricsRowSchema),
});
export type MetricsView = z.infer<typeof metricsViewSchema>;
