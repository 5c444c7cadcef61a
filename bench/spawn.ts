// Fresh processes: the bundled worker (one sample each) and plain commands timed from spawn to exit.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { build } from 'esbuild';
import { RESULT_MARK, type Task, type TaskResult } from './tasks';

export const OUT_DIR = path.join(__dirname, 'out');
export const WORKER = path.join(OUT_DIR, 'worker.js');

/** Bundle the worker as the CLI is bundled (esbuild, node20, cjs), so samples pay no loader and run the same code. */
export async function buildWorker(): Promise<void> {
	await build({
		entryPoints: [path.join(__dirname, 'worker.ts')],
		outfile: WORKER,
		bundle: true,
		platform: 'node',
		format: 'cjs',
		target: 'node20',
		logLevel: 'warning',
		legalComments: 'none',
	});
}

export interface Exited {
	code: number | null;
	wallMs: number;
	stdout: string;
	stderr: string;
}

export function timeProcess(command: string, args: readonly string[], cwd?: string): Promise<Exited> {
	return new Promise((resolve, reject) => {
		const t = performance.now();
		const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
		let wallMs = 0;
		const out: Buffer[] = [];
		const err: Buffer[] = [];
		child.stdout.on('data', (b: Buffer) => out.push(b));
		child.stderr.on('data', (b: Buffer) => err.push(b));
		child.on('error', reject);
		child.on('exit', () => (wallMs = performance.now() - t));
		child.on('close', (code) => resolve({ code, wallMs, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
	});
}

export interface WorkerRun<R> {
	result: R;
	wallMs: number;
}

/** One sample in a fresh Node process (with --expose-gc, for the memory baselines). */
export async function runWorker<R extends TaskResult>(task: Task, nodeArgs: readonly string[] = []): Promise<WorkerRun<R>> {
	const run = await timeProcess(process.execPath, ['--expose-gc', ...nodeArgs, WORKER, JSON.stringify(task)]);
	const line = run.stdout.split('\n').find((l) => l.startsWith(RESULT_MARK));
	if (run.code !== 0 || !line) {
		throw new Error(`worker ${JSON.stringify(task)} exited with ${run.code}: ${run.stderr.trim().split('\n').slice(-5).join('\n')}`);
	}
	return { result: JSON.parse(line.slice(RESULT_MARK.length)) as R, wallMs: run.wallMs };
}
