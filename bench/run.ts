// `npm run bench`: every runner side by side, one fresh process per sample, interleaved; tables on stdout,
// progress on stderr, figures in bench/results.json. QO_BENCH_QUICK=1 (or --quick) runs a subset in under a minute;
// --only=sched,cli,makespan,writes,profile runs some sections (partial and quick runs write bench/out/ instead).
import { cpus, loadavg, totalmem } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { profileSection } from './profile';
import { checksTable, renderTable, type SectionReport } from './report';
import { cliSection } from './sections/cli';
import { makespanSection } from './sections/makespan';
import { memorySection } from './sections/memory';
import { schedulingSection } from './sections/scheduling';
import { writesSection } from './sections/writes';
import { buildWorker, OUT_DIR } from './spawn';
import { fullSuite, quickSuite } from './suite';

const SECTIONS = ['sched', 'cli', 'makespan', 'writes', 'profile'] as const;
type SectionName = (typeof SECTIONS)[number];

function options(): { quick: boolean; only: Set<SectionName> } {
	const args = process.argv.slice(2);
	const quick = args.includes('--quick') || ['1', 'true', 'yes'].includes(process.env.QO_BENCH_QUICK ?? '');
	const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
	for (const name of only ?? []) if (!(SECTIONS as readonly string[]).includes(name)) throw new Error(`--only: unknown section "${name}" (${SECTIONS.join(', ')})`);
	return { quick, only: new Set((only ?? SECTIONS) as SectionName[]) };
}

async function main(): Promise<void> {
	const opts = options();
	const suite = opts.quick ? quickSuite() : fullSuite();
	const started = new Date();
	const t0 = performance.now();
	process.stderr.write(`qo bench (${suite.mode}): ${cpus().length} cpus, node ${process.version}; building the worker…\n`);
	await buildWorker();
	const reports: SectionReport[] = [];
	if (opts.only.has('sched')) {
		const sched = await schedulingSection(suite);
		reports.push(sched.report, memorySection(suite, sched.samples));
	}
	if (opts.only.has('cli')) reports.push(await cliSection(suite));
	if (opts.only.has('makespan')) reports.push(await makespanSection(suite));
	if (opts.only.has('writes')) reports.push(await writesSection(suite));
	const profile = opts.only.has('profile') ? await profileSection(suite) : undefined;
	if (profile) reports.push(profile);
	const durationS = (performance.now() - t0) / 1000;

	const machine = {
		cpus: cpus().length,
		cpuModel: cpus()[0]?.model,
		memoryGiB: Math.round(totalmem() / 2 ** 30),
		node: process.version,
		platform: `${process.platform} ${process.arch}`,
		loadAverage: loadavg(),
		date: started.toISOString(),
	};
	const checks = reports.flatMap((r) => r.checks);
	process.stdout.write(`\nQuantum Orchestrator benchmark (${suite.mode}) — ${machine.date}, ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}, ${durationS.toFixed(0)} s\n`);
	for (const r of reports) for (const t of r.tables) process.stdout.write(`${renderTable(t)}\n`);
	process.stdout.write(`${renderTable(checksTable(checks))}\n`);

	const complete = suite.mode === 'full' && opts.only.size === SECTIONS.length;
	const file = complete ? path.join(__dirname, 'results.json') : path.join(OUT_DIR, `results-${suite.mode}${opts.only.size === SECTIONS.length ? '' : '-partial'}.json`);
	await mkdir(path.dirname(file), { recursive: true });
	const results = { mode: suite.mode, machine, durationS, suite, checks, sections: Object.fromEntries(reports.map((r) => [r.name, r.figures])) };
	await writeFile(file, `${JSON.stringify(results, null, '\t')}\n`);
	process.stderr.write(`\nwrote ${path.relative(process.cwd(), file)} in ${durationS.toFixed(0)} s\n`);
}

main().catch((err: unknown) => {
	process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
	process.exitCode = 1;
});
