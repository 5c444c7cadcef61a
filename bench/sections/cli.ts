// 2) The whole CLI: `qo run FILE --quiet` on a generated workflow file, phase by phase, against p-graph + Node start-up.
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { generateDag } from '../dag';
import { interleave, Progress } from '../progress';
import type { Check, SectionReport, Table } from '../report';
import { runWorker, timeProcess } from '../spawn';
import { fmtCount, fmtMs, median } from '../stats';
import { seedFor, type Suite } from '../suite';
import type { PhasesResult, SchedResult } from '../tasks';
import { workflowText } from '../workflows';

const ROOT = path.join(__dirname, '..', '..');
const QO = path.join(ROOT, 'bin', 'qo.js');
const CLI_BUNDLE = path.join(ROOT, 'dist', 'cli.js');

type CliRunner = 'node' | 'cli-load' | 'qo-run' | 'phases' | 'pgraph';
const RUNNERS: CliRunner[] = ['node', 'cli-load', 'qo-run', 'phases', 'pgraph'];

async function withWorkspace<T>(file: string, fn: (ws: string, wf: string) => Promise<T>): Promise<T> {
	const ws = await mkdtemp(path.join(tmpdir(), 'qo-bench-cli-'));
	try {
		const wf = path.join(ws, 'bench.workflow.json');
		await copyFile(file, wf);
		return await fn(ws, wf);
	} finally {
		await rm(ws, { recursive: true, force: true });
	}
}

