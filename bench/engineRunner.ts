// The engine as a user runs it: createEngine on a temporary workspace, parse the workflow text, engine.run (which
// plans, journals under .quantum/ and runs). Steps are `util wait` (ms 0: no timer).
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { createEngine } from '../src/core/engine';
import { FINAL_STEP_STATES } from '../src/core/engine/events';
import { Journal } from '../src/core/state/journal';
import { lowerBound, type Dag } from './dag';
import { PeakMemory } from './memory';
import type { JournalRecord } from '../src/core/state/records';
import type { JournalCounters, MakespanResult, MakespanTask, PhasesResult, PhasesTask, SchedResult, SchedTask } from './tasks';
import { WORKFLOW_NAME, workflowText } from './workflows';
import { tempWorkspace } from './workspace';

const hrtimeUs = () => Number(process.hrtime.bigint() / 1000n);

export async function engineSched(task: SchedTask, dag: Dag): Promise<SchedResult> {
	const text = workflowText(dag, task.concurrency);
	const ws = await tempWorkspace();
	try {
		const engine = await createEngine({ workspace: ws.dir });
		let events = 0;
		if (task.runner === 'engine-events') engine.events.on(() => events++);
		const mem = new PeakMemory();
		const parseStart = hrtimeUs();
		let t = performance.now();
		const workflow = engine.parse(text);
		const parseMs = performance.now() - t;
		const parseEnd = hrtimeUs();
		const parsePeak = mem.peak();
		const runMem = new PeakMemory();
		const runStart = hrtimeUs();
		const cpu = process.cpuUsage();
		t = performance.now();
		const result = await engine.run(workflow);
		const runMs = performance.now() - t;
		const cpuUsed = process.cpuUsage(cpu);
		const runEnd = hrtimeUs();
		const runPeak = runMem.peak();
		return {
			kind: 'sched',
			parseMs,
			runMs,
			cpuMs: (cpuUsed.user + cpuUsed.system) / 1000,
			status: result.status,
			events: task.runner === 'engine-events' ? events : undefined,
			memory: {
				method: mem.method,
				baseline: mem.baseline,
				rise: Math.max(0, Math.max(parsePeak, runPeak) - mem.baseline),
				runRise: Math.max(0, runPeak - runMem.baseline),
			},
			windows: { parse: [parseStart, parseEnd], run: [runStart, runEnd] },
		};
	} finally {
		await ws.dispose();
	}
}

/** engine-warm: .quantum/stats.json holds each step's real duration, as after an earlier run of the same file. */
export async function engineMakespan(task: MakespanTask, dag: Dag): Promise<MakespanResult> {
	const text = workflowText(dag, task.concurrency);
	const ws = await tempWorkspace();
	try {
		if (task.runner === 'engine-warm') {
			const steps: Record<string, { meanMs: number; samples: number }> = {};
			dag.ids.forEach((id, i) => (steps[`${WORKFLOW_NAME}#${id}`] = { meanMs: dag.durations[i], samples: 1 }));
			await mkdir(path.join(ws.dir, '.quantum'), { recursive: true });
			await writeFile(path.join(ws.dir, '.quantum', 'stats.json'), JSON.stringify({ version: 1, steps }));
		}
		const engine = await createEngine({ workspace: ws.dir });
		// First step start → last step end, as for the peers: the events fire synchronously at each transition.
		let first = -1;
		let last = -1;
		engine.events.on((e) => {
			if (e.type !== 'step') return;
			if (e.state === 'running') {
				if (first < 0) first = performance.now();
			} else if (FINAL_STEP_STATES.has(e.state)) last = performance.now();
		});
		const workflow = engine.parse(text);
		const t = performance.now();
		const result = await engine.run(workflow);
		const runMs = performance.now() - t;
		return {
			kind: 'makespan',
			makespanMs: last - first,
			engineDurationMs: result.durationMs,
			runMs,
			status: result.status,
			...lowerBound(dag, task.concurrency),
		};
	} finally {
		await ws.dispose();
	}
}

/** Times Journal.append (encode + buffer, synchronous) and each group commit (write + fdatasync, async). */
function instrumentJournal(): JournalCounters {
	const counters: JournalCounters = { appendMs: {}, appends: {}, chars: {}, commitMs: 0, commits: 0 };
	type Proto = {
		append(this: Journal, rec: JournalRecord): void;
		/** Records serialized by the caller (batched pure step ends): counted with the others, by type. */
		appendPayload?(this: Journal, t: JournalRecord['t'], payload: Uint8Array): void;
		commit(this: Journal, batch: string[], target: number): Promise<void>;
		pending: string[];
	};
	const proto = Journal.prototype as unknown as Proto;
	const append = proto.append;
	const appendPayload = proto.appendPayload;
	const commit = proto.commit;
	const count = (journal: Journal, t: string, ms: number) => {
		const pending = (journal as unknown as Partial<Proto>).pending;
		counters.appendMs[t] = (counters.appendMs[t] ?? 0) + ms;
		counters.appends[t] = (counters.appends[t] ?? 0) + 1;
		counters.chars[t] = (counters.chars[t] ?? 0) + (pending?.[pending.length - 1]?.length ?? 0);
	};
	proto.append = function (rec) {
		const t = performance.now();
		append.call(this, rec);
		count(this, rec.t, performance.now() - t);
	};
	if (appendPayload) {
		proto.appendPayload = function (type, payload) {
			const t = performance.now();
			appendPayload.call(this, type, payload);
			count(this, type, performance.now() - t);
		};
	}
	// The journal's internals may change under the lead's hands: time commits only while `commit` exists.
	if (typeof commit !== 'function') return counters;
	proto.commit = async function (batch, target) {
		const t = performance.now();
		try {
			await commit.call(this, batch, target);
		} finally {
			counters.commitMs += performance.now() - t;
			counters.commits++;
		}
	};
	return counters;
}

/** What `qo run FILE` does, phase by phase, through the engine's API (it listens to events, as the CLI always does). */
export async function enginePhases(task: PhasesTask): Promise<PhasesResult> {
	const startupMs = performance.now();
	const journal = instrumentJournal();
	const engine = await createEngine({ workspace: task.workspace });
	let events = 0;
	engine.events.on(() => events++);
	let t = performance.now();
	const workflow = await engine.load(task.file);
	const loadMs = performance.now() - t;
	t = performance.now();
	await engine.plan(workflow);
	const planMs = performance.now() - t;
	t = performance.now();
	const result = await engine.run(workflow);
	const runMs = performance.now() - t;
	return {
		kind: 'phases',
		steps: workflow.instructions.length,
		startupMs,
		loadMs,
		planMs,
		runMs,
		executeMs: result.durationMs,
		journal,
		events,
		status: result.status,
	};
}
