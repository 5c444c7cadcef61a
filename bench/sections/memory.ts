// 5) Memory: peak RSS rise at the largest size, from the scheduling samples (baseline after the input was built).
import type { Shape } from '../dag';
import type { SectionReport, Table } from '../report';
import { fmtCount, fmtMiB, fmtRatio } from '../stats';
import type { Suite } from '../suite';
import { medianOf, schedKey, type SchedSamples } from './scheduling';

export function memorySection(suite: Suite, samples: SchedSamples): SectionReport {
	const n = Math.max(...suite.sched.sizes);
	const runners = suite.sched.runners;
	const rows: string[][] = [];
	const figures: Record<string, unknown> = { steps: n };
	let method = 'vmhwm';
	for (const shape of suite.sched.shapes as Shape[]) {
		const rise = (r: (typeof runners)[number]) => medianOf(samples, schedKey(r, shape, n), (x) => x.memory.rise);
		const runRise = medianOf(samples, schedKey('engine', shape, n), (x) => x.memory.runRise);
		const any = samples.get(schedKey('engine', shape, n))?.[0];
		if (any) method = any.memory.method;
		for (const r of runners) {
			rows.push([shape, r, fmtMiB(rise(r)), r === 'engine' ? fmtMiB(runRise) : '', fmtRatio(rise(r) / rise('floor'), 1), fmtRatio(rise(r) / rise('pgraph'), 2)]);
		}
		figures[shape] = { riseBytes: Object.fromEntries(runners.map((r) => [r, rise(r)])), engineRunOnlyRiseBytes: runRise };
	}
	figures.method = method;
	const table: Table = {
		title: `5) Memory: peak RSS rise at ${fmtCount(n)} zero-duration steps (median)`,
		head: ['shape', 'runner', 'peak rise', 'of which run', '÷ floor', '÷ p-graph'],
		rows,
		notes: [
			`peak = ${method === 'vmhwm' ? 'VmHWM, reset via /proc/self/clear_refs after a full GC' : 'maxRSS'}; baseline = RSS once the DAG (and the engine's workflow text) exist.`,
			'engine: parse + run (the parsed workflow included); "of which run" = peak during engine.run over the RSS after parsing.',
		],
	};
	return { name: 'memory', tables: [table], checks: [], figures };
}
