// /v1/runs: submit through the dispatcher (the front door every trigger uses), list, show one, cancel.
import { ApiError } from './errors';
import { compact, listRuns, runDetail } from './runDetails';
import { parseSubmission } from './submission';
import type { ApiContext, ApiReply, ApiRequest } from './types';
import { limitParam } from './validate';

export async function submitRun(ctx: ApiContext, req: ApiRequest): Promise<ApiReply> {
	const s = parseSubmission(ctx.engine, req.headers, req.body!);
	const r = await ctx.dispatcher.submit({
		workflow: s.workflow,
		source: 'api',
		idempotencyKey: s.idempotencyKey,
		unattended: true,
		waitForDecisions: s.waitForDecisions,
		...(s.group !== undefined ? { group: s.group } : {}),
		...(s.policy ? { policy: s.policy } : {}),
		...(s.variables ? { variables: s.variables } : {}),
		...(s.origin ? { origin: s.origin } : {}),
	});
	switch (r.status) {
		case 'started':
		case 'queued':
			return { status: 202, json: compact({ run_id: r.runId, status: r.status, position: r.status === 'queued' ? r.position : undefined }), headers: { Location: `/v1/runs/${r.runId}` } };
		case 'duplicate':
			if (!r.runId) throw new ApiError(409, 'conflict', 'this Idempotency-Key was used before, for a run no longer known; send a new key');
			return { status: 200, json: { run_id: r.runId, status: 'duplicate', first_seen_at: new Date(r.firstSeenAt).toISOString() }, headers: { Location: `/v1/runs/${r.runId}` } };
		case 'skipped':
			throw new ApiError(409, 'skipped', r.reason);
		case 'refused':
			throw new ApiError(409, 'refused', r.reason, r.steps ? { steps: r.steps } : {});
		case 'invalid':
			throw new ApiError(422, 'invalid-workflow', r.error, { problems: r.error.split('\n').map((message) => ({ message })) });
	}
}

export async function getRuns(ctx: ApiContext, req: ApiRequest): Promise<ApiReply> {
	const limit = limitParam(req.query, 50, 1000);
	return { status: 200, json: { runs: await listRuns(ctx.engine, ctx.dispatcher.list(), limit) } };
}

export async function getRun(ctx: ApiContext, req: ApiRequest): Promise<ApiReply> {
	const id = req.params.id;
	const detail = await runDetail(ctx.engine, ctx.dispatcher.get(id), id, ctx.broker.list());
	if (!detail) throw notFound(id);
	return { status: 200, json: detail };
}

export async function cancelRun(ctx: ApiContext, req: ApiRequest): Promise<ApiReply> {
	const id = req.params.id;
	const before = ctx.dispatcher.get(id);
	if (ctx.dispatcher.cancel(id, 'cancelled through the API')) {
		const queued = before?.state === 'queued';
		return { status: queued ? 200 : 202, json: { run_id: id, status: queued ? 'cancelled' : 'cancelling' } };
	}
	if (before) throw new ApiError(409, 'conflict', `run ${id} is already over (${before.status ?? 'finished'})`);
	const known = await runDetail(ctx.engine, undefined, id, []);
	if (!known) throw notFound(id);
	if (known.status === 'running') throw new ApiError(409, 'conflict', `run ${id} was not started through this server (qo run, the extension or another process drives it): cancel it there`);
	throw new ApiError(409, 'conflict', `run ${id} is already over (${known.status})`);
}

function notFound(id: string): ApiError {
	return new ApiError(404, 'not-found', `no run ${JSON.stringify(id.slice(0, 140))}: list runs with GET /v1/runs`);
}
