// One sample in a fresh process: `node bench/out/worker.js '<task json>'` (bundled by run.ts) prints one result line.
import { depIds, generateDag, lowerBound, type Dag } from './dag';
import { engineMakespan, enginePhases, engineSched } from './engineRunner';
import { runWrites } from './fileWrites';
import { runFloor, type StepFn } from './floor';
import { PeakMemory } from './memory';
import { runPGraph } from './pgraphRunner';
import { RESULT_MARK, type MakespanResult, type MakespanTask, type SchedResult, type SchedTask, type Task, type TaskResult } from './tasks';

type Runner = typeof runFloor;

const zeroStep: StepFn = async () => undefined;

async function peerSched(task: SchedTask, dag: Dag, runner: Runner): Promise<SchedResult> {
	const deps = depIds(dag);
	const mem = new PeakMemory();
	const cpu = process.cpuUsage();
	const t = performance.now();
	await runner(dag.ids, deps, undefined, zeroStep, task.concurrency);
	const runMs = performance.now() - t;
	const used = process.cpuUsage(cpu);
	const memory = { method: mem.method, baseline: mem.baseline, rise: mem.rise() };
	return { kind: 'sched', runMs, cpuMs: (used.user + used.system) / 1000, status: 'succeeded', memory };
}

/** Makespan from the first step's start to the last step's end, with critical-path weights (real durations). */
async function peerMakespan(task: MakespanTask, dag: Dag, runner: Runner): Promise<MakespanResult> {
	const deps = depIds(dag);
	let first = -1;
	const step: StepFn = (i) => {
		if (first < 0) first = performance.now();
		return new Promise((resolve) => setTimeout(resolve, dag.durations[i]));
	};
	await runner(dag.ids, deps, dag.durations, step, task.concurrency);
	return { kind: 'makespan', makespanMs: performance.now() - first, status: 'succeeded', ...lowerBound(dag, task.concurrency) };
}

async function perform(task: Task): Promise<TaskResult> {
	switch (task.kind) {
		case 'sched': {
			const dag = generateDag(task.shape, task.n, task.seed);
			if (task.runner === 'floor') return peerSched(task, dag, runFloor);
			if (task.runner === 'pgraph') return peerSched(task, dag, runPGraph);
			return engineSched(task, dag);
		}
		case 'makespan': {
			const dag = generateDag(task.shape, task.n, task.seed, true);
			if (task.runner === 'floor') return peerMakespan(task, dag, runFloor);
			if (task.runner === 'pgraph') return peerMakespan(task, dag, runPGraph);
			return engineMakespan(task, dag);
		}
		case 'phases':
			return enginePhases(task);
		case 'writes':
			return runWrites(task);
	}
}

perform(JSON.parse(process.argv[2] ?? '{}') as Task).then(
	(result) => process.stdout.write(`${RESULT_MARK}${JSON.stringify(result)}\n`),
	(err: unknown) => {
		process.stderr.write(`worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
		process.exitCode = 1;
	},
);
