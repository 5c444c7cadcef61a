// The smaller routes: goals, decisions, state, checkpoints and metrics.
import { SandboxError, StateError } from '../../errors';
import type { PendingDecision } from '../triggers/decisionBroker';
import { ApiError } from './errors';
import type { GoalRecord } from './goals';
import { compact } from './runDetails';
import { checkpointRequestSchema, decisionAnswerSchema, goalRequestSchema } from './schemas';
import type { ApiContext, ApiReply, ApiRequest } from './types';
import { validateBody } from './validate';

const iso = (ms: number) => new Date(ms).toISOString();

function goalJson(g: GoalRecord, withTransitions: boolean) {
	return compact({
		goal_id: g.id,
		goal: g.goal,
		state: g.state,
		done: g.done,
		outcome: g.outcome,
		message: g.message,
		plan_file: g.planFile,
		run_id: g.runIds[g.runIds.length - 1],
		run_ids: [...g.runIds],
		created_at: iso(g.createdAt),
		finished_at: g.finishedAt ? iso(g.finishedAt) : undefined,
		transitions: withTransitions ? g.transitions.map((t) => compact({ state: t.state, at: iso(t.at), detail: t.detail })) : undefined,
	});
}

export async function submitGoal(ctx: ApiContext, req: ApiRequest): Promise<ApiReply> {
	const b = validateBody(goalRequestSchema, req.body);
	const g = ctx.goals.start(b.goal, { planOnly: b.plan_only, waitForDecisions: b.wait_for_decisions, maxReplans: b.max_replans });
	return { status: 202, json: { goal_id: g.id, status: 'started' }, headers: { Location: `/v1/goals/${g.id}` } };
}

export async function getGoals(ctx: ApiContext): Promise<ApiReply> {
	return { status: 200, json: { goals: ctx.goals.list().map((g) => goalJson(g, false)) } };
}

export async function getGoal(ctx: ApiContext, req: ApiRequest): Promise<ApiReply> {
	const g = ctx.goals.get(req.params.id);
	if (!g) throw new ApiError(404, 'not-found', `no goal ${JSON.stringify(req.params.id.slice(0, 140))} (goals are kept while the server runs): list them with GET /v1/goals`);
	return { status: 200, json: goalJson(g, true) };
}

function decisionJson({ request: r, at }: PendingDecision) {
	return compact({
		decision_id: r.id,
		run_id: r.runId,
		step_id: r.stepId,
		kind: r.kind,
		reason: r.reason,
		rule: r.rule,
		summary: r.summary,
		type: r.type,
		operation: r.operation,
		parameters: r.parameters,
		details: r.details,
		changes: r.changes,
		asked_at: iso(at),
	});
}

export async function getDecisions(ctx: ApiContext): Promise<ApiReply> {
	return { status: 200, json: { decisions: ctx.broker.list().map(decisionJson) } };
}

export async function answerDecision(ctx: ApiContext, req: ApiRequest): Promise<ApiReply> {
	const id = req.params.id;
	const b = validateBody(decisionAnswerSchema, req.body);
	if (!ctx.broker.answer(id, { approve: b.approve, by: 'user', ...(b.reason ? { reason: b.reason } : {}) })) {
		throw new ApiError(404, 'not-found', `no pending decision ${JSON.stringify(id.slice(0, 140))}: it was answered already, or its run ended (GET /v1/decisions lists those waiting)`);
	}
	return { status: 200, json: { decision_id: id, approve: b.approve } };
}

export async function getState(ctx: ApiContext): Promise<ApiReply> {
	const runs = ctx.dispatcher.list();
	const now = ctx.now();
	return {
		status: 200,
		json: {
			started_at: iso(ctx.startedAt),
			uptime_seconds: Math.max(0, (now - ctx.startedAt) / 1000),
			accepting: ctx.accepting(),
			workspace: ctx.engine.workspace,
			runs: { queued: runs.filter((r) => r.state === 'queued').length, running: runs.filter((r) => r.state === 'running').length },
			decisions_pending: ctx.broker.list().length,
			goals_active: ctx.goals.active,
		},
	};
}

export async function createCheckpoint(ctx: ApiContext, req: ApiRequest): Promise<ApiReply> {
	const b = validateBody(checkpointRequestSchema, req.body);
	try {
		const info = await ctx.engine.checkpoints.create(b.name, { ...(b.paths ? { paths: b.paths } : {}), ...(b.replace ? { replace: true } : {}) });
		const { name, createdAt, files, dirs, absent, bytes, skipped } = info;
		return { status: 201, json: { name, created_at: iso(createdAt), files, dirs, absent, bytes, skipped } };
	} catch (err) {
		if (StateError.is(err, 'conflict')) throw new ApiError(409, 'conflict', err.describe());
		// An unusable name or path (outside the workspace, protected) is the request's fault.
		if (StateError.is(err, 'not-found') || SandboxError.is(err)) throw new ApiError(422, 'invalid-request', err.describe());
		throw err;
	}
}

export async function getMetrics(ctx: ApiContext): Promise<ApiReply> {
	return { status: 200, text: await ctx.metrics(), contentType: 'text/plain; version=0.0.4; charset=utf-8' };
}
