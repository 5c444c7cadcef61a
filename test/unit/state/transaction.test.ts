import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
	chmodSync,
	existsSync,
	lstatSync,
	mkdirSync,
	readdirSync,
	readFileSync,
	readlinkSync,
	renameSync,
	rmSync,
	statSync,
	symlinkSync,
	writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { SandboxError, StepError } from '../../../src/core/errors';
import { createSandbox } from '../../../src/core/sandbox/paths';
import type { Sandbox, WriteTarget } from '../../../src/core/sandbox/types';
import { listBlobs, readBlobSync } from '../../../src/core/state/blobs';
import { stateIo } from '../../../src/core/state/io';
import { JOURNAL_MAGIC, Journal, encodeRecord, readJournal } from '../../../src/core/state/journal';
import type { JournalRecord } from '../../../src/core/state/records';
import { createRunDir, newRunId } from '../../../src/core/state/runStore';
import type { RunPaths } from '../../../src/core/state/runStore';
import { createTransaction, rollback } from '../../../src/core/state/transaction';
import type { Transaction } from '../../../src/core/state/transaction';
import { tempDir } from '../../helpers/tmp';
import { errno, withFullDisk, withWriteHook } from './helpers';

interface Run {
	ws: string;
	sandbox: Sandbox;
	stateDir: string;
	runId: string;
	paths: RunPaths;
	journal: Journal;
	tx: Transaction;
}

async function startRun(ws = tempDir('qo-tx-')): Promise<Run> {
	const sandbox = await createSandbox(ws);
	const stateDir = join(ws, '.quantum');
	const runId = newRunId();
	const paths = await createRunDir(stateDir, runId);
	const journal = await Journal.open(paths.journal);
	const tx = createTransaction({ runId, workspace: ws, sandbox, journal });
	return { ws, sandbox, stateDir, runId, paths, journal, tx };
}

/** Close the run as a finished process would, then roll it back as `qo rollback` would (fresh journal handle). */
async function endAndRollBack(run: Run, opts: { force?: boolean } = {}) {
	run.tx.dispose();
	await run.journal.close();
	return rollback({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox, ...opts });
}

type Snap = Record<string, string>;

/** Everything in the workspace but .quantum: type, mode and exact bytes (hex) of each entry. */
function snapshot(root: string): Snap {
	const out: Snap = {};
	const walk = (dir: string, rel: string) => {
		for (const name of readdirSync(dir).sort()) {
			if (rel === '' && name === '.quantum') continue;
			const abs = join(dir, name);
			const r = rel ? `${rel}/${name}` : name;
			const st = lstatSync(abs);
			const mode = (st.mode & 0o7777).toString(8);
			if (st.isSymbolicLink()) out[r] = `link -> ${readlinkSync(abs)}`;
			else if (st.isDirectory()) {
				out[r] = `dir ${mode}`;
				walk(abs, r);
			} else out[r] = `file ${mode} ${readFileSync(abs).toString('hex')}`;
		}
	};
	walk(root, '');
	return out;
}

/** The journal's records, read synchronously (inside a synchronous write hook). */
function readJournalSync(file: string): JournalRecord[] {
	return readFileSync(file, 'utf8').split('\n').slice(1, -1).map((line) => JSON.parse(line.split(' ').slice(2).join(' ')) as JournalRecord);
}

function records(run: Run): Promise<JournalRecord[]> {
	return readJournal(run.paths.journal).then((r) => r.records);
}

