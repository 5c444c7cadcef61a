// The route table: the server dispatches with it and schemas/openapi.json is generated from it, so they cannot drift.
import { answerDecision, createCheckpoint, getDecisions, getGoal, getGoals, getMetrics, getState, submitGoal } from './handlers';
import { cancelRun, getRun, getRuns, submitRun } from './runs';
import type { Route } from './types';

export const API_ROUTES: readonly Route[] = [
	{
		method: 'POST',
		path: '/v1/runs',
		operationId: 'submitRun',
		summary: 'Run a workflow or a single instruction',
		description:
			'The body is a workflow ({ name, instructions }) or a single instruction ({ type, operation, parameters }) as it is, or — to give options — { "workflow": {...}, "variables"?, "wait_for_decisions"?, "concurrency_group"?, "policy"?, "origin"? }: a body with a "workflow" member is that envelope. ' +
			'The same Idempotency-Key never starts a second run (200, status duplicate, the first run\'s id); without the header the key is the sha256 of the body, so sending the same body again is a duplicate — send distinct keys to run one workflow twice. Keys are remembered for a week, across restarts. ' +
			'Nobody watches an API run: a step that would need approval refuses the run up front (409 refused, naming the steps) unless wait_for_decisions is true.',
		body: { schema: 'RunEnvelope', orWorkflow: true },
		headers: [{ name: 'Idempotency-Key', description: '1 to 200 printable ASCII characters; default: the sha256 of the body.' }],
		responses: {
			202: { description: 'Accepted: started, or queued behind a run of the same group or for a free slot.', schema: 'RunAccepted' },
			200: { description: 'A duplicate: this key was seen before; the first run\'s id.', schema: 'RunAccepted' },
		},
		errors: [409, 422, 503],
		newWork: true,
		handle: submitRun,
	},
	{
		method: 'GET',
		path: '/v1/runs',
		operationId: 'listRuns',
		summary: 'Runs, newest first: those of this server (queued ones too) and the workspace history',
		query: [{ name: 'limit', description: 'At most this many (1–1000, default 50).', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 50 } }],
		responses: { 200: { description: 'The runs.', schema: 'RunList' } },
		errors: [400],
		handle: getRuns,
	},
	{
		method: 'GET',
		path: '/v1/runs/{id}',
		operationId: 'getRun',
		summary: "A run's status and its steps (state, attempt, times, duration, error, the decision a step waits for) and log",
		responses: { 200: { description: 'The run.', schema: 'RunDetail' } },
		handle: getRun,
	},
	{
		method: 'POST',
		path: '/v1/runs/{id}/cancel',
		operationId: 'cancelRun',
		summary: 'Cancel a queued or running run of this server',
		description: 'Takes no body. A queued run is cancelled at once (200); a running one stops its steps (202, then GET the run).',
		responses: { 200: { description: 'It was queued and is cancelled.', schema: 'CancelResult' }, 202: { description: 'It is running; its steps are being stopped.', schema: 'CancelResult' } },
		errors: [409],
		handle: cancelRun,
	},
	{
		method: 'POST',
		path: '/v1/goals',
		operationId: 'submitGoal',
		summary: 'Orchestrate a goal in the background: analyse, plan (saved under .quantum/plans/), run, recover',
		description: 'Without plan_only the plan runs at once; its decisions (and a revised plan after a failure) wait in GET /v1/decisions when wait_for_decisions is true, and are refused otherwise.',
		body: { schema: 'GoalRequest' },
		responses: { 202: { description: 'The session started.', schema: 'GoalAccepted' } },
		errors: [422, 503],
		newWork: true,
		handle: submitGoal,
	},
	{
		method: 'GET',
		path: '/v1/goals',
		operationId: 'listGoals',
		summary: 'Goals of this server, newest first',
		responses: { 200: { description: 'The goals.', schema: 'GoalList' } },
		handle: getGoals,
	},
	{
		method: 'GET',
		path: '/v1/goals/{id}',
		operationId: 'getGoal',
		summary: "A goal's state, transitions, plan file and runs",
		responses: { 200: { description: 'The goal.', schema: 'GoalDetail' } },
		handle: getGoal,
	},
	{
		method: 'GET',
		path: '/v1/decisions',
		operationId: 'listDecisions',
		summary: 'Decisions waiting for an answer, oldest first',
		responses: { 200: { description: 'The pending decisions.', schema: 'DecisionList' } },
		handle: getDecisions,
	},
	{
		method: 'POST',
		path: '/v1/decisions/{id}',
		operationId: 'answerDecision',
		summary: 'Answer a pending decision',
		body: { schema: 'DecisionAnswer' },
		responses: { 200: { description: 'Answered; the run goes on.', schema: 'DecisionAnswered' } },
		errors: [422],
		handle: answerDecision,
	},
	{
		method: 'GET',
		path: '/v1/state',
		operationId: 'getState',
		summary: 'The server: uptime, runs running and queued, pending decisions, active goals',
		responses: { 200: { description: 'The state.', schema: 'State' } },
		handle: getState,
	},
	{
		method: 'POST',
		path: '/v1/checkpoints',
		operationId: 'createCheckpoint',
		summary: 'Save a checkpoint of the files runs touched (or of the given paths)',
		body: { schema: 'CheckpointRequest' },
		responses: { 201: { description: 'Saved.', schema: 'Checkpoint' } },
		errors: [409, 422],
		handle: createCheckpoint,
	},
	{
		method: 'GET',
		path: '/metrics',
		operationId: 'metrics',
		summary: 'Metrics in Prometheus text format 0.0.4 (needs the bearer token too)',
		responses: { 200: { description: 'Exposition text.', text: 'text/plain; version=0.0.4' } },
		handle: getMetrics,
	},
];

export interface RouteMatch {
	route: Route;
	params: Record<string, string>;
}

const compiled = API_ROUTES.map((route) => ({
	route,
	names: [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]),
	regex: new RegExp(`^${route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '([^/]+)')}$`),
}));

/** The route for a method and path; `allow` lists the methods the path takes when the method is wrong. */
export function matchRoute(method: string, pathname: string): RouteMatch | { allow: string[] } | undefined {
	const allow: string[] = [];
	for (const c of compiled) {
		const m = c.regex.exec(pathname);
		if (!m) continue;
		if (c.route.method !== method) {
			allow.push(c.route.method);
			continue;
		}
		const params: Record<string, string> = {};
		c.names.forEach((name, i) => (params[name] = decodeURIComponent(m[i + 1])));
		return { route: c.route, params };
	}
	return allow.length ? { allow } : undefined;
}
