// Kills a real `qo run` child process at random points, resumes, rolls back, and checks every file each time.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tempDir } from '../../helpers/tmp';

const ROOT = join(__dirname, '..', '..', '..');
const QO = join(ROOT, 'bin', 'qo.js');
const TRIALS = Number(process.env.QO_CRASH_TRIALS ?? 8);

/** Deterministic PRNG so a failing trial can be replayed (the seed is in the assertion message). */
function mulberry32(seed: number) {
	return () => {
		seed = (seed + 0x6d2b79f5) | 0;
		let t = seed;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

type Snapshot = Map<string, string>;

/** Every file and directory under root except .quantum, as path → mode + sha of bytes. */
function snapshot(root: string): Snapshot {
	const out: Snapshot = new Map();
	const walk = (dir: string) => {
		for (const name of readdirSync(dir)) {
			const abs = join(dir, name);
			const rel = relative(root, abs);
			if (rel === '.quantum') continue;
			const st = lstatSync(abs);
			if (st.isDirectory()) {
				out.set(rel + '/', `dir ${st.mode & 0o777}`);
				walk(abs);
			} else {
				out.set(rel, `file ${st.mode & 0o777} ${readFileSync(abs).toString('base64')}`);
			}
		}
	};
	walk(root);
	return out;
}

function diff(a: Snapshot, b: Snapshot): string[] {
	const problems: string[] = [];
	for (const [k, v] of a) if (b.get(k) !== v) problems.push(`${k}: expected ${v.slice(0, 40)}, got ${b.get(k)?.slice(0, 40) ?? 'nothing'}`);
	for (const k of b.keys()) if (!a.has(k)) problems.push(`${k}: unexpected`);
	return problems;
}

/** A workspace with files to modify and delete, and a workflow of a few hundred file steps in chains. */
function makeSeed(dir: string): string {
	mkdirSync(join(dir, 'src'));
	mkdirSync(join(dir, 'old'));
	for (let i = 0; i < 60; i++) {
		writeFileSync(join(dir, 'src', `m${i}.txt`), `original ${i}\n`.repeat(20));
		if (i % 5 === 0) chmodSync(join(dir, 'src', `m${i}.txt`), 0o600);
	}
	for (let i = 0; i < 30; i++) writeFileSync(join(dir, 'old', `d${i}.bin`), Buffer.from(Array.from({ length: 256 }, (_, b) => (b * (i + 1)) & 255)));
	const instructions: unknown[] = [];
	for (let chain = 0; chain < 30; chain++) {
		let prev: string | undefined;
		for (let k = 0; k < 10; k++) {
			const id = `c${chain}_${k}`;
			const n = chain * 10 + k;
			let step: Record<string, unknown>;
			if (k % 3 === 0) step = { type: 'file', operation: 'create', parameters: { path: `gen/c${chain}/f${k}.txt`, content: `generated ${n}\n`.repeat(50) } };
			// Each chain appends twice to its own file (steps 1 and 7) and once to another (step 4): deterministic end state.
			else if (k % 3 === 1) step = { type: 'file', operation: 'modify', parameters: { path: `src/m${chain * 2 + (k === 4 ? 1 : 0)}.txt`, append: `step ${id}\n` } };
			else if (n % 10 === 2 && n / 10 < 30) step = { type: 'file', operation: 'delete', parameters: { path: `old/d${chain}.bin` } };
			else step = { type: 'util', operation: 'echo', parameters: { value: id } };
			instructions.push({ id, ...step, ...(prev ? { dependencies: [prev] } : {}) });
			prev = id;
		}
	}
	instructions.push({ id: 'marker', type: 'exec', operation: 'run', parameters: { command: 'touch', args: ['gen/exec-ran'] }, idempotent: true, undo: { command: 'rm', args: ['-f', 'gen/exec-ran'] }, dependencies: ['c0_9'] });
	const file = join(dir, 'crash.workflow.json');
	writeFileSync(file, JSON.stringify({ name: 'crash', settings: { max_parallel: 6 }, instructions }, null, 1));
	return file;
}

function qo(args: string[], cwd: string) {
	// --no-policy: this workflow deletes and moves files on purpose; what is under test is crash safety, not approvals.
	return spawnSync(process.execPath, [QO, '--no-policy', ...args, '--workspace', cwd], { cwd, encoding: 'utf8' });
}

/** Starts `qo run`/`resume` and SIGKILLs it after `afterMs` (unless it finished); resolves with how it ended. */
function runAndKill(args: string[], cwd: string, afterMs: number): Promise<{ killed: boolean; code: number | null }> {
	return new Promise((resolve) => {
		const child = spawn(process.execPath, [QO, '--no-policy', ...args, '--workspace', cwd, '--quiet'], { cwd, stdio: 'ignore' });
		let killed = false;
		const timer = setTimeout(() => {
			killed = child.kill('SIGKILL');
		}, afterMs);
		child.on('exit', (code) => {
			clearTimeout(timer);
			resolve({ killed: killed && code === null, code });
		});
	});
}

describe('crash safety (real qo processes killed at random points)', function () {
	this.timeout(240_000);
	let seed: string;
	let initial: Snapshot;
	let final: Snapshot;

	before(function () {
		if (!existsSync(join(ROOT, 'dist', 'cli.js'))) {
			const b = spawnSync(process.execPath, [join(ROOT, 'esbuild.config.mjs')], { cwd: ROOT, encoding: 'utf8' });
			assert.equal(b.status, 0, b.stderr);
		}
		seed = tempDir('qo-crash-seed-');
		makeSeed(seed);
		initial = snapshot(seed);
		const ref = tempDir('qo-crash-ref-');
		cpSync(seed, ref, { recursive: true });
		const r = qo(['run', 'crash.workflow.json', '--quiet'], ref);
		assert.equal(r.status, 0, r.stdout + r.stderr);
		final = snapshot(ref);
		assert.ok(final.size > initial.size);
	});

	for (let trial = 0; trial < TRIALS; trial++) {
		it(`trial ${trial}: killed, resumed (maybe killed again) to the same end state, then rolled back to the start`, async () => {
			const random = mulberry32(1000 + trial);
			const ws = tempDir('qo-crash-');
			cpSync(seed, ws, { recursive: true });
			const first = await runAndKill(['run', 'crash.workflow.json'], ws, 40 + Math.floor(random() * 600));
			let attempts = 0;
			if (first.killed) {
				// Sometimes the resume itself is killed too.
				if (random() < 0.5) await runAndKill(['resume', '--yes'], ws, 30 + Math.floor(random() * 300));
				let r = qo(['resume', '--yes', '--quiet'], ws);
				// Killed before the run wrote its first record: nothing happened, start it again.
				if (r.status !== 0 && /no runs in|before it started/.test(r.stderr)) r = qo(['run', 'crash.workflow.json', '--yes', '--quiet'], ws);
				while (r.status !== 0 && /already succeeded/.test(r.stderr) === false && attempts++ < 3) r = qo(['resume', '--yes', '--quiet'], ws);
				assert.ok(r.status === 0 || /already succeeded/.test(r.stderr), `seed ${1000 + trial}: resume failed: ${r.stdout}${r.stderr}`);
			}
			const afterRun = diff(final, snapshot(ws));
			assert.deepEqual(afterRun, [], `seed ${1000 + trial}: workspace after resume differs from an uninterrupted run`);
			const rb = qo(['rollback'], ws);
			assert.equal(rb.status, 0, `seed ${1000 + trial}: rollback failed: ${rb.stdout}${rb.stderr}`);
			assert.deepEqual(diff(initial, snapshot(ws)), [], `seed ${1000 + trial}: rollback did not restore the starting bytes`);
		});
	}

	it('a run killed and then rolled back without resuming restores the starting bytes', async () => {
		const ws = tempDir('qo-crash-');
		cpSync(seed, ws, { recursive: true });
		await runAndKill(['run', 'crash.workflow.json'], ws, 250);
		const rb = qo(['rollback'], ws);
		// Killed before the run existed ("no runs"): then nothing may have changed either.
		if (!/no runs in/.test(rb.stderr)) assert.equal(rb.status, 0, rb.stdout + rb.stderr);
		assert.deepEqual(diff(initial, snapshot(ws)), []);
	});
});
