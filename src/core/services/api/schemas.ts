// The API's bodies in zod: requests are validated with these, and the OpenAPI document is generated from all of them.
import { z } from 'zod';
import { CONCURRENCY_POLICIES } from '../triggers/dispatcher';

const time = z.string().describe('ISO 8601 time (UTC).');
const POLICIES = CONCURRENCY_POLICIES as unknown as readonly ['queue', 'skip', 'cancel-running'];

// ------------------------------------------------------------------------------------------------ requests

/** POST /v1/runs with options: the workflow (or single instruction) goes in `workflow`. */
export const runEnvelopeSchema = z
	.object({
		workflow: z.record(z.string(), z.unknown()).describe('A workflow ({ name, instructions }) or a single instruction ({ type, operation, parameters }).'),
		variables: z.record(z.string(), z.unknown()).optional().describe("Override or add to the workflow's variables."),
		wait_for_decisions: z.boolean().optional().describe('Steps that need approval wait for an answer (POST /v1/decisions/{id}) instead of refusing the run up front. Default false.'),
		concurrency_group: z.string().min(1).max(200).nullable().optional().describe('Runs of one group obey `policy` against each other. Default "api:<workflow name>"; null: no group.'),
		policy: z.enum(POLICIES).optional().describe('When a run of the group is still going: queue (FIFO, bounded), skip, or cancel-running. Default queue.'),
		origin: z.string().min(1).max(200).optional().describe('What sent it, for people (e.g. "post-commit 1a2b3c").'),
	})
	.strict();

export const goalRequestSchema = z
	.object({
		goal: z.string().trim().min(1).max(4000).describe('What you want done, in words.'),
		plan_only: z.boolean().optional().describe('Analyse, plan and save the plan under .quantum/plans/; do not run it. Default false.'),
		wait_for_decisions: z.boolean().optional().describe("Decisions of the plan's runs (approvals, a revised plan) wait for an answer instead of being refused. Default false."),
		max_replans: z.number().int().min(0).max(5).optional().describe('Revised plans tried after a failed run. Default 1.'),
	})
	.strict();

export const decisionAnswerSchema = z
	.object({
		approve: z.boolean(),
		reason: z.string().max(2000).optional(),
	})
	.strict();

export const checkpointRequestSchema = z
	.object({
		name: z.string().min(1).max(128).describe('Letters, digits, ".", "_" and "-" (not first).'),
		paths: z.array(z.string().min(1)).max(10_000).optional().describe('Save these workspace paths (folders included) instead of every path runs touched.'),
		replace: z.boolean().optional().describe('Replace a checkpoint of that name. Default false.'),
	})
	.strict();

// ------------------------------------------------------------------------------------------------ responses

export const problemSchema = z.object({
	message: z.string(),
	code: z.string().optional(),
	path: z.string().optional().describe('JSON path in the request body, e.g. workflow.instructions[0].operation.'),
	line: z.number().int().optional(),
	column: z.number().int().optional(),
});

export const errorSchema = z.object({
	error: z
		.object({
			code: z.string().describe('Stable, machine-readable: unauthorized, forbidden-host, invalid-workflow, refused, …'),
			message: z.string().describe('What went wrong and where, in words.'),
			problems: z.array(problemSchema).optional().describe('invalid-workflow, invalid-request: every problem found, located in the body.'),
			steps: z.array(z.object({ id: z.string(), reason: z.string(), rule: z.string().optional() })).optional().describe('refused: the steps that need approval.'),
			line: z.number().int().optional().describe('malformed-json: where the parser stopped.'),
			column: z.number().int().optional(),
			offset: z.number().int().optional(),
		})
		.catchall(z.unknown()),
});

export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'rejected', 'rolled_back', 'interrupted'] as const;
const runStatus = z.enum(RUN_STATUSES);

export const runAcceptedSchema = z.object({
	run_id: z.string(),
	status: z.enum(['started', 'queued', 'duplicate']),
	position: z.number().int().optional().describe('queued: place in the queue.'),
	first_seen_at: time.optional().describe('duplicate: when the key was first seen.'),
});

const counts = z.object({ total: z.number().int(), succeeded: z.number().int(), failed: z.number().int(), skipped: z.number().int(), cancelled: z.number().int() });

export const runListItemSchema = z.object({
	run_id: z.string(),
	workflow: z.string(),
	status: runStatus,
	source: z.string().optional().describe('api, inbox, hook, schedule, goal…; absent for runs started elsewhere (qo run, the extension).'),
	origin: z.string().optional(),
	submitted_at: time.optional(),
	started_at: time.optional(),
	finished_at: time.optional(),
	duration_ms: z.number().optional(),
	message: z.string().optional(),
	counts: counts.optional(),
	committed: z.boolean().optional(),
});

