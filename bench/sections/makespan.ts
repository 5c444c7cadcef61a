// 3) Makespan: 1–50 ms waits on random and layered DAGs, makespan ÷ max(critical path, total work ÷ concurrency).
import { interleave, Progress } from '../progress';
import type { Check, SectionReport, Table } from '../report';
import { runWorker } from '../spawn';
import { fmtCount, fmtMs, median } from '../stats';
import { seedFor, type MakespanCell, type Suite } from '../suite';
import type { MakespanResult, MakespanRunner } from '../tasks';

const LABEL: Record<MakespanRunner, string> = { engine: 'engine', 'engine-warm': 'engine (warm)', floor: 'floor', pgraph: 'p-graph' };
const TARGET = 1.03;
/** "Never worse than p-graph" allows this much (0.5%): single samples of timer-driven runs differ by about that. */
const NOISE = 0.005;

/** Tallies one engine variant against the target and against p-graph over the cells. */
class Verdict {
	cells = 0;
	ok = 0;
	notWorse = 0;
	worst = { value: -Infinity, cell: '' };
	gap = { value: -Infinity, cell: '' };

	add(cell: string, ratio: number, pgraph: number): void {
		this.cells++;
		if (ratio <= TARGET) this.ok++;
		if (ratio <= pgraph + NOISE) this.notWorse++;
		if (!(ratio <= this.worst.value)) this.worst = { value: ratio, cell };
		if (!(ratio - pgraph <= this.gap.value)) this.gap = { value: ratio - pgraph, cell };
	}
}

const cellName = (c: MakespanCell) => `${c.shape} ${fmtCount(c.n)} c=${c.concurrency}`;

export async function makespanSection(suite: Suite): Promise<SectionReport> {
	const { cells, runners } = suite.makespan;
	const samples = new Map<string, MakespanResult[]>();
	const key = (r: MakespanRunner, c: MakespanCell) => `${r}|${cellName(c)}`;
	const errors: string[] = [];
	const order = interleave(cells, (c) => c.reps, () => runners);
	const progress = new Progress('3) makespan', order.length);
	for (const { cell, runner, rep } of order) {
		const label = `${LABEL[runner]} ${cellName(cell)} #${rep + 1}`;
		const task = { kind: 'makespan', runner, shape: cell.shape, n: cell.n, seed: seedFor(cell.shape, cell.n), concurrency: cell.concurrency } as const;
		try {
			const { result } = await progress.step(label, () => runWorker<MakespanResult>(task), (r) => `${fmtMs(r.result.makespanMs)}, ${(r.result.makespanMs / r.result.lowerBoundMs).toFixed(3)} × bound`);
			if (result.status !== 'succeeded') throw new Error(`run ended ${result.status}`);
			samples.set(key(runner, cell), [...(samples.get(key(runner, cell)) ?? []), result]);
		} catch (err) {
			const message = `${label}: ${err instanceof Error ? err.message : String(err)}`;
			errors.push(message);
			process.stderr.write(`  sample failed: ${message}\n`);
		}
	}

	const ratio = (r: MakespanRunner, c: MakespanCell) => median((samples.get(key(r, c)) ?? []).map((s) => s.makespanMs / s.lowerBoundMs));
	const rows: string[][] = [];
	const figureCells: unknown[] = [];
	const verdicts = { engine: new Verdict(), 'engine-warm': new Verdict() };
	for (const c of cells) {
		const any = runners.map((r) => samples.get(key(r, c))?.[0]).find((s) => s !== undefined);
		const ratios = Object.fromEntries(runners.map((r) => [r, ratio(r, c)])) as Record<MakespanRunner, number>;
		for (const r of ['engine', 'engine-warm'] as const) if (runners.includes(r)) verdicts[r].add(cellName(c), ratios[r], ratios.pgraph);
		const ok = ratios.engine <= TARGET;
		const vsPGraph = ratios.engine <= ratios.pgraph + NOISE;
		rows.push([
			cellName(c),
			any ? fmtMs(any.criticalPathMs) : '–',
			any ? fmtMs(any.totalWorkMs / c.concurrency) : '–',
			...runners.map((r) => ratios[r].toFixed(3)),
			`${ok ? 'ok' : 'FAIL'} / ${vsPGraph ? 'ok' : 'FAIL'}`,
			String(c.reps),
		]);
		figureCells.push({
			shape: c.shape,
			steps: c.n,
			concurrency: c.concurrency,
			reps: c.reps,
			criticalPathMs: any?.criticalPathMs,
			totalWorkMs: any?.totalWorkMs,
			lowerBoundMs: any?.lowerBoundMs,
			medianRatio: ratios,
			medianMakespanMs: Object.fromEntries(runners.map((r) => [r, median((samples.get(key(r, c)) ?? []).map((s) => s.makespanMs))])),
			engineRunMs: median((samples.get(key('engine', c)) ?? []).map((s) => s.runMs ?? NaN)),
			engineOwnDurationMs: median((samples.get(key('engine', c)) ?? []).map((s) => s.engineDurationMs ?? NaN)),
		});
	}
	const table: Table = {
		title: '3) Makespan ÷ lower bound, 1–50 ms waits (median; lower bound = max(critical path, total work ÷ concurrency))',
		head: ['cell', 'critical path', 'work ÷ c', ...runners.map((r) => LABEL[r]), `≤${TARGET} / ≤p-graph`, 'reps'],
		rows,
		notes: [
			'makespan = first step start → last step end (engine: from its step events). engine = a first run, no duration history, so its',
			'  critical-path estimate counts steps; engine (warm) = .quantum/stats.json holds each step\'s duration, as after an earlier run.',
			'floor and p-graph get priorities = real durations (p-graph sums them along paths itself).',
			`repetitions: ${[...new Set(cells.map((c) => `${fmtCount(c.n)} steps ×${c.reps}`))].join(', ')} (2,000 steps at c=4 is ~13 s a sample; the budget allows one).`,
			`machine load (1-min average): median ${progress.load().median.toFixed(2)}, max ${progress.load().max.toFixed(2)}.`,
			...errors.map((e) => `failed sample: ${e}`),
		],
	};
	const checks: Check[] = [];
	for (const r of ['engine', 'engine-warm'] as const) {
		if (!runners.includes(r)) continue;
		const v = verdicts[r];
		const who = r === 'engine' ? 'engine (first run)' : 'engine (warm: with duration history)';
		checks.push(
			{ section: '3', name: `${who} makespan ÷ lower bound, every cell`, target: `≤ ${TARGET}`, measured: `${v.ok}/${v.cells} cells; worst ${v.worst.value.toFixed(3)} (${v.worst.cell})`, pass: v.ok === v.cells },
			{
				section: '3',
				name: `${who} never worse than p-graph`,
				target: `every cell (+${NOISE} noise)`,
				measured: `${v.notWorse}/${v.cells} cells; worst gap ${v.gap.value >= 0 ? '+' : ''}${v.gap.value.toFixed(3)} (${v.gap.cell})`,
				pass: v.notWorse === v.cells,
			},
		);
	}
	return { name: 'makespan', tables: [table], checks, figures: { target: TARGET, noise: NOISE, load: progress.load(), cells: figureCells, errors } };
}
