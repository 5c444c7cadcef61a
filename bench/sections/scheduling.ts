// 1) Scheduling overhead: zero-duration steps at 1k / 10k / 100k, engine vs floor vs p-graph; and a 100k chain.
import { cpus } from 'node:os';
import type { Shape } from '../dag';
import { interleave, Progress } from '../progress';
import type { Check, SectionReport, Table } from '../report';
import { runWorker } from '../spawn';
import { fmtCount, fmtMs, fmtNs, fmtRatio, logLogSlope, median, pairedRatio } from '../stats';
import { seedFor, type Suite } from '../suite';
import type { SchedResult, SchedRunner } from '../tasks';

export type SchedSample = SchedResult & { rep: number };
export type SchedSamples = Map<string, SchedSample[]>;

export const schedKey = (runner: SchedRunner, shape: Shape, n: number) => `${runner}|${shape}|${n}`;

const LABEL: Record<SchedRunner, string> = { engine: 'engine', 'engine-events': 'engine+events', floor: 'floor', pgraph: 'p-graph' };

interface Cell {
	shape: Shape;
	n: number;
	reps: number;
	runners: readonly SchedRunner[];
}

async function sample(suite: Suite, cells: Cell[], samples: SchedSamples, errors: string[], title: string): Promise<{ median: number; max: number }> {
	const order = interleave(cells, (c) => c.reps, (c) => c.runners);
	const progress = new Progress(title, order.length);
	for (const { cell, runner, rep } of order) {
		const task = { kind: 'sched', runner, shape: cell.shape, n: cell.n, seed: seedFor(cell.shape, cell.n), concurrency: suite.sched.concurrency } as const;
		const label = `${LABEL[runner]} ${cell.shape} ${fmtCount(cell.n)} #${rep + 1}`;
		try {
			const { result } = await progress.step(
				label,
				() => runWorker<SchedResult>(task),
				(r) => `${fmtMs(r.result.runMs)}${r.result.parseMs !== undefined ? ` (+${fmtMs(r.result.parseMs)} parse)` : ''}`,
			);
			if (result.status !== 'succeeded') throw new Error(`run ended ${result.status}`);
			const key = schedKey(runner, cell.shape, cell.n);
			samples.set(key, [...(samples.get(key) ?? []), { ...result, rep }]);
		} catch (err) {
			const message = `${label}: ${err instanceof Error ? err.message : String(err)}`;
			errors.push(message);
			process.stderr.write(`  sample failed: ${message}\n`);
		}
	}
	return progress.load();
}

export function medianOf(samples: SchedSamples, key: string, pick: (r: SchedResult) => number | undefined): number {
	return median((samples.get(key) ?? []).map(pick).filter((v): v is number => v !== undefined));
}

function ratioOf(samples: SchedSamples, a: string, b: string, pick: (r: SchedResult) => number): number {
	const tagged = (key: string) => (samples.get(key) ?? []).map((s) => ({ rep: s.rep, value: pick(s) }));
	return pairedRatio(tagged(a), tagged(b));
}