export const runListSchema = z.object({ runs: z.array(runListItemSchema) });

export const STEP_STATES = ['pending', 'running', 'waiting', 'succeeded', 'failed', 'skipped', 'cancelled'] as const;

export const stepDetailSchema = z.object({
	id: z.string(),
	type: z.string().optional(),
	operation: z.string().optional(),
	dependencies: z.array(z.string()).optional(),
	state: z.enum(STEP_STATES).describe('waiting: for a decision (decision_id).'),
	attempt: z.number().int().optional(),
	started_at: time.optional(),
	finished_at: time.optional(),
	duration_ms: z.number().optional(),
	error: z.string().optional(),
	decision_id: z.string().optional(),
});

export const runDetailSchema = runListItemSchema.extend({
	group: z.string().optional(),
	steps: z.array(stepDetailSchema).describe('Every step of the workflow, in order (empty while the run is queued).'),
	log: z.array(z.string()).optional().describe("What the run did, one line per event, from its journal."),
});

export const cancelResultSchema = z.object({
	run_id: z.string(),
	status: z.enum(['cancelled', 'cancelling']).describe('cancelled: it was queued; cancelling: its running steps are being stopped.'),
});

export const GOAL_STATES = ['idle', 'analysing', 'planning', 'review', 'executing', 'monitoring', 'escalating', 'error', 'recover', 'completing'] as const;

export const goalAcceptedSchema = z.object({ goal_id: z.string(), status: z.literal('started') });

export const goalDetailSchema = z.object({
	goal_id: z.string(),
	goal: z.string(),
	state: z.enum(GOAL_STATES),
	done: z.boolean(),
	outcome: z.enum(['succeeded', 'failed', 'planned', 'cancelled', 'rejected']).optional(),
	message: z.string().optional(),
	plan_file: z.string().optional().describe('The newest plan saved (absolute path).'),
	run_id: z.string().optional().describe('The newest run of the plan.'),
	run_ids: z.array(z.string()),
	created_at: time,
	finished_at: time.optional(),
	transitions: z.array(z.object({ state: z.enum(GOAL_STATES), at: time, detail: z.string().optional() })),
});

export const goalListSchema = z.object({ goals: z.array(goalDetailSchema.omit({ transitions: true })) });

export const decisionSchema = z.object({
	decision_id: z.string(),
	run_id: z.string(),
	step_id: z.string(),
	kind: z.string().describe('approval, in-doubt, proposal, budget, replan.'),
	reason: z.string(),
	rule: z.string().optional(),
	summary: z.string(),
	type: z.string(),
	operation: z.string(),
	parameters: z.record(z.string(), z.unknown()),
	details: z.string().optional(),
	changes: z.array(z.object({ path: z.string(), before: z.string().nullable(), after: z.string().nullable() })).optional(),
	asked_at: time,
});

export const decisionListSchema = z.object({ decisions: z.array(decisionSchema) });

export const decisionAnsweredSchema = z.object({ decision_id: z.string(), approve: z.boolean() });

export const stateSchema = z.object({
	started_at: time,
	uptime_seconds: z.number(),
	accepting: z.boolean().describe('false while the server shuts down: new runs and goals get 503.'),
	workspace: z.string(),
	runs: z.object({ queued: z.number().int(), running: z.number().int() }),
	decisions_pending: z.number().int(),
	goals_active: z.number().int(),
});

export const checkpointSchema = z.object({
	name: z.string(),
	created_at: time,
	files: z.number().int(),
	dirs: z.number().int(),
	absent: z.number().int(),
	bytes: z.number().int(),
	skipped: z.array(z.object({ path: z.string(), reason: z.string() })),
});

/** Every body by the name the OpenAPI document gives it (components.schemas). */
export const API_SCHEMAS = {
	Error: errorSchema,
	Problem: problemSchema,
	RunEnvelope: runEnvelopeSchema,
	RunAccepted: runAcceptedSchema,
	RunList: runListSchema,
	RunListItem: runListItemSchema,
	RunDetail: runDetailSchema,
	StepDetail: stepDetailSchema,
	CancelResult: cancelResultSchema,
	GoalRequest: goalRequestSchema,
	GoalAccepted: goalAcceptedSchema,
	GoalDetail: goalDetailSchema,
	GoalList: goalListSchema,
	Decision: decisionSchema,
	DecisionList: decisionListSchema,
	DecisionAnswer: decisionAnswerSchema,
	DecisionAnswered: decisionAnsweredSchema,
	State: stateSchema,
	CheckpointRequest: checkpointRequestSchema,
	Checkpoint: checkpointSchema,
} as const;
