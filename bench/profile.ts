// Where the engine's time goes: one 100k-step engine sample under `node --cpu-prof`, self time by function and by
// source file, split into the parse phase and the run phase (the worker reports both windows on the profile's clock).
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import * as path from 'node:path';
import type { SectionReport, Table } from './report';
import { OUT_DIR, runWorker, WORKER } from './spawn';
import { fmtCount, fmtMs } from './stats';
import { seedFor, type Suite } from './suite';
import type { SchedResult } from './tasks';

interface ProfileNode {
	id: number;
	callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
	nodes: ProfileNode[];
	startTime: number;
	samples: number[];
	timeDeltas: number[];
}

interface Tally {
	totalUs: number;
	byFunction: Map<string, number>;
	byFile: Map<string, number>;
}

/** Source file of each bundle line, from the `// src/...` markers esbuild writes before each module. */
async function bundleSources(): Promise<(line: number) => string> {
	const lines = (await readFile(WORKER, 'utf8')).split('\n');
	const marks: { line: number; file: string }[] = [];
	lines.forEach((l, i) => {
		const m = /^\/\/ ((?:src|bench|node_modules)\/\S+)$/.exec(l);
		if (m) marks.push({ line: i, file: m[1].replace(/^node_modules\//, '') });
	});
	return (line) => {
		let found = '';
		for (let lo = 0, hi = marks.length - 1; lo <= hi; ) {
			const mid = (lo + hi) >> 1;
			if (marks[mid].line <= line) {
				found = marks[mid].file;
				lo = mid + 1;
			} else hi = mid - 1;
		}
		return found;
	};
}

function tally(profile: CpuProfile, sourceOf: (line: number) => string, from: number, to: number): Tally {
	const byNode = new Map<number, ProfileNode>(profile.nodes.map((node) => [node.id, node]));
	const t: Tally = { totalUs: 0, byFunction: new Map(), byFile: new Map() };
	let at = profile.startTime;
	for (let i = 0; i < profile.samples.length; i++) {
		const us = profile.timeDeltas[i] ?? 0;
		at += us;
		const node = byNode.get(profile.samples[i]);
		if (!node || at < from || at > to) continue;
		const f = node.callFrame;
		if (f.functionName === '(idle)') continue;
		t.totalUs += us;
		const where = f.url.endsWith('/worker.js') ? sourceOf(f.lineNumber) : f.url ? f.url.replace(/^node:/, 'node:') : '(native)';
		const name = `${f.functionName || '(anonymous)'}  ${where}`.trimEnd();
		t.byFunction.set(name, (t.byFunction.get(name) ?? 0) + us);
		const file = f.functionName.startsWith('(') ? f.functionName : where;
		t.byFile.set(file, (t.byFile.get(file) ?? 0) + us);
	}
	return t;
}

const top = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k);

function table(title: string, t: Tally, key: 'byFunction' | 'byFile', k: number): Table {
	return {
		title,
		head: [key === 'byFunction' ? 'function  source' : 'source', 'self', 'share'],
		rows: top(t[key], k).map(([name, us]) => [name, fmtMs(us / 1000), `${((100 * us) / t.totalUs).toFixed(1)}%`]),
	};
}

const figures = (t: Tally) => ({
	sampledMs: t.totalUs / 1000,
	topFunctions: top(t.byFunction, 30).map(([name, us]) => ({ name, selfMs: us / 1000, share: us / t.totalUs })),
	topFiles: top(t.byFile, 20).map(([name, us]) => ({ name, selfMs: us / 1000, share: us / t.totalUs })),
});

export async function profileSection(suite: Suite): Promise<SectionReport | undefined> {
	if (!suite.profile) return undefined;
	const { n, shape } = suite.profile;
	const dir = path.join(OUT_DIR, 'profile');
	await rm(dir, { recursive: true, force: true });
	await mkdir(dir, { recursive: true });
	process.stderr.write(`\nprofile: engine, ${fmtCount(n)} ${shape} steps under --cpu-prof\n`);
	const { result } = await runWorker<SchedResult>(
		{ kind: 'sched', runner: 'engine', shape, n, seed: seedFor(shape, n), concurrency: suite.sched.concurrency },
		['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=250'],
	);
	const file = (await readdir(dir)).find((f) => f.endsWith('.cpuprofile'));
	if (!file || !result.windows) return undefined;
	const profile = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as CpuProfile;
	const sourceOf = await bundleSources();
	const run = tally(profile, sourceOf, ...result.windows.run);
	const parse = tally(profile, sourceOf, ...result.windows.parse);
	const head = `engine, ${fmtCount(n)} ${shape} zero-duration steps under --cpu-prof`;
	return {
		name: 'profile',
		tables: [
			table(`Profile (${head}): engine.run, ${fmtMs(result.runMs)} — top self time by function`, run, 'byFunction', 20),
			table('Profile: engine.run — self time by source', run, 'byFile', 12),
			table(`Profile: engine.parse, ${fmtMs(result.parseMs ?? NaN)} — top self time by function`, parse, 'byFunction', 10),
		],
		checks: [],
		figures: { steps: n, shape, parseMs: result.parseMs, runMs: result.runMs, file: path.join('bench', 'out', 'profile', file), run: figures(run), parse: figures(parse) },
	};
}
