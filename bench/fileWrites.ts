// Journal cost: the same file writes (creates of new files, whole-content modifies of existing ones) journaled by
// the engine, done plainly with the same durability (open, write, fsync, close each), and done without fsync.
import { mkdir, open, readFile, writeFile, access } from 'node:fs/promises';
import * as path from 'node:path';
import { createEngine } from '../src/core/engine';
import { mulberry32 } from './dag';
import type { WriteResult, WriteTask } from './tasks';
import { syncDisks, tempWorkspace } from './workspace';

interface Job {
	rel: string;
	content: string;
	create: boolean;
}

interface Workload {
	jobs: Job[];
	/** Starting content of the files that get modified. */
	originals: Map<string, string>;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789 \n';

function text(rand: () => number, bytes: number): string {
	let s = '';
	for (let i = 0; i < bytes; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)];
	return s;
}

function workload(task: WriteTask): Workload {
	const rand = mulberry32(task.seed);
	const jobs: Job[] = [];
	const originals = new Map<string, string>();
	for (let i = 0; i < task.modifies; i++) {
		const rel = `files/m${i}.txt`;
		originals.set(rel, text(rand, task.bytes));
		jobs.push({ rel, content: text(rand, task.bytes), create: false });
	}
	for (let i = 0; i < task.creates; i++) jobs.push({ rel: `files/c${i}.txt`, content: text(rand, task.bytes), create: true });
	// Interleave creates and modifies, as a real workflow mixes them.
	jobs.sort((a, b) => Number(a.rel.slice(7, -4)) - Number(b.rel.slice(7, -4)) || a.rel.localeCompare(b.rel));
	return { jobs, originals };
}

async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
	let next = 0;
	const worker = async () => {
		while (next < items.length) await fn(items[next++]);
	};
	await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function plainSync(ws: string, job: Job): Promise<void> {
	const fh = await open(path.join(ws, job.rel), job.create ? 'wx' : 'w');
	try {
		await fh.writeFile(job.content);
		await fh.sync();
	} finally {
		await fh.close();
	}
}

function plainNoSync(ws: string, job: Job): Promise<void> {
	return writeFile(path.join(ws, job.rel), job.content, { flag: job.create ? 'wx' : 'w' });
}

function workflowText(jobs: readonly Job[], concurrency: number): string {
	const instructions = jobs.map((job, i) => ({
		id: `w${i}`,
		type: 'file',
		operation: job.create ? 'create' : 'modify',
		parameters: { path: job.rel, content: job.content },
	}));
	return JSON.stringify({ version: 1, name: 'bench-writes', settings: { mode: 'parallel', max_parallel: concurrency }, instructions });
}

async function exists(file: string): Promise<boolean> {
	return access(file).then(
		() => true,
		() => false,
	);
}

async function verifyRolledBack(ws: string, work: Workload): Promise<boolean> {
	for (const job of work.jobs) {
		const abs = path.join(ws, job.rel);
		if (job.create ? await exists(abs) : (await readFile(abs, 'utf8')) !== work.originals.get(job.rel)) return false;
	}
	return true;
}

export async function runWrites(task: WriteTask): Promise<WriteResult> {
	const work = workload(task);
	const ws = await tempWorkspace();
	try {
		await mkdir(path.join(ws.dir, 'files'));
		for (const [rel, content] of work.originals) await writeFile(path.join(ws.dir, rel), content);
		if (task.runner !== 'engine') {
			syncDisks();
			const write = task.runner === 'plain-sync' ? plainSync : plainNoSync;
			const t = performance.now();
			await pool(work.jobs, task.concurrency, (job) => write(ws.dir, job));
			return { kind: 'writes', writeMs: performance.now() - t, status: 'succeeded' };
		}
		const engine = await createEngine({ workspace: ws.dir });
		const workflow = engine.parse(workflowText(work.jobs, task.concurrency));
		syncDisks();
		let t = performance.now();
		const result = await engine.run(workflow);
		const writeMs = performance.now() - t;
		t = performance.now();
		const rb = await engine.rollback(result.runId);
		const rollbackMs = performance.now() - t;
		return {
			kind: 'writes',
			writeMs,
			rollbackMs,
			restored: rb.restored,
			removed: rb.removed,
			conflicts: rb.conflicts.length,
			verified: await verifyRolledBack(ws.dir, work),
			status: result.status,
		};
	} finally {
		await ws.dispose();
	}
}
