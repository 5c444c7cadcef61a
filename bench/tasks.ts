// The messages between bench/run.ts and a worker process: one task in (argv), one result out (a marked stdout line).
import type { Shape } from './dag';

export type SchedRunner = 'engine' | 'engine-events' | 'floor' | 'pgraph';
export type MakespanRunner = 'engine' | 'engine-warm' | 'floor' | 'pgraph';
export type WriteRunner = 'engine' | 'plain-sync' | 'plain-nosync';

/** Zero-duration steps: overhead per step and peak memory. */
export interface SchedTask {
	kind: 'sched';
	runner: SchedRunner;
	shape: Shape;
	n: number;
	seed: number;
	concurrency: number;
}

/** 1–50 ms waits: makespan against the lower bound. */
export interface MakespanTask {
	kind: 'makespan';
	runner: MakespanRunner;
	shape: Shape;
	n: number;
	seed: number;
	concurrency: number;
}

/** The CLI's phases through the engine API, on a workflow file written by the parent. */
export interface PhasesTask {
	kind: 'phases';
	file: string;
	workspace: string;
}

/** 2,000 file writes: journaled by the engine, or plain with and without fsync. */
export interface WriteTask {
	kind: 'writes';
	runner: WriteRunner;
	creates: number;
	modifies: number;
	bytes: number;
	concurrency: number;
	seed: number;
}

export type Task = SchedTask | MakespanTask | PhasesTask | WriteTask;

/** Peak resident set rise in bytes over the baseline taken after the input was built. */
export interface MemoryFigures {
	/** How the peak was read: VmHWM after resetting it (/proc/self/clear_refs), or maxRSS (never reset). */
	method: 'vmhwm' | 'maxrss';
	baseline: number;
	rise: number;
	/** Engine only: the rise while running, measured from after parsing. */
	runRise?: number;
}

export interface SchedResult {
	kind: 'sched';
	/** Engine only: read nothing, JSON.parse + validate the workflow text (engine.parse). */
	parseMs?: number;
	/** Build + schedule + run every step (engine: engine.run, which plans, journals and runs). */
	runMs: number;
	/** CPU time (user + system, all threads) over the same span: less sensitive to a busy machine than wall time. */
	cpuMs: number;
	status: string;
	events?: number;
	memory: MemoryFigures;
	/** Engine only: when parse and run happened, in µs of process.hrtime (the clock of --cpu-prof profiles). */
	windows?: { parse: [number, number]; run: [number, number] };
}

export interface MakespanResult {
	kind: 'makespan';
	makespanMs: number;
	criticalPathMs: number;
	totalWorkMs: number;
	lowerBoundMs: number;
	/** Engine only: wall time of the whole engine.run call (plan, journal, bookkeeping included). */
	runMs?: number;
	/** Engine only: the run's own duration (execute start → scheduler done, ms clock). */
	engineDurationMs?: number;
	status: string;
}

/** Journal.append (encode + buffer) by record type, and group commits (write + fdatasync). */
export interface JournalCounters {
	appendMs: Record<string, number>;
	appends: Record<string, number>;
	/** Characters appended by record type (the `run` record carries a snapshot of the whole workflow). */
	chars: Record<string, number>;
	commitMs: number;
	commits: number;
}

export interface PhasesResult {
	kind: 'phases';
	steps: number;
	/** Process start → worker ready (bundle loaded). */
	startupMs: number;
	loadMs: number;
	planMs: number;
	runMs: number;
	/** The run's own duration (scheduler start → last step final), from the engine. */
	executeMs: number;
	journal: JournalCounters;
	events: number;
	status: string;
}

export interface WriteResult {
	kind: 'writes';
	writeMs: number;
	/** Engine only. */
	rollbackMs?: number;
	restored?: number;
	removed?: number;
	conflicts?: number;
	/** Rollback left every file with its starting bytes (creates gone, modifies back). */
	verified?: boolean;
	status: string;
}

export type TaskResult = SchedResult | MakespanResult | PhasesResult | WriteResult;

/** Prefix of the one stdout line that carries the result. */
export const RESULT_MARK = '@@bench-result ';
