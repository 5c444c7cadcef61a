// The engine as a user runs it: createEngine on a temporary workspace, parse the workflow text, engine.run (which
// plans, journals under .quantum/ and runs). Steps are `util wait` (ms 0: no timer).
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { createEngine } from '../src/core/engine';
import { Journal } from '../src/core/state/journal';
import { depIds, lowerBound, type Dag } from './dag';
import { PeakMemory } from './memory';
import type { MakespanResult, MakespanTask, PhasesResult, PhasesTask, SchedResult, SchedTask } from './tasks';
import { tempWorkspace } from './workspace';

export const WORKFLOW_NAME = 'bench';

export function workflowText(dag: Dag, concurrency: number): string {
	const deps = depIds(dag);
	const instructions = dag.ids.map((id, i) => ({
		id,
		type: 'util',
		operation: 'wait',
		parameters: { ms: dag.durations[i] },
		dependencies: deps[i],
	}));
	return JSON.stringify({ version: 1, name: WORKFLOW_NAME, settings: { mode: 'parallel', max_parallel: concurrency, on_failure: 'stop' }, instructions });
}

export async function engineSched(task: SchedTask, dag: Dag): Promise<SchedResult> {
	const text = workflowText(dag, task.concurrency);
	const ws = await tempWorkspace();
	try {
		const engine = await createEngine({ workspace: ws.dir });
		let events = 0;
		if (task.runner === 'engine-events') engine.events.on(() => events++);
		const mem = new PeakMemory();
		let t = performance.now();
		const workflow = engine.parse(text);
		const parseMs = performance.now() - t;
		const parsePeak = mem.peak();
		const runMem = new PeakMemory();
		t = performance.now();
		const result = await engine.run(workflow);
		const runMs = performance.now() - t;
		const runPeak = runMem.peak();
		return {
			kind: 'sched',
			parseMs,
			runMs,
			status: result.status,
			events: task.runner === 'engine-events' ? events : undefined,
			memory: {
				method: mem.method,
				baseline: mem.baseline,
				rise: Math.max(0, Math.max(parsePeak, runPeak) - mem.baseline),
				runRise: Math.max(0, runPeak - runMem.baseline),
			},
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
		const workflow = engine.parse(text);
		const t = performance.now();
		const result = await engine.run(workflow);
		const runMs = performance.now() - t;
		return { kind: 'makespan', makespanMs: result.durationMs, runMs, status: result.status, ...lowerBound(dag, task.concurrency) };
	} finally {
		await ws.dispose();
	}
}

interface JournalCounters {
	appendMs: number;
	appends: number;
	commitMs: number;
	commits: number;
	bytes: number;
}

/** Times Journal.append (encode + buffer, synchronous) and each group commit (write + fdatasync, async). */
function instrumentJournal(): JournalCounters {
	const counters: JournalCounters = { appendMs: 0, appends: 0, commitMs: 0, commits: 0, bytes: 0 };
	type Proto = { append(this: Journal, rec: unknown): void; commit(this: Journal, batch: string[], target: number): Promise<void> };
	const proto = Journal.prototype as unknown as Proto;
	const append = proto.append;
	const commit = proto.commit;
	proto.append = function (rec) {
		const t = performance.now();
		append.call(this, rec);
		counters.appendMs += performance.now() - t;
		counters.appends++;
	};
	proto.commit = async function (batch, target) {
		const t = performance.now();
		for (const line of batch) counters.bytes += line.length;
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
