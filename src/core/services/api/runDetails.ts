// One run as the API shows it: the dispatcher's view (queued, running, where it came from) joined with what the run's
// summary and journal say (status, counts, each step's state, timing and error), plus the decisions it waits for.
import type { Engine } from '../../engine';
import { describeJournal } from '../../engine/runJournalLog';
import { StateError } from '../../errors';
import { readJournal } from '../../state/journal';
import { forEachStepEnd, type JournalRecord } from '../../state/records';
import { loadRunSummary, runPaths, type RunSummary } from '../../state/runStore';
import type { PendingDecision } from '../triggers/decisionBroker';
import type { DispatchedRun } from '../triggers/dispatcher';
import type { z } from 'zod';
import type { runDetailSchema, runListItemSchema, stepDetailSchema } from './schemas';

export type RunListItem = z.infer<typeof runListItemSchema>;
export type RunDetail = z.infer<typeof runDetailSchema>;
export type StepDetail = z.infer<typeof stepDetailSchema>;

const iso = (ms: number | undefined) => (ms === undefined || ms === 0 ? undefined : new Date(ms).toISOString());

/** Drops undefined members, so bodies hold only what is known. */
export function compact<T extends Record<string, unknown>>(obj: T): T {
	for (const k of Object.keys(obj)) if (obj[k] === undefined) delete obj[k];
	return obj;
}

/** A run from the dispatcher, the history, or both (the history's status wins once the run is over: it may be rolled back since). */
export function runListItem(d: DispatchedRun | undefined, s: RunSummary | undefined): RunListItem {
	const finished = !d || d.state === 'finished';
	const status = d && d.state !== 'finished' ? d.state : finished && s ? s.status : (d?.status ?? 'interrupted');
	const startedAt = s?.startedAt || d?.startedAt;
	return compact({
		run_id: (d?.runId ?? s?.runId) as string,
		workflow: d?.workflow ?? s?.workflow ?? '',
		status,
		source: d?.source,
		origin: d?.origin,
		submitted_at: iso(d?.submittedAt),
		started_at: iso(startedAt),
		finished_at: iso(d?.finishedAt ?? (s?.durationMs !== undefined && s.startedAt ? s.startedAt + s.durationMs : undefined)),
		duration_ms: s?.durationMs ?? (d?.finishedAt && d.startedAt ? d.finishedAt - d.startedAt : undefined),
		message: d?.message,
		counts: s?.steps,
		committed: s ? s.committed : undefined,
	});
}

/** Known runs, newest first: the dispatcher's (queued ones too) and the engine's history (runs started anywhere). */
export async function listRuns(engine: Engine, dispatched: DispatchedRun[], limit: number): Promise<RunListItem[]> {
	const history = await engine.runs();
	const byId = new Map<string, { d?: DispatchedRun; s?: RunSummary }>();
	for (const s of history) byId.set(s.runId, { s });
	for (const d of dispatched) byId.set(d.runId, { ...byId.get(d.runId), d });
	const when = (x: { d?: DispatchedRun; s?: RunSummary }) => x.d?.submittedAt ?? x.s?.startedAt ?? 0;
	return [...byId.values()]
		.sort((a, b) => when(b) - when(a) || ((b.d?.runId ?? b.s?.runId ?? '') < (a.d?.runId ?? a.s?.runId ?? '') ? -1 : 1))
		.slice(0, limit)
		.map((x) => runListItem(x.d, x.s));
}

interface StepInfo {
	id: string;
	type: string;
	operation: string;
	dependencies: string[];
}

/** Per run: its workflow's steps (they never change once a run started), so polling a run reads its workflow once. */
const stepCache = new Map<string, StepInfo[]>();
const STEP_CACHE_MAX = 500;

async function workflowSteps(engine: Engine, runId: string): Promise<StepInfo[] | undefined> {
	const key = `${engine.stateDir}\0${runId}`;
	const cached = stepCache.get(key);
	if (cached) return cached;
	try {
		const wf = await engine.runWorkflow(runId);
		const steps = wf.instructions.map((i) => ({ id: i.id, type: i.type, operation: i.operation, dependencies: [...i.dependencies] }));
		if (stepCache.size >= STEP_CACHE_MAX) stepCache.delete(stepCache.keys().next().value as string);
		stepCache.set(key, steps);
		return steps;
	} catch {
		return undefined;
	}
}

/** Each step's latest state from the journal, in workflow order; steps the journal never mentions are pending. */
export function stepsFromJournal(records: readonly JournalRecord[], steps: StepInfo[] | undefined, waiting: readonly PendingDecision[]): StepDetail[] {
	const byId = new Map<string, StepDetail>();
	const order: string[] = [];
	const entry = (id: string): StepDetail => {
		let e = byId.get(id);
		if (!e) {
			e = { id, state: 'pending' };
			byId.set(id, e);
			order.push(id);
		}
		return e;
	};
	for (const s of steps ?? []) Object.assign(entry(s.id), { type: s.type, operation: s.operation, dependencies: s.dependencies });
	for (const r of records) {
		if (r.t === 'step-start') {
			const e = entry(r.id);
			Object.assign(e, { state: 'running', attempt: r.attempt, started_at: iso(r.at) });
			delete e.finished_at;
			delete e.duration_ms;
			delete e.error;
		} else if (r.t === 'step-end') {
			const e = entry(r.id);
			Object.assign(e, compact({ state: r.status, attempt: r.attempt, started_at: e.started_at ?? iso(r.at - r.durationMs), finished_at: iso(r.at), duration_ms: r.durationMs, error: r.error }));
		} else if (r.t === 'step-ends') {
			// Pure steps are journaled only when they end, in batches: their start is their end less their duration.
			forEachStepEnd(r, (id, attempt, at, durationMs) => {
				const e = entry(id);
				Object.assign(e, { state: 'succeeded', attempt, started_at: e.started_at ?? iso(at - durationMs), finished_at: iso(at), duration_ms: durationMs });
			});
		} else if (r.t === 'resume') {
			// A resumed run starts its unfinished steps again: what ran when it stopped is no longer running.
			for (const e of byId.values()) if (e.state === 'running') e.state = 'pending';
		}
	}
	for (const w of waiting) {
		const e = byId.get(w.request.stepId);
		if (e && (e.state === 'running' || e.state === 'pending')) Object.assign(e, { state: 'waiting', decision_id: w.request.id });
	}
	return order.map((id) => byId.get(id) as StepDetail);
}

/** The run by exact id, or undefined when neither the dispatcher nor the state folder knows it. */
export async function runDetail(engine: Engine, d: DispatchedRun | undefined, runId: string, pending: readonly PendingDecision[]): Promise<RunDetail | undefined> {
	let summary: RunSummary | undefined;
	try {
		summary = await loadRunSummary(engine.stateDir, runId);
	} catch (err) {
		// An id that cannot be a run folder's name is simply unknown.
		if (!StateError.is(err, 'not-found')) throw err;
	}
	if (!d && !summary) return undefined;
	const item = runListItem(d, summary);
	let records: JournalRecord[] = [];
	if (summary) {
		try {
			const journal = await readJournal(runPaths(engine.stateDir, runId).journal);
			records = [...journal.records];
		} catch (err) {
			if (!StateError.is(err, 'not-found')) throw err;
		}
	}
	const waiting = pending.filter((p) => p.request.runId === runId);
	const steps = records.length ? stepsFromJournal(records, await workflowSteps(engine, runId), waiting) : [];
	return compact({ ...item, group: d?.group, steps, log: records.length ? describeJournal(records) : undefined });
}