describe('transaction and rollback', () => {
	it('rollback restores created, modified, deleted and binary files byte for byte, with modes and directories', async () => {
		const ws = tempDir('qo-tx-');
		writeFileSync(join(ws, 'a.txt'), 'original a\n');
		writeFileSync(join(ws, 'bin.dat'), randomBytes(70_000));
		writeFileSync(join(ws, 'run.sh'), '#!/bin/sh\necho hi\n');
		chmodSync(join(ws, 'run.sh'), 0o755);
		writeFileSync(join(ws, 'secret.key'), 'k');
		chmodSync(join(ws, 'secret.key'), 0o600);
		mkdirSync(join(ws, 'tree/sub/deeper'), { recursive: true });
		writeFileSync(join(ws, 'tree/one.txt'), '1');
		writeFileSync(join(ws, 'tree/sub/two.bin'), Buffer.from([0, 255, 0, 13, 10]));
		chmodSync(join(ws, 'tree/sub'), 0o750);
		symlinkSync('one.txt', join(ws, 'tree/link'));
		mkdirSync(join(ws, 'empty'));
		const before = snapshot(ws);
		const inode = statSync(join(ws, 'a.txt')).ino;

		const run = await startRun(ws);
		const s1 = run.tx.fsFor('s1');
		const s2 = run.tx.fsFor('s2');
		await s1.writeFile('a.txt', 'changed a\n');
		assert.equal(statSync(join(ws, 'a.txt')).ino, inode, 'modified in place: same inode');
		await s1.writeFile('a.txt', 'changed twice\n');
		await s1.writeFile('bin.dat', randomBytes(1000));
		await s1.writeFile('run.sh', 'echo changed', { mode: 0o644 });
		await s2.remove('secret.key');
		await s2.remove('tree');
		await s2.writeFile('new/deep/file.txt', 'created');
		await s2.mkdir('made/dir');
		await s2.copy('a.txt', 'copy.txt');
		await s2.move('bin.dat', 'moved/bin.dat');
		await s2.remove('empty');
		await s2.writeFile('empty', 'a file where a directory was');
		assert.notDeepEqual(snapshot(ws), before);

		const result = await endAndRollBack(run);
		assert.deepEqual(result.conflicts, []);
		assert.deepEqual(snapshot(ws), before);
		assert.equal(statSync(join(ws, 'a.txt')).ino, inode, 'restored in place: same inode');
		assert.ok(result.restored > 0 && result.removed > 0);
		const recs = await records(run);
		assert.equal(recs.filter((r) => r.t === 'rollback-start').length, 1);
		assert.equal(recs.at(-1)?.t, 'rollback-end');
	});

	it('journals the before-image durably before the effect and the after-state after it', async () => {
		const run = await startRun();
		writeFileSync(join(run.ws, 'f.txt'), 'old');
		const fsyncs: string[] = [];
		await withWriteHook(
			(file) => {
				if (file !== join(run.ws, 'f.txt')) return undefined;
				const recs = readJournalSync(run.paths.journal);
				const before = recs.find((r) => r.t === 'before' && r.path === 'f.txt');
				assert.ok(before && before.t === 'before' && before.kind === 'file' && before.blob, 'before-image durable before the write');
				assert.equal(readBlobSync(run.paths.blobs, before.blob)?.toString(), 'old');
				fsyncs.push('effect');
				return undefined;
			},
			() => run.tx.fsFor('s').writeFile('f.txt', 'new'),
		);
		assert.deepEqual(fsyncs, ['effect']);
		await run.journal.flush();
		const after = (await records(run)).find((r) => r.t === 'after');
		assert.deepEqual(after, {
			t: 'after',
			step: 's',
			path: 'f.txt',
			kind: 'file',
			hash: '11507a0e2f5e69d5dfa40a62a1bd7b6ee57e6bcd85c67c9b8431b36fff21c437',
			mode: statSync(join(run.ws, 'f.txt')).mode & 0o7777,
		});
		await run.journal.close();
	});

	it('identical before-images are stored once', async () => {
		const run = await startRun();
		for (const n of ['x', 'y', 'z']) writeFileSync(join(run.ws, n), 'same content');
		const fs = run.tx.fsFor('s');
		for (const n of ['x', 'y', 'z']) await fs.writeFile(n, 'other');
		assert.equal(listBlobs(run.paths.blobs).length, 1);
		await run.journal.close();
	});

	it('a journaled create costs the file fsync plus one shared journal commit; concurrent steps share commits', async () => {
		const run = await startRun();
		let fileSyncs = 0;
		const original = stateIo.sync;
		stateIo.sync = async (fh, file) => {
			if (!file.includes('.quantum')) fileSyncs++;
			await original(fh, file);
		};
		try {
			const before = run.journal.stats.fsyncs;
			await Promise.all(Array.from({ length: 64 }, (_, i) => run.tx.fsFor(`s${i}`).writeFile(`f${i}.txt`, `content ${i}`)));
			assert.equal(fileSyncs, 64);
			const commits = run.journal.stats.fsyncs - before;
			assert.ok(commits < 32, `64 concurrent writes needed ${commits} journal commits`);
		} finally {
			stateIo.sync = original;
		}
		await run.journal.close();
	});

	it('keeps file modes (755, 600) through write and rollback', async () => {
		const run = await startRun();
		const fs = run.tx.fsFor('s');
		writeFileSync(join(run.ws, 'keep.sh'), 'x');
		chmodSync(join(run.ws, 'keep.sh'), 0o755);
		await fs.writeFile('keep.sh', 'y');
		assert.equal(statSync(join(run.ws, 'keep.sh')).mode & 0o777, 0o755, 'an overwrite keeps the mode');
		await fs.writeFile('private', 'p', { mode: 0o600 });
		assert.equal(statSync(join(run.ws, 'private')).mode & 0o777, 0o600);
		writeFileSync(join(run.ws, 'tight'), 't');
		chmodSync(join(run.ws, 'tight'), 0o600);
		await fs.writeFile('tight', 'loose', { mode: 0o644 });
		await endAndRollBack(run);
		assert.equal(statSync(join(run.ws, 'keep.sh')).mode & 0o777, 0o755);
		assert.equal(readFileSync(join(run.ws, 'keep.sh'), 'utf8'), 'x');
		assert.equal(statSync(join(run.ws, 'tight')).mode & 0o777, 0o600);
		assert.equal(existsSync(join(run.ws, 'private')), false);
	});

	it('a deleted directory tree comes back, empty directories, symlinks and read-only folders included', async () => {
		const run = await startRun();
		mkdirSync(join(run.ws, 'd/e/f'), { recursive: true });
		writeFileSync(join(run.ws, 'd/e/file'), 'deep');
		symlinkSync('e/file', join(run.ws, 'd/ln'));
		chmodSync(join(run.ws, 'd/e'), 0o555);
		const before = snapshot(run.ws);
		await run.tx.fsFor('s').remove('d');
		assert.equal(existsSync(join(run.ws, 'd')), false);
		const result = await endAndRollBack(run);
		assert.deepEqual(result.conflicts, []);
		assert.deepEqual(snapshot(run.ws), before);
		chmodSync(join(run.ws, 'd/e'), 0o755);
	});

	it('a file changed after the run is a conflict and left alone; force restores it', async () => {
		const run = await startRun();
		writeFileSync(join(run.ws, 'mine.txt'), 'v1');
		writeFileSync(join(run.ws, 'other.txt'), 'o1');
		const fs = run.tx.fsFor('s');
		await fs.writeFile('mine.txt', 'v2 by the run');
		await fs.writeFile('other.txt', 'o2 by the run');
		await fs.writeFile('created.txt', 'by the run');
		run.tx.dispose();
		await run.journal.close();

		writeFileSync(join(run.ws, 'mine.txt'), 'v3 by the user');
		writeFileSync(join(run.ws, 'created.txt'), 'edited by the user');
		const first = await rollback({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox });
		assert.deepEqual(
			first.conflicts.map((c) => c.path),
			['created.txt', 'mine.txt'],
		);
		assert.match(first.conflicts[1].reason, /changed since the run/);
		assert.equal(readFileSync(join(run.ws, 'mine.txt'), 'utf8'), 'v3 by the user', 'left alone');
		assert.equal(readFileSync(join(run.ws, 'created.txt'), 'utf8'), 'edited by the user', 'left alone');
		assert.equal(readFileSync(join(run.ws, 'other.txt'), 'utf8'), 'o1', 'the rest is restored');

		const forced = await rollback({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox, force: true });
		assert.deepEqual(forced.conflicts, []);
		assert.equal(forced.restored + forced.removed, 2, 'only the conflicted paths are left to do');
		assert.equal(readFileSync(join(run.ws, 'mine.txt'), 'utf8'), 'v1');
		assert.equal(existsSync(join(run.ws, 'created.txt')), false);
	});

	it('a mode change after the run is a conflict too', async () => {
		const run = await startRun();
		await run.tx.fsFor('s').writeFile('x.sh', 'x', { mode: 0o644 });
		chmodSync(join(run.ws, 'x.sh'), 0o755);
		const result = await endAndRollBack(run);
		assert.equal(result.conflicts.length, 1);
		assert.match(result.conflicts[0].reason, /mode was changed since the run \(0644 → 0755\)/);
	});

	it('a directory the run created is kept when the user put files in it', async () => {
		const run = await startRun();
		await run.tx.fsFor('s').writeFile('gen/out.txt', 'x');
		writeFileSync(join(run.ws, 'gen/user.txt'), 'mine');
		const result = await endAndRollBack(run);
		assert.equal(existsSync(join(run.ws, 'gen/out.txt')), false);
		assert.equal(readFileSync(join(run.ws, 'gen/user.txt'), 'utf8'), 'mine');
		assert.deepEqual(result.conflicts.map((c) => c.path), ['gen']);
		assert.match(result.conflicts[0].reason, /not empty/);
	});

	it('a step interrupted between before and after (crash mid-step) is rolled back from its current state', async () => {
		const run = await startRun();
		writeFileSync(join(run.ws, 'half.txt'), 'original');
		const fs = run.tx.fsFor('s');
		await fs.writeFile('half.txt', 'first write');
		// Simulate a crash during a second write: its in-flight marker is durable, the effect half done, no 'after'.
		await withWriteHook(
			(file) => (file.endsWith('half.txt') ? { partial: 4, error: errno('EIO', 'killed') } : undefined),
			() => assert.rejects(fs.writeFile('half.txt', 'second write that never finished')),
		);
		// Drop the failure's 'after' bookkeeping to model the kill: keep only records up to the in-flight marker.
		await run.journal.close();
		const recs = (await readJournal(run.paths.journal)).records;
		const cut = recs.length - 1 - [...recs].reverse().findIndex((r) => r.t === 'before');
		writeFileSync(run.paths.journal, JOURNAL_MAGIC + recs.slice(0, cut + 1).map(encodeRecord).join(''));
		writeFileSync(join(run.ws, 'half.txt'), 'seco'); // what the kill left
		const result = await rollback({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox });
		assert.deepEqual(result.conflicts, []);
		assert.equal(readFileSync(join(run.ws, 'half.txt'), 'utf8'), 'original');
	});

	it('an interrupted rollback is resumed and finishes idempotently', async () => {
		const run = await startRun();
		for (let i = 0; i < 20; i++) writeFileSync(join(run.ws, `f${i}`), `orig ${i}`);
		const fs = run.tx.fsFor('s');
		for (let i = 0; i < 20; i++) await fs.writeFile(`f${i}`, `run ${i} `.repeat(50));
		await fs.writeFile('created', 'c');
		run.tx.dispose();
		await run.journal.close();

		// First rollback "crashes" when restoring f7: half its bytes written, nothing after it journaled.
		let crashed = false;
		const first = await withWriteHook(
			(file) => {
				if (!file.endsWith('/f7') || crashed) return undefined;
				crashed = true;
				return { partial: 3, error: errno('EIO', 'process killed') };
			},
			() => rollback({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox, concurrency: 1 }),
		);
		assert.deepEqual(first.conflicts.map((c) => c.path), ['f7']);
		// Model the kill: drop everything after 'rollback-start' except some 'restored' records.
		const recs = (await readJournal(run.paths.journal)).records;
		const start = recs.findIndex((r) => r.t === 'rollback-start');
		const kept = recs.slice(0, start + 1).concat(recs.slice(start + 1).filter((r) => r.t === 'restored').slice(0, 5));
		writeFileSync(run.paths.journal, JOURNAL_MAGIC + kept.map(encodeRecord).join(''));

		const second = await rollback({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox });
		assert.deepEqual(second.conflicts, []);
		for (let i = 0; i < 20; i++) assert.equal(readFileSync(join(run.ws, `f${i}`), 'utf8'), `orig ${i}`);
		assert.equal(existsSync(join(run.ws, 'created')), false);
		assert.ok(second.unchanged >= 10, 'paths restored by the first attempt are not rewritten');

		const third = await rollback({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox });
		assert.deepEqual(third, { restored: 0, removed: 0, unchanged: 0, conflicts: [], compensations: [] });
	});

	it('a corrupt journal is refused with its offset; forced, the readable records are used and the damaged file kept', async () => {
		const run = await startRun();
		writeFileSync(join(run.ws, 'one.txt'), 'one');
		writeFileSync(join(run.ws, 'two.txt'), 'two');
		const fs = run.tx.fsFor('s');
		await fs.writeFile('one.txt', 'ONE');
		await run.journal.flush();
		const mark = statSync(run.paths.journal).size;
		await fs.writeFile('two.txt', 'TWO');
		run.tx.dispose();
		await run.journal.close();
		const bytes = readFileSync(run.paths.journal);
		bytes[mark - 5] ^= 0x20; // inside the 'after' of one.txt, with the records of two.txt behind it
		writeFileSync(run.paths.journal, bytes);

		await assert.rejects(rollback({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox }), (err: unknown) => {
			assert.ok(err instanceof Error && /corrupt at byte \d+/.test(err.message) && /force/.test(err.message), String(err));
			return true;
		});
		const forced = await rollback({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox, force: true });
		assert.equal(readFileSync(join(run.ws, 'one.txt'), 'utf8'), 'one');
		assert.equal(readFileSync(join(run.ws, 'two.txt'), 'utf8'), 'two');
		assert.deepEqual(forced.conflicts, []);
		assert.ok(readdirSync(run.paths.dir).some((n) => n.startsWith('journal.log.corrupt-')), 'the damaged journal is kept');
	});

	it('the engine can roll back with the run journal it holds open (no second lock)', async () => {
		const run = await startRun();
		await run.tx.fsFor('s').writeFile('x.txt', 'x');
		const result = await rollback({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox, journal: run.journal });
		assert.equal(result.removed, 1);
		assert.equal(existsSync(join(run.ws, 'x.txt')), false);
		run.journal.append({ t: 'run-end', status: 'rolled_back', at: 0, durationMs: 0 });
		await run.journal.close();
		assert.equal((await records(run)).at(-1)?.t, 'run-end');
	});

	it('runs compensations for succeeded steps, newest first, once', async () => {
		const run = await startRun();
		for (const id of ['a', 'b', 'c']) {
			run.journal.append({ t: 'step-start', id, attempt: 1, at: 0 });
			run.journal.append({ t: 'step-end', id, status: id === 'b' ? 'failed' : 'succeeded', attempt: 1, at: 0, durationMs: 0 });
		}
		const calls: string[][] = [];
		const compensate = async (ids: string[]) => {
			calls.push(ids);
			return ids.map((step) => ({ step, ok: true }));
		};
		const result = await endAndRollBack(run).then(() => rollback({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox, compensate }));
		// The first rollback had no compensate; the second ran c then a (b failed, nothing to undo).
		assert.deepEqual(calls, [['c', 'a']]);
		assert.deepEqual(result.compensations, [
			{ step: 'c', ok: true },
			{ step: 'a', ok: true },
		]);
		const recs = await records(run);
		assert.deepEqual(recs.filter((r) => r.t === 'compensated').map((r) => r.t === 'compensated' && r.step), ['c', 'a']);
		await rollback({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox, compensate });
		assert.deepEqual(calls, [['c', 'a']], 'already compensated steps are not compensated again');
	});

	it('compensates steps in doubt (started, never ended: killed mid-effect) too, with the succeeded ones, newest first', async () => {
		const run = await startRun();
		const j = run.journal;
		const start = (id: string) => j.append({ t: 'step-start', id, attempt: 1, at: 0 });
		const end = (id: string, status: 'succeeded' | 'failed') => j.append({ t: 'step-end', id, status, attempt: 1, at: 0, durationMs: 0 });
		start('a');
		end('a', 'succeeded');
		start('b'); // in doubt
		start('c');
		end('c', 'failed');
		start('d');
		end('d', 'failed');
		j.append({ t: 'step-start', id: 'd', attempt: 2, at: 0 }); // its retry is in doubt
		start('e');
		end('e', 'succeeded');
		const calls: string[][] = [];
		const compensate = async (ids: string[]) => {
			calls.push(ids);
			return ids.map((step) => ({ step, ok: true }));
		};
		run.tx.dispose();
		await j.close();
		const result = await rollback({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox, compensate });
		assert.deepEqual(calls, [['e', 'd', 'b', 'a']]);
		assert.equal(result.compensations.length, 4);
		await rollback({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox, compensate });
		assert.equal(calls.length, 1, 'compensated steps are not compensated again');
	});

	it('a full disk fails the step with StepError disk-full and leaves nothing half-applied', async () => {
		const run = await startRun();
		writeFileSync(join(run.ws, 'existing.txt'), 'keep me');
		const fs = run.tx.fsFor('s');
		const failedOnce = new Set<string>();
		const firstWorkspaceWrite = (file: string) => !file.includes('.quantum') && !failedOnce.has(file) && Boolean(failedOnce.add(file));
		await withFullDisk(async () => {
			await assert.rejects(fs.writeFile('brand/new.txt', 'x'.repeat(1000)), (err: unknown) => {
				assert.ok(StepError.is(err, 'disk-full'), String(err));
				assert.match(err.message, /no space left on device/);
				return true;
			});
			await assert.rejects(fs.writeFile('existing.txt', 'y'.repeat(1000)), (err: unknown) => StepError.is(err, 'disk-full'));
		}, firstWorkspaceWrite);
		assert.equal(existsSync(join(run.ws, 'brand/new.txt')), false, 'the partial new file is removed');
		assert.equal(existsSync(join(run.ws, 'brand')), false, 'and the folder made for it');
		assert.equal(readFileSync(join(run.ws, 'existing.txt'), 'utf8'), 'keep me', 'the overwritten file is put back');
		// The journal agrees with the disk, so a rollback has nothing to fight over.
		const result = await endAndRollBack(run);
		assert.deepEqual(result.conflicts, []);
		assert.equal(readFileSync(join(run.ws, 'existing.txt'), 'utf8'), 'keep me');
	});

	it('a full disk while journaling fails the step before any effect', async () => {
		const run = await startRun();
		await withFullDisk(async () => {
			await assert.rejects(run.tx.fsFor('s').writeFile('n.txt', 'x'), (err: unknown) => StepError.is(err, 'disk-full'));
		}, (file) => file.endsWith('journal.log'));
		assert.equal(existsSync(join(run.ws, 'n.txt')), false);
		await run.journal.close();
	});

	it('a full disk while saving a before-image fails the step cleanly', async () => {
		const run = await startRun();
		writeFileSync(join(run.ws, 'big.txt'), 'original');
		await withFullDisk(async () => {
			await assert.rejects(run.tx.fsFor('s').writeFile('big.txt', 'x'), (err: unknown) => StepError.is(err, 'disk-full'));
		}, (file) => file.includes('blobs'));
		assert.equal(readFileSync(join(run.ws, 'big.txt'), 'utf8'), 'original');
		assert.deepEqual(existsSync(run.paths.blobs) ? readdirSync(run.paths.blobs) : [], [], 'no temp blob left behind');
		assert.deepEqual(listBlobs(run.paths.blobs), [], 'no blob stored');
		for (const name of readdirSync(run.paths.dir).filter((n) => n.endsWith('.pack'))) {
			assert.ok(readFileSync(join(run.paths.dir, name)).every((b) => b === 0), 'no part of an entry left in the pack');
		}
		await run.journal.close();
	});

	it('goes through the sandbox: escapes and protected paths are refused before anything is journaled', async () => {
		const run = await startRun();
		const fs = run.tx.fsFor('s');
		await assert.rejects(fs.writeFile('../outside.txt', 'x'), (err: unknown) => SandboxError.is(err, 'outside'));
		await assert.rejects(fs.writeFile('.git/config', 'x'), (err: unknown) => SandboxError.is(err, 'protected'));
		await assert.rejects(fs.readFile('../etc/passwd'), (err: unknown) => SandboxError.is(err, 'outside'));
		await run.journal.flush();
		assert.equal((await records(run)).filter((r) => r.t === 'before').length, 0);
		await run.journal.close();
	});

	it('maps errors to StepError codes: not-found, exists', async () => {
		const run = await startRun();
		const fs = run.tx.fsFor('s');
		await assert.rejects(fs.readFile('missing'), (err: unknown) => StepError.is(err, 'not-found'));
		await assert.rejects(fs.remove('missing'), (err: unknown) => StepError.is(err, 'not-found'));
		await fs.writeFile('x', '1');
		await assert.rejects(fs.writeFile('x', '2', { exclusive: true }), (err: unknown) => StepError.is(err, 'exists'));
		await assert.rejects(fs.copy('x', 'x2').then(() => fs.copy('x', 'x2')), (err: unknown) => StepError.is(err, 'exists'));
		await assert.rejects(fs.move('missing', 'y'), (err: unknown) => StepError.is(err, 'not-found'));
		assert.equal(await fs.exists('x'), true);
		assert.equal(await fs.exists('nope'), false);
		assert.equal((await fs.readFile('x')).toString(), '1');
		await run.journal.close();
	});

	it('copies and moves directory trees, and rolls them back', async () => {
		const run = await startRun();
		mkdirSync(join(run.ws, 'src/lib'), { recursive: true });
		writeFileSync(join(run.ws, 'src/lib/a.js'), 'a');
		writeFileSync(join(run.ws, 'src/b.js'), 'b');
		chmodSync(join(run.ws, 'src/b.js'), 0o755);
		mkdirSync(join(run.ws, 'dst'));
		writeFileSync(join(run.ws, 'dst/old.txt'), 'old');
		const before = snapshot(run.ws);
		const fs = run.tx.fsFor('s');
		await fs.copy('src', 'copy');
		assert.equal(readFileSync(join(run.ws, 'copy/b.js'), 'utf8'), 'b');
		assert.equal(readFileSync(join(run.ws, 'copy/lib/a.js'), 'utf8'), 'a');
		assert.equal(statSync(join(run.ws, 'copy/b.js')).mode & 0o777, 0o755);
		symlinkSync('b.js', join(run.ws, 'src/link'));
		before['src/link'] = 'link -> b.js';
		await fs.move('src', 'dst', { overwrite: true });
		assert.equal(readlinkSync(join(run.ws, 'dst/link')), 'b.js', 'a symlink is moved, not followed');
		assert.equal(existsSync(join(run.ws, 'src')), false);
		assert.equal(existsSync(join(run.ws, 'dst/old.txt')), false);
		assert.equal(readFileSync(join(run.ws, 'dst/lib/a.js'), 'utf8'), 'a');
		const result = await endAndRollBack(run);
		assert.deepEqual(result.conflicts, []);
		assert.deepEqual(snapshot(run.ws), before);
	});

	it('trees are checked path by path: a folder holding .git cannot be copied, moved or removed into or out of protection', async () => {
		const run = await startRun();
		mkdirSync(join(run.ws, 'vendor/lib/.git'), { recursive: true });
		writeFileSync(join(run.ws, 'vendor/lib/.git/HEAD'), 'ref');
		writeFileSync(join(run.ws, 'vendor/lib/a.js'), 'a');
		const fs = run.tx.fsFor('s');
		await assert.rejects(fs.copy('vendor', 'copy'), (err: unknown) => SandboxError.is(err, 'protected'));
		await assert.rejects(fs.move('vendor', 'moved'), (err: unknown) => SandboxError.is(err, 'protected'));
		await assert.rejects(fs.remove('vendor'), (err: unknown) => SandboxError.is(err, 'protected'));
		assert.equal(readFileSync(join(run.ws, 'vendor/lib/.git/HEAD'), 'utf8'), 'ref');
		assert.equal(existsSync(join(run.ws, 'copy')), false);
		await run.journal.close();
	});

	it('concurrent steps touching the same path image it once, and rollback restores the first before-image', async () => {
		const run = await startRun();
		writeFileSync(join(run.ws, 'shared.txt'), 'first');
		await Promise.all(Array.from({ length: 10 }, (_, i) => run.tx.fsFor(`s${i}`).writeFile('shared.txt', `write ${i}`)));
		await run.journal.flush();
		const befores = (await records(run)).filter((r) => r.t === 'before' && r.path === 'shared.txt');
		assert.equal(befores.length, 10, 'one before-image per step');
		const first = befores[0];
		assert.ok(first.t === 'before' && first.blob);
		assert.equal(readBlobSync(run.paths.blobs, first.blob)?.toString(), 'first', 'the first is the run\'s before-image');
		await endAndRollBack(run);
		assert.equal(readFileSync(join(run.ws, 'shared.txt'), 'utf8'), 'first');
	});

	it('a resumed run does not image paths again and rollback still restores the starting bytes', async () => {
		const run = await startRun();
		writeFileSync(join(run.ws, 'r.txt'), 'start');
		await run.tx.fsFor('s1').writeFile('r.txt', 'after step 1');
		run.tx.dispose();
		await run.journal.close();
		// A new process resumes the run.
		const previous = (await readJournal(run.paths.journal)).records;
		const journal = await Journal.open(run.paths.journal);
		const tx = createTransaction({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox, journal, previous });
		await tx.fsFor('s2').writeFile('r.txt', 'after step 2');
		await tx.fsFor('s2').writeFile('r.txt', 'after step 2, again');
		tx.dispose();
		await journal.close();
		const recs = (await readJournal(run.paths.journal)).records.filter((r) => r.t === 'before');
		assert.equal(recs.length, 3);
		assert.ok(recs[0].t === 'before' && readBlobSync(run.paths.blobs, recs[0].blob as string)?.toString() === 'start');
		assert.ok(recs[1].t === 'before' && readBlobSync(run.paths.blobs, recs[1].blob as string)?.toString() === 'after step 1', "step s2's own before-image");
		assert.equal(recs[2].t === 'before' && recs[2].blob, undefined, 'the third is only an in-flight marker');
		await rollback({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox });
		assert.equal(readFileSync(join(run.ws, 'r.txt'), 'utf8'), 'start');
	});

	// The timing is a benchmark figure (bench/), not a pass/fail target here: the bound only catches pathologies.
	it('a step interrupted by a crash is undone before it is re-run, so appends, creates and deletes apply once', async () => {
		const run = await startRun();
		writeFileSync(join(run.ws, 'log.txt'), 'start\n');
		writeFileSync(join(run.ws, 'doomed.txt'), 'doomed');
		const j = run.journal;
		// Step a (completes) appends to log.txt; step b (interrupted) appends again, creates a file and deletes one.
		j.append({ t: 'step-start', id: 'a', attempt: 1, at: 0 });
		await run.tx.fsFor('a').writeFile('log.txt', 'start\na\n');
		j.append({ t: 'step-end', id: 'a', status: 'succeeded', attempt: 1, at: 0, durationMs: 0 });
		// (The engine writes step-start only for external effects: b's own records show it was running.)
		const b = run.tx.fsFor('b');
		await b.writeFile('log.txt', 'start\na\nb\n');
		await b.writeFile('made/by-b.txt', 'b');
		await b.remove('doomed.txt');
		run.tx.dispose();
		await j.close(); // the process dies here: no step-end for b

		const previous = (await readJournal(run.paths.journal)).records;
		const journal = await Journal.open(run.paths.journal);
		const tx = createTransaction({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox, journal, previous });
		const again = tx.fsFor('b');
		// The re-run reads the file as it was before b: b's first attempt is undone by its first operation.
		const before = (await again.readFile('log.txt')).toString();
		assert.equal(before, 'start\na\n');
		assert.equal(existsSync(join(run.ws, 'made')), false);
		assert.equal(readFileSync(join(run.ws, 'doomed.txt'), 'utf8'), 'doomed');
		await again.writeFile('log.txt', `${before}b\n`);
		await again.writeFile('made/by-b.txt', 'b');
		await again.remove('doomed.txt');
		assert.equal(readFileSync(join(run.ws, 'log.txt'), 'utf8'), 'start\na\nb\n');
		await tx.undoInterrupted('b'); // idempotent: does not undo the re-run
		assert.equal(readFileSync(join(run.ws, 'log.txt'), 'utf8'), 'start\na\nb\n');
		assert.equal(await tx.fsFor('a').exists('made/by-b.txt'), true, 'steps that completed are not touched');
		tx.dispose();
		await journal.close();

		// And the whole run still rolls back to the starting bytes.
		const result = await rollback({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox });
		assert.deepEqual(result.conflicts, []);
		assert.equal(readFileSync(join(run.ws, 'log.txt'), 'utf8'), 'start\n');
		assert.equal(readFileSync(join(run.ws, 'doomed.txt'), 'utf8'), 'doomed');
		assert.equal(existsSync(join(run.ws, 'made')), false);
	});

	it('an interrupted step is not undone over a later step\'s work, nor from a lost copy', async () => {
		const run = await startRun();
		writeFileSync(join(run.ws, 'shared.txt'), 'v0');
		writeFileSync(join(run.ws, 'other.txt'), 'o0');
		const j = run.journal;
		j.append({ t: 'step-start', id: 'b', attempt: 1, at: 0 });
		await run.tx.fsFor('b').writeFile('shared.txt', 'by b');
		await run.tx.fsFor('c').writeFile('shared.txt', 'by c after b');
		await run.tx.fsFor('a').writeFile('other.txt', 'o1');
		j.append({ t: 'step-start', id: 'd', attempt: 1, at: 0 });
		await run.tx.fsFor('d').writeFile('other.txt', 'o2');
		run.tx.dispose();
		await j.close();
		const previous = (await readJournal(run.paths.journal)).records;
		const journal = await Journal.open(run.paths.journal);
		const tx = createTransaction({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox, journal, previous });
		await assert.rejects(tx.fsFor('b').exists('shared.txt'), (err: unknown) => StepError.is(err, 'io') && /changed by step c since/.test(err.message));
		// d's starting content (o1, a step copy kept without fsync) is lost, as after a power cut.
		const dImage = previous.find((r) => r.t === 'before' && r.step === 'd');
		assert.ok(dImage && dImage.t === 'before' && dImage.blob);
		rmSync(join(run.paths.blobs, dImage.blob));
		await assert.rejects(tx.fsFor('d').readFile('other.txt'), (err: unknown) => StepError.is(err, 'io') && /was lost/.test(err.message));
		tx.dispose();
		await journal.close();
	});

	it('a folder swapped for a symlink to outside between two writes of one run is refused, and nothing is written outside', async () => {
		const run = await startRun();
		const outside = tempDir('qo-tx-outside-');
		mkdirSync(join(outside, 'mid'));
		writeFileSync(join(outside, 'm.txt'), 'outside');
		writeFileSync(join(outside, 'mid', 'x.txt'), 'outside x');
		mkdirSync(join(run.ws, 'dir'));
		writeFileSync(join(run.ws, 'dir', 'm.txt'), 'inside');
		mkdirSync(join(run.ws, 'top', 'mid'), { recursive: true });
		writeFileSync(join(run.ws, 'top', 'mid', 'x.txt'), 'inside x');
		const fs = run.tx.fsFor('s');
		await fs.writeFile('dir/a.txt', 'first');
		await fs.writeFile('dir/m.txt', 'changed');
		await fs.writeFile('top/mid/x.txt', 'changed x');
		await fs.writeFile('top/mid/y.txt', 'new y');
		// Someone else swaps the folders for symlinks to outside (with the same layout) while the run goes on.
		renameSync(join(run.ws, 'dir'), join(run.ws, 'dir-old'));
		symlinkSync(outside, join(run.ws, 'dir'));
		renameSync(join(run.ws, 'top'), join(run.ws, 'top-old'));
		symlinkSync(outside, join(run.ws, 'top'));
		const refused = (err: unknown) => SandboxError.is(err, 'symlink');
		await assert.rejects(fs.writeFile('dir/b.txt', 'x'), refused, 'a new file');
		await assert.rejects(fs.writeFile('dir/m.txt', 'x', { mustExist: true }), refused, 'an existing file');
		await assert.rejects(fs.writeFile('dir/a.txt', 'x'), refused, 'a path the run already wrote');
		await assert.rejects(fs.writeFile('top/mid/x.txt', 'x'), refused, 'a deeper path');
		await assert.rejects(fs.writeFile('top/mid/y.txt', 'x', { exclusive: true }), refused, 'an exclusive create');
		await assert.rejects(fs.remove('dir/m.txt'), refused);
		await assert.rejects(fs.mkdir('top/mid/new'), refused);
		assert.deepEqual(readdirSync(outside).sort(), ['m.txt', 'mid']);
		assert.deepEqual(readdirSync(join(outside, 'mid')), ['x.txt']);
		assert.equal(readFileSync(join(outside, 'm.txt'), 'utf8'), 'outside');
		assert.equal(readFileSync(join(outside, 'mid', 'x.txt'), 'utf8'), 'outside x');
		await run.journal.close();
	});

	it('a file swapped for a symlink between its check and its open is not written through', async () => {
		const ws = tempDir('qo-tx-');
		const outside = tempDir('qo-tx-outside-');
		writeFileSync(join(outside, 'secret.txt'), 'secret');
		writeFileSync(join(ws, 'f.txt'), 'mine');
		const real = await createSandbox(ws);
		let swapped = false;
		// The swap lands right after the check, before the transaction opens the file.
		const racy: Sandbox = Object.assign(Object.create(real) as Sandbox, {
			resolveWriteTarget(rel: string): WriteTarget {
				const target = real.resolveWriteTarget(rel);
				if (!swapped && rel === 'f.txt') {
					swapped = true;
					rmSync(join(ws, 'f.txt'));
					symlinkSync(join(outside, 'secret.txt'), join(ws, 'f.txt'));
				}
				return target;
			},
		});
		const paths = await createRunDir(join(ws, '.quantum'), newRunId());
		const journal = await Journal.open(paths.journal);
		const tx = createTransaction({ runId: newRunId(), workspace: ws, stateDir: join(ws, '.quantum'), sandbox: racy, journal });
		await assert.rejects(tx.fsFor('s').writeFile('f.txt', 'overwritten'), (err: unknown) => SandboxError.is(err, 'symlink'));
		assert.ok(swapped);
		assert.equal(readFileSync(join(outside, 'secret.txt'), 'utf8'), 'secret');
		tx.dispose();
		await journal.close();
	});

	it('a record naming a packed before-image reaches the journal only after the pack entry', async () => {
		const run = await startRun();
		for (let i = 0; i < 24; i++) writeFileSync(join(run.ws, `f${i}`), `original ${i}`);
		const checked: string[] = [];
		const writeAll = stateIo.writeAll;
		stateIo.writeAll = async (fh, data, position, file) => {
			if (file === run.paths.journal) {
				for (const line of Buffer.from(data).toString('utf8').split('\n').filter(Boolean)) {
					const rec = JSON.parse(line.split(' ').slice(2).join(' ')) as JournalRecord;
					if (rec.t === 'before' && rec.blob) {
						assert.ok(readBlobSync(run.paths.blobs, rec.blob), `${rec.path}: its before-image is stored before the record is written`);
						checked.push(rec.path);
					}
				}
			}
			return writeAll(fh, data, position, file);
		};
		try {
			await Promise.all(Array.from({ length: 24 }, (_, i) => run.tx.fsFor(`s${i}`).writeFile(`f${i}`, `changed ${i}`)));
		} finally {
			stateIo.writeAll = writeAll;
		}
		assert.equal(checked.length, 24);
		const result = await endAndRollBack(run);
		assert.deepEqual(result.conflicts, []);
		for (let i = 0; i < 24; i++) assert.equal(readFileSync(join(run.ws, `f${i}`), 'utf8'), `original ${i}`);
	});

	it('an interrupted step that made a folder another step made too is undone without touching the other step\'s work', async () => {
		const run = await startRun();
		const j = run.journal;
		// Both steps find `gen` missing and journal it as a folder they create.
		await Promise.all([run.tx.fsFor('a').writeFile('gen/a.txt', 'a'), run.tx.fsFor('b').writeFile('gen/b.txt', 'b')]);
		await j.flush();
		const genAfters = (await records(run)).filter((r) => r.t === 'after' && r.path === 'gen');
		assert.equal(genAfters.length, 2, 'both steps journaled the folder');
		// The step that wrote the folder's last record completed; the other one was interrupted.
		const done = genAfters[1].t === 'after' ? genAfters[1].step : '';
		const interrupted = done === 'a' ? 'b' : 'a';
		j.append({ t: 'step-end', id: done, status: 'succeeded', attempt: 1, at: 0, durationMs: 0 });
		run.tx.dispose();
		await j.close();

		const previous = (await readJournal(run.paths.journal)).records;
		const journal = await Journal.open(run.paths.journal);
		const tx = createTransaction({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox, journal, previous });
		assert.deepEqual(tx.interruptedSteps(), [interrupted]);
		await tx.undoInterrupted(interrupted);
		assert.equal(existsSync(join(run.ws, `gen/${interrupted}.txt`)), false, 'the interrupted step\'s file is undone');
		assert.equal(readFileSync(join(run.ws, `gen/${done}.txt`), 'utf8'), done, 'the other step\'s file is kept');
		await tx.fsFor(interrupted).writeFile(`gen/${interrupted}.txt`, interrupted);
		tx.dispose();
		await journal.close();
		const result = await rollback({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox });
		assert.deepEqual(result.conflicts, []);
		assert.equal(existsSync(join(run.ws, 'gen')), false);
	});

	it('two steps interrupted while making the same new folder are both undone and re-run', async () => {
		const run = await startRun();
		await Promise.all([run.tx.fsFor('a').writeFile('gen/a.txt', 'a'), run.tx.fsFor('b').writeFile('gen/b.txt', 'b')]);
		run.tx.dispose();
		await run.journal.close();
		// The process dies after the effects, before the commit holding their 'after' records.
		const recs = (await readJournal(run.paths.journal)).records.filter((r) => r.t !== 'after');
		writeFileSync(run.paths.journal, JOURNAL_MAGIC + recs.map(encodeRecord).join(''));

		const previous = (await readJournal(run.paths.journal)).records;
		const journal = await Journal.open(run.paths.journal);
		const tx = createTransaction({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox, journal, previous });
		assert.deepEqual(tx.interruptedSteps().sort(), ['a', 'b']);
		for (const id of tx.interruptedSteps()) await tx.undoInterrupted(id);
		assert.equal(existsSync(join(run.ws, 'gen')), false, 'each step\'s file is undone, and the folder they made');
		await tx.fsFor('a').writeFile('gen/a.txt', 'a');
		await tx.fsFor('b').writeFile('gen/b.txt', 'b');
		tx.dispose();
		await journal.close();
		const result = await rollback({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox });
		assert.deepEqual(result.conflicts, []);
		assert.equal(existsSync(join(run.ws, 'gen')), false);
	});

	it('an interrupted step whose path another interrupted step journaled after it, before either changed it, re-runs', async () => {
		const run = await startRun();
		const j = run.journal;
		// Killed after the records were committed, before any effect (the folders were never made).
		j.append({ t: 'before', step: 'a', path: 'gen', kind: 'absent' });
		j.append({ t: 'before', step: 'a', path: 'gen/a.txt', kind: 'absent' });
		j.append({ t: 'before', step: 'b', path: 'gen', kind: 'absent' });
		j.append({ t: 'before', step: 'b', path: 'gen/b.txt', kind: 'absent' });
		run.tx.dispose();
		await j.close();
		const previous = (await readJournal(run.paths.journal)).records;
		const journal = await Journal.open(run.paths.journal);
		const tx = createTransaction({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox, journal, previous });
		for (const id of tx.interruptedSteps()) await tx.undoInterrupted(id);
		await tx.fsFor('a').writeFile('gen/a.txt', 'a');
		await tx.fsFor('b').writeFile('gen/b.txt', 'b');
		assert.equal(readFileSync(join(run.ws, 'gen/a.txt'), 'utf8'), 'a');
		tx.dispose();
		await journal.close();
		const result = await rollback({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox });
		assert.deepEqual(result.conflicts, []);
		assert.equal(existsSync(join(run.ws, 'gen')), false);
	});

	it('rolls back 2,000 journaled writes quickly', async function () {
		this.timeout(60_000);
		const run = await startRun();
		mkdirSync(join(run.ws, 'm'));
		for (let i = 0; i < 1000; i++) writeFileSync(join(run.ws, 'm', `${i}.txt`), `original ${i}\n`);
		const limit = 16;
		const ids = Array.from({ length: 2000 }, (_, i) => i);
		for (let i = 0; i < ids.length; i += limit) {
			await Promise.all(
				ids.slice(i, i + limit).map((n) =>
					n < 1000 ? run.tx.fsFor(`m${n}`).writeFile(`m/${n}.txt`, `modified ${n}\n`) : run.tx.fsFor(`c${n}`).writeFile(`c/${n}.txt`, `created ${n}\n`),
				),
			);
		}
		run.tx.dispose();
		await run.journal.close();
		const t0 = performance.now();
		const result = await rollback({ runId: run.runId, workspace: run.ws, sandbox: run.sandbox });
		const ms = performance.now() - t0;
		assert.deepEqual(result.conflicts, []);
		assert.equal(result.restored, 1000);
		assert.equal(result.removed, 1001);
		assert.equal(readFileSync(join(run.ws, 'm/999.txt'), 'utf8'), 'original 999\n');
		assert.equal(existsSync(join(run.ws, 'c')), false);
		assert.ok(ms < 5000, `rollback of 2,000 files took ${ms.toFixed(0)} ms`);
	});
});