export async function cliSection(suite: Suite): Promise<SectionReport> {
	const { n, shape, concurrency, reps } = suite.cli;
	const seed = seedFor(shape, n);
	const dir = await mkdtemp(path.join(tmpdir(), 'qo-bench-file-'));
	const file = path.join(dir, 'bench.workflow.json');
	await writeFile(file, workflowText(generateDag(shape, n, seed), concurrency));
	const wall: Record<CliRunner, number[]> = { node: [], 'cli-load': [], 'qo-run': [], phases: [], pgraph: [] };
	const phases: PhasesResult[] = [];
	const pgraph: number[] = [];
	const errors: string[] = [];
	const progress = new Progress('2) whole CLI', reps * RUNNERS.length);
	try {
		for (const { runner, rep } of interleave([0], () => reps, () => RUNNERS)) {
			const label = `${runner} #${rep + 1}`;
			try {
				await progress.step(
					label,
					async () => {
						if (runner === 'node') {
							const r = await timeProcess(process.execPath, ['-e', '']);
							wall.node.push(r.wallMs);
							return r.wallMs;
						}
						if (runner === 'cli-load') {
							const r = await timeProcess(process.execPath, ['-e', `require(${JSON.stringify(CLI_BUNDLE)})`]);
							if (r.code !== 0) throw new Error(r.stderr.trim());
							wall['cli-load'].push(r.wallMs);
							return r.wallMs;
						}
						if (runner === 'qo-run') {
							return withWorkspace(file, async (ws, wf) => {
								const r = await timeProcess(process.execPath, [QO, 'run', wf, '--quiet'], ws);
								if (r.code !== 0) throw new Error(`qo run exited ${r.code}: ${(r.stdout + r.stderr).trim().slice(0, 400)}`);
								wall['qo-run'].push(r.wallMs);
								return r.wallMs;
							});
						}
						if (runner === 'phases') {
							return withWorkspace(file, async (ws, wf) => {
								const r = await runWorker<PhasesResult>({ kind: 'phases', file: wf, workspace: ws });
								if (r.result.status !== 'succeeded') throw new Error(`run ended ${r.result.status}`);
								phases.push(r.result);
								wall.phases.push(r.wallMs);
								return r.wallMs;
							});
						}
						const r = await runWorker<SchedResult>({ kind: 'sched', runner: 'pgraph', shape, n, seed, concurrency });
						pgraph.push(r.result.runMs);
						wall.pgraph.push(r.wallMs);
						return r.result.runMs;
					},
					fmtMs,
				);
			} catch (err) {
				const message = `${label}: ${err instanceof Error ? err.message : String(err)}`;
				errors.push(message);
				process.stderr.write(`  sample failed: ${message}\n`);
			}
		}
	} finally {
		await rm(dir, { recursive: true, force: true });
	}

	const m = (pick: (p: PhasesResult) => number) => median(phases.map(pick));
	const sum = (r: Record<string, number>, only?: (t: string) => boolean) => Object.entries(r).reduce((a, [t, v]) => a + (!only || only(t) ? v : 0), 0);
	// Records appended outside the run's execute(): the first (`run`, with the workflow snapshot) and the last.
	const outside = (t: string) => t === 'run' || t === 'run-end';
	const startup = median(wall.node);
	const bundleLoad = median(wall['cli-load']) - startup;
	const load = m((p) => p.loadMs);
	const plan = m((p) => p.planMs);
	const journal = m((p) => sum(p.journal.appendMs) + p.journal.commitMs);
	const runRecord = m((p) => p.journal.appendMs.run ?? 0);
	const runRecordMiB = m((p) => p.journal.chars.run ?? 0) / 1048576;
	const stepRecords = m((p) => sum(p.journal.appendMs, (t) => !outside(t)));
	const commits = m((p) => p.journal.commitMs);
	const scheduling = m((p) => p.executeMs - sum(p.journal.appendMs, (t) => !outside(t)));
	const other = m((p) => p.runMs - p.planMs - p.executeMs - sum(p.journal.appendMs, outside) - p.journal.commitMs);
	const inProcess = m((p) => p.loadMs + p.runMs);
	const endToEnd = median(wall['qo-run']);
	const pgraphMs = median(pgraph);
	const budget = pgraphMs + startup;
	const perStep = (ms: number) => `${((ms * 1e6) / n / 1000).toFixed(2)} µs/step`;
	const rows: string[][] = [
		['Node start-up (node -e \'\')', fmtMs(startup), ''],
		['CLI bundle load (require dist/cli.js, minus start-up)', fmtMs(bundleLoad), ''],
		['read + parse + validate (engine.load)', fmtMs(load), perStep(load)],
		['plan: graph, critical path, parameters (engine.plan)', fmtMs(plan), perStep(plan)],
		['scheduling + handlers (run duration − journal appends)', fmtMs(scheduling), perStep(scheduling)],
		['journaling (append: encode + CRC; commits: write + fdatasync)', fmtMs(journal), perStep(journal)],
		[`  · the run record (a ${runRecordMiB.toFixed(1)} MiB snapshot of the workflow)`, fmtMs(runRecord), ''],
		['  · step records (step-end, …)', fmtMs(stepRecords), perStep(stepRecords)],
		['  · group commits (write + fdatasync, wall)', fmtMs(commits), ''],
		['other run bookkeeping (run dir, lock, summaries, context)', fmtMs(other), ''],
		['= in-process total (load + run)', fmtMs(inProcess), perStep(inProcess)],
		[`qo run FILE --quiet, end to end (fresh process)`, fmtMs(endToEnd), perStep(endToEnd)],
		[`p-graph in-process (${fmtCount(n)} ${shape}) + Node start-up`, fmtMs(budget), ''],
	];
	const table: Table = {
		title: `2) The whole CLI: qo run on a ${fmtCount(n)}-step ${shape} workflow file, concurrency ${concurrency} (median of ${reps} fresh processes each)`,
		head: ['phase', 'median', 'per step'],
		rows,
		notes: [
			'phases come from a worker doing what the CLI does through the engine API (events listened to, as `qo run` always does);',
			'engine.run plans again internally, so "plan" is also inside the run; other = run − plan − execute − records outside it − commits.',
			`machine load (1-min average): median ${progress.load().median.toFixed(2)}, max ${progress.load().max.toFixed(2)}.`,
			...errors.map((e) => `failed sample: ${e}`),
		],
	};
	const pass = endToEnd <= budget;
	const checks: Check[] = [
		{ section: '2', name: `qo run ${fmtCount(n)} steps end to end ≤ p-graph in-process + Node start-up`, target: `≤ ${fmtMs(budget)}`, measured: fmtMs(endToEnd), pass },
	];
	const figures = {
		steps: n,
		shape,
		concurrency,
		reps,
		medianMs: { nodeStartup: startup, cliBundleLoad: bundleLoad, load, plan, scheduling, journal, runRecord, stepRecords, commits, other, inProcess, endToEnd, pgraphInProcess: pgraphMs, budget },
		runRecordMiB,
		load: progress.load(),
		samples: { wallMs: wall, phases, pgraphRunMs: pgraph },
		errors,
	};
	return { name: 'cli', tables: [table], checks, figures };
}