export async function schedulingSection(suite: Suite): Promise<{ report: SectionReport; samples: SchedSamples }> {
	const { sizes, shapes, runners, reps, chain } = suite.sched;
	const samples: SchedSamples = new Map();
	const errors: string[] = [];
	const cells: Cell[] = [];
	for (const n of sizes) for (const shape of shapes) cells.push({ shape, n, reps: reps[n] ?? 1, runners });
	const load = await sample(suite, cells, samples, errors, '1) scheduling overhead');
	await sample(suite, [{ shape: 'chain', n: chain.n, reps: chain.reps, runners: chain.runners }], samples, errors, '1) 100k chain');

	const runMs = (r: SchedRunner, shape: Shape, n: number) => medianOf(samples, schedKey(r, shape, n), (x) => x.runMs);
	const parseMs = (shape: Shape, n: number) => medianOf(samples, schedKey('engine', shape, n), (x) => x.parseMs);
	const ratio = (a: SchedRunner, b: SchedRunner, shape: Shape, n: number, pick: (r: SchedResult) => number = (x) => x.runMs) =>
		ratioOf(samples, schedKey(a, shape, n), schedKey(b, shape, n), pick);
	const nsPerStep = (ms: number, n: number) => (ms * 1e6) / n;
	const checks: Check[] = [];
	const rows: string[][] = [];
	const cellFigures: unknown[] = [];
	const slopeFigures: Record<string, unknown> = {};
	const largest = Math.max(...sizes);
	for (const shape of shapes) {
		for (const n of sizes) {
			const ms = Object.fromEntries(runners.map((r) => [r, runMs(r, shape, n)])) as Record<SchedRunner, number>;
			const engineFloor = ratio('engine', 'floor', shape, n);
			const enginePGraph = ratio('engine', 'pgraph', shape, n);
			const engineFloorCpu = ratio('engine', 'floor', shape, n, (x) => x.cpuMs);
			rows.push([
				shape,
				fmtCount(n),
				...runners.map((r) => fmtNs(nsPerStep(ms[r], n))),
				fmtNs(nsPerStep(parseMs(shape, n), n)),
				fmtMs(ms.engine),
				fmtRatio(engineFloor),
				fmtRatio(engineFloorCpu),
				fmtRatio(enginePGraph),
				fmtRatio(ratio('pgraph', 'floor', shape, n), 1),
			]);
			cellFigures.push({
				shape,
				steps: n,
				medianRunMs: ms,
				medianCpuMs: Object.fromEntries(runners.map((r) => [r, medianOf(samples, schedKey(r, shape, n), (x) => x.cpuMs)])),
				nsPerStep: Object.fromEntries(runners.map((r) => [r, nsPerStep(ms[r], n)])),
				engineParseMs: parseMs(shape, n),
				pairedRatios: {
					engineOverFloor: engineFloor,
					engineOverFloorCpu: engineFloorCpu,
					engineOverPGraph: enginePGraph,
					engineEventsOverEngine: ratio('engine-events', 'engine', shape, n),
					pgraphOverFloor: ratio('pgraph', 'floor', shape, n),
				},
				samples: Object.fromEntries(runners.map((r) => [r, (samples.get(schedKey(r, shape, n)) ?? []).map(({ rep, runMs, cpuMs, parseMs }) => ({ rep, runMs, cpuMs, parseMs }))])),
			});
			checks.push({ section: '1', name: `engine ÷ floor, ${shape} ${fmtCount(n)}`, target: '≤ 2', measured: fmtRatio(engineFloor), pass: engineFloor <= 2 });
			if (n === largest) {
				checks.push({ section: '1', name: `engine ÷ p-graph, ${shape} ${fmtCount(n)}`, target: '≤ 0.3', measured: fmtRatio(enginePGraph), pass: enginePGraph <= 0.3 });
			}
		}
		const fit = (r: SchedRunner, ns: number[]) => logLogSlope(ns.map((n) => ({ x: n, y: runMs(r, shape, n) })));
		const slopes = Object.fromEntries(runners.map((r) => [r, fit(r, sizes)])) as Record<SchedRunner, number>;
		const tail = sizes.slice(-2);
		const tailSlopes = Object.fromEntries(runners.map((r) => [r, fit(r, tail)])) as Record<SchedRunner, number>;
		// Marginal cost per step between the two largest sizes: what a step costs once fixed per-run costs are paid.
		const [a, b] = tail;
		const marginal = (ms: (n: number) => number) => ((ms(b) - ms(a)) * 1e6) / (b - a);
		const marginalNs = Object.fromEntries(runners.map((r) => [r, marginal((n) => runMs(r, shape, n))])) as Record<SchedRunner, number>;
		const marginalParse = marginal((n) => parseMs(shape, n));
		slopeFigures[shape] = { allSizes: slopes, [`${tail.map(fmtCount).join('-')}`]: tailSlopes, marginalNsPerStep: { ...marginalNs, engineParse: marginalParse } };
		rows.push([shape, 'slope', ...runners.map((r) => `${slopes[r].toFixed(2)} (${tailSlopes[r].toFixed(2)})`), '', '', '', '', '', '']);
		rows.push([
			shape,
			`Δ${fmtCount(a)}→${fmtCount(b)}`,
			...runners.map((r) => fmtNs(marginalNs[r])),
			fmtNs(marginalParse),
			'',
			fmtRatio(marginalNs.engine / marginalNs.floor),
			'',
			fmtRatio(marginalNs.engine / marginalNs.pgraph),
			fmtRatio(marginalNs.pgraph / marginalNs.floor, 1),
		]);
		checks.push({ section: '1', name: `log-log slope of engine time vs steps, ${shape}`, target: '≤ 1.1', measured: `${slopes.engine.toFixed(2)} (${fmtCount(tail[0])}→${fmtCount(tail[1])}: ${tailSlopes.engine.toFixed(2)})`, pass: slopes.engine <= 1.1 && tailSlopes.engine <= 1.1 });
	}
	const table: Table = {
		title: `1) Scheduling overhead: zero-duration steps (util wait ms 0), concurrency ${suite.sched.concurrency}, wall ns per step (median of fresh processes)`,
		head: ['shape', 'steps', ...runners.map((r) => LABEL[r]), 'engine parse', 'engine run', 'engine/floor', '(cpu)', 'engine/p-graph', 'p-graph/floor'],
		rows,
		notes: [
			'engine = engine.run on a parsed workflow in a temp workspace (plans, journals to .quantum/, runs); +events = with a listener.',
			'engine parse = engine.parse (JSON + schema validation), outside the engine column; floor and p-graph build their graph inside theirs.',
			'ratios = median over repetitions of the ratio between samples taken next to each other; (cpu) = the same on user+system CPU time.',
			`repetitions: ${sizes.map((n) => `${fmtCount(n)} ×${reps[n] ?? 1}`).join(', ')}; slope = least-squares log(time) vs log(steps), all sizes (last two).`,
			'Δ row = marginal ns per step between the two largest sizes (medians), i.e. without the fixed per-run cost.',
			`machine load (1-min average) during the section: median ${load.median.toFixed(2)}, max ${load.max.toFixed(2)} on ${cpus().length} cpus.`,
		],
	};
	const chainRows: string[][] = [];
	const chainFigures: Record<string, unknown> = {};
	for (const r of chain.runners) {
		const key = schedKey(r, 'chain', chain.n);
		const ok = (samples.get(key) ?? []).length;
		const parse = medianOf(samples, key, (x) => x.parseMs);
		chainRows.push([LABEL[r], Number.isFinite(parse) ? fmtMs(parse) : '–', fmtMs(runMs(r, 'chain', chain.n)), `${ok}/${chain.reps} ok`]);
		chainFigures[r] = { parseMs: parse, runMs: runMs(r, 'chain', chain.n), succeeded: ok, reps: chain.reps };
	}
	const chainOk = (samples.get(schedKey('engine', 'chain', chain.n)) ?? []).length === chain.reps;
	checks.push({
		section: '1',
		name: `${fmtCount(chain.n)}-step chain validated + run`,
		target: 'no stack overflow',
		measured: chainOk ? `ok, ${fmtMs(parseMs('chain', chain.n) + runMs('engine', 'chain', chain.n))}` : 'failed',
		pass: chainOk,
	});
	const chainTable: Table = { title: `1b) A ${fmtCount(chain.n)}-step chain (each step depends on the previous one)`, head: ['runner', 'validate', 'run', 'result'], rows: chainRows };
	if (errors.length) chainTable.notes = errors.map((e) => `failed sample: ${e}`);
	const figures = { concurrency: suite.sched.concurrency, reps, load, cells: cellFigures, slopes: slopeFigures, chain: chainFigures, errors };
	return { report: { name: 'scheduling', tables: [table, chainTable], checks, figures }, samples };
}
