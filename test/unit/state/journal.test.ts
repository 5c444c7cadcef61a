import assert from 'node:assert/strict';
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StateError } from '../../../src/core/errors';
import { stateIo } from '../../../src/core/state/io';
import { JOURNAL_MAGIC, Journal, StepEndsBatch, encodeRecord, readJournal } from '../../../src/core/state/journal';
import type { JournalRecord } from '../../../src/core/state/records';
import { tempDir } from '../../helpers/tmp';
import { withFullDisk } from './helpers';

function sample(n: number): JournalRecord[] {
	const out: JournalRecord[] = [];
	for (let i = 0; i < n; i++) {
		out.push({ t: 'step-start', id: `step-${i}`, attempt: 1, at: 1_700_000_000_000 + i });
		out.push({ t: 'after', step: `step-${i}`, path: `dir/ünïcode ${i}.txt`, kind: 'file', hash: 'ab'.repeat(32), mode: 0o644 });
	}
	return out;
}

async function writeJournal(file: string, records: JournalRecord[]): Promise<void> {
	const j = await Journal.open(file);
	for (const r of records) j.append(r);
	await j.close();
}

describe('journal', () => {
	it('round-trips records, unicode included, in order', async () => {
		const file = join(tempDir(), 'journal.log');
		const records = sample(50);
		await writeJournal(file, records);
		const read = await readJournal(file);
		assert.deepEqual(read.records, records);
		assert.equal(read.tornBytes, 0);
		assert.equal(read.corruptAt, undefined);
		assert.ok(readFileSync(file, 'utf8').startsWith(JOURNAL_MAGIC));
	});

	it('reopening appends after the existing records', async () => {
		const file = join(tempDir(), 'journal.log');
		await writeJournal(file, sample(2));
		await writeJournal(file, sample(3));
		assert.deepEqual((await readJournal(file)).records, [...sample(2), ...sample(3)]);
	});

	it('frames each record as "<len> <crc32> <json>\\n"', () => {
		const line = encodeRecord({ t: 'commit', at: 1 });
		assert.match(line, /^21 [0-9a-f]{8} \{"t":"commit","at":1\}\n$/);
	});

	it('a torn tail is detected and cut at every byte offset of the last record, never parsed', async () => {
		const dir = tempDir();
		const records = sample(3);
		const full = join(dir, 'full.log');
		await writeJournal(full, records);
		const bytes = readFileSync(full);
		const lastLen = Buffer.byteLength(encodeRecord(records[records.length - 1]));
		const lastStart = bytes.length - lastLen;
		for (let cut = lastStart + 1; cut < bytes.length; cut++) {
			const file = join(dir, `cut-${cut}.log`);
			writeFileSync(file, bytes.subarray(0, cut));
			const read = await readJournal(file);
			assert.deepEqual(read.records, records.slice(0, -1), `cut at ${cut}`);
			assert.equal(read.tornBytes, cut - lastStart, `cut at ${cut}`);
			assert.equal(read.corruptAt, undefined, `cut at ${cut}`);
			// Opening cuts the tail; new appends follow the last good record.
			const j = await Journal.open(file);
			assert.equal(j.tornBytesCut, cut - lastStart);
			j.append({ t: 'commit', at: 7 });
			await j.close();
			assert.equal(statSync(file).size, lastStart + Buffer.byteLength(encodeRecord({ t: 'commit', at: 7 })));
			assert.deepEqual((await readJournal(file)).records, [...records.slice(0, -1), { t: 'commit', at: 7 }]);
		}
	});

	it('a torn format line (crash while creating) is a fresh journal', async () => {
		const file = join(tempDir(), 'journal.log');
		writeFileSync(file, JOURNAL_MAGIC.slice(0, 4));
		const j = await Journal.open(file);
		j.append({ t: 'commit', at: 1 });
		await j.close();
		assert.deepEqual((await readJournal(file)).records, [{ t: 'commit', at: 1 }]);
	});

	it('garbage after the last record with no good record after it is a torn tail', async () => {
		const file = join(tempDir(), 'journal.log');
		await writeJournal(file, sample(2));
		writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.alloc(100), Buffer.from('\n\n')]));
		const read = await readJournal(file);
		assert.deepEqual(read.records, sample(2));
		assert.equal(read.tornBytes, 102);
	});

	it('a corrupt record in the middle is an error with its offset; the records before it are kept, nothing is cut', async () => {
		const file = join(tempDir(), 'journal.log');
		const records = sample(5);
		await writeJournal(file, records);
		const bytes = readFileSync(file);
		const offset = Buffer.byteLength(JOURNAL_MAGIC + records.slice(0, 4).map(encodeRecord).join(''));
		bytes[offset + 20] ^= 0x01; // flip a bit inside record 5's payload
		writeFileSync(file, bytes);

		const read = await readJournal(file);
		assert.deepEqual(read.records, records.slice(0, 4));
		assert.equal(read.corruptAt, offset);
		assert.ok(StateError.is(read.error, 'corrupt'));
		assert.match(read.error.message, new RegExp(`journal .*journal\\.log is corrupt at byte ${offset} \\(checksum mismatch\\)`));
		assert.deepEqual(read.afterCorruption, records.slice(5), 'the good records after the damage are salvaged too');

		await assert.rejects(Journal.open(file), (err: unknown) => StateError.is(err, 'corrupt') && err.message.includes(`byte ${offset}`));
		assert.deepEqual(readFileSync(file), bytes, 'the damaged journal is left untouched');
	});

	it('a file that is not a journal is refused', async () => {
		const file = join(tempDir(), 'journal.log');
		writeFileSync(file, 'hello world\n');
		await assert.rejects(readJournal(file), (err: unknown) => StateError.is(err, 'corrupt') && /not a Quantum Orchestrator journal/.test(err.message));
	});

	it('group commit: many concurrent flushes share few fsyncs, and each resolves only once its records are durable', async () => {
		const file = join(tempDir(), 'journal.log');
		const j = await Journal.open(file);
		// One durable write per commit (O_DSYNC, or write + fdatasync): count the writes to the journal.
		let fsyncs = 0;
		const original = stateIo.writeAll;
		stateIo.writeAll = async (fh, data, pos, f) => {
			if (f === file) fsyncs++;
			await original(fh, data, pos, f);
		};
		try {
			const flushes: Promise<void>[] = [];
			for (let i = 0; i < 200; i++) {
				j.append({ t: 'step-start', id: `s${i}`, attempt: 1, at: i });
				const expected = i + 1;
				flushes.push(
					j.flush().then(async () => {
						// Everything appended before this flush() call is on disk now.
						assert.ok((await readJournal(file)).records.length >= expected);
					}),
				);
				if (i % 10 === 0) await new Promise((r) => setImmediate(r));
			}
			await Promise.all(flushes);
		} finally {
			stateIo.writeAll = original;
		}
		assert.equal((await readJournal(file)).records.length, 200);
		assert.ok(fsyncs <= 40, `expected a few group commits, got ${fsyncs} fsyncs for 200 flushes`);
		assert.equal(j.stats.fsyncs, fsyncs);
		await j.close();
	});

	it('flush with nothing new pending costs nothing', async () => {
		const j = await Journal.open(join(tempDir(), 'journal.log'));
		j.append({ t: 'commit', at: 1 });
		await j.flush();
		const before = j.stats.fsyncs;
		await j.flush();
		await j.flush();
		assert.equal(j.stats.fsyncs, before);
		await j.close();
	});

	it('a full disk fails the flush with disk-full, cuts the partial write, and the records are retried by the next flush', async () => {
		const file = join(tempDir(), 'journal.log');
		const j = await Journal.open(file);
		j.append({ t: 'commit', at: 1 });
		await j.flush();
		const size = statSync(file).size;
		j.append({ t: 'step-start', id: 'a', attempt: 1, at: 2 });
		await withFullDisk(async () => {
			await assert.rejects(j.flush(), (err: unknown) => StateError.is(err, 'disk-full') && /journal/.test(err.message));
		});
		assert.equal(statSync(file).size, size, 'no torn bytes left in the journal');
		j.append({ t: 'step-start', id: 'b', attempt: 1, at: 3 });
		await j.flush();
		assert.deepEqual(
			(await readJournal(file)).records.map((r) => r.t === 'step-start' ? r.id : r.t),
			['commit', 'a', 'b'],
		);
		await j.close();
	});

	it('a created journal writes nothing before it is ready, then the format line with its first records in one commit', async () => {
		const file = join(tempDir(), 'journal.log');
		let open!: () => void;
		const gate = new Promise<void>((resolve) => (open = resolve));
		let asked = false;
		const j = await Journal.create(file, () => {
			asked = true;
			return gate;
		});
		assert.ok(asked, 'ready is asked for once the file exists');
		j.append({ t: 'commit', at: 1 });
		const flushed = j.flush();
		await new Promise((resolve) => setTimeout(resolve, 20));
		assert.equal(statSync(file).size, 0, 'nothing written while not ready');
		assert.deepEqual((await readJournal(file)).records, [], 'an empty journal reads as one that never got a record');
		open();
		await flushed;
		assert.equal(j.stats.commits, 1);
		assert.ok(readFileSync(file, 'utf8').startsWith(JOURNAL_MAGIC));
		assert.deepEqual((await readJournal(file)).records, [{ t: 'commit', at: 1 }]);
		j.append({ t: 'commit', at: 2 });
		await j.close();
		assert.deepEqual((await readJournal(file)).records, [{ t: 'commit', at: 1 }, { t: 'commit', at: 2 }]);
		await assert.rejects(Journal.create(file), (err: unknown) => StateError.is(err, 'io'), 'an existing journal is never created again');
	});

	it('a created journal whose ready step fails writes nothing and fails every flush with that error', async () => {
		const file = join(tempDir(), 'journal.log');
		const j = await Journal.create(file, () => Promise.reject(new StateError('disk-full', 'no space for the run folder')));
		j.append({ t: 'commit', at: 1 });
		await assert.rejects(j.flush(), /no space for the run folder/);
		await assert.rejects(j.flush(), /no space for the run folder/);
		await assert.rejects(j.close(), /no space for the run folder/);
		assert.equal(statSync(file).size, 0);
	});

	it('a StepEndsBatch writes exactly the UTF-8 of JSON.stringify of its step-ends record, and the journal reads it back', async () => {
		const items: [string, number, number, number, unknown][] = [
			['a', 1, 1_700_000_000_000, 0, null],
			['b.2', 1, 1_700_000_000_000, 0, null],
			['c-3_x', 2, 1_700_000_000_001, 12.5, null],
			['ünï "quoted"\\', 1, 1_700_000_000_001, 0, null],
			['d', 1, -0, -0, { nested: ['x', 1, null], s: 'line\nbreak' }],
			['e', 1, Number.NaN, Number.POSITIVE_INFINITY, null],
			['f', 3, 5, 1e21, 'text'],
			['g', 1, 5, 0, 0],
			['h', 1, -5, 2 ** 53, false],
			['i', 1, -1_700_000_000_000, 9, null],
			['tab\there', 1, 5, 0, null],
			['', 1, 1_700_000_000_001, 0, null],
		];
		const batch = new StepEndsBatch();
		for (const it of items) batch.add(...it);
		assert.equal(batch.count, items.length);
		const payload = batch.take();
		assert.equal(payload.toString('utf8'), JSON.stringify({ t: 'step-ends', items }));
		assert.equal(batch.count, 0);
		assert.equal(batch.take().toString('utf8'), JSON.stringify({ t: 'step-ends', items: [] }));
		const file = join(tempDir(), 'journal.log');
		const j = await Journal.open(file);
		j.appendPayload('step-ends', payload);
		await j.close();
		assert.deepEqual((await readJournal(file)).records, [{ t: 'step-ends', items: JSON.parse(JSON.stringify(items)) }]);
	});

	it('a StepEndsBatch matches JSON.stringify on random batches, large ones included', () => {
		let seed = 7;
		const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
		const pick = <T,>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
		const batch = new StepEndsBatch();
		for (let round = 0; round < 20; round++) {
			const items: [string, number, number, number, unknown][] = [];
			const size = round === 0 ? 5000 : Math.floor(rand() * 300);
			let at = 1_700_000_000_000;
			for (let k = 0; k < size; k++) {
				if (rand() < 0.3) at += Math.floor(rand() * 3);
				const id = rand() < 0.9 ? `s${k}.${Math.floor(rand() * 99)}` : pick(['é', 'a"b', 'x\\y', '\u0001', '\ud800', 'ok-1']);
				const num = () => (rand() < 0.9 ? Math.floor(rand() * 100) : pick([0.5, -3, -0, 1e21, 2 ** 53 + 2, Number.NaN, -Infinity, 123_456_789_012]));
				items.push([id, 1 + Math.floor(rand() * 3), rand() < 0.95 ? at : num(), num(), rand() < 0.9 ? null : pick([1, 'o', { a: [1] }, true, [null]])]);
			}
			for (const it of items) batch.add(...it);
			assert.equal(batch.take().toString('utf8'), JSON.stringify({ t: 'step-ends', items }), `round ${round}`);
		}
	});

	it('append after close is refused', async () => {
		const j = await Journal.open(join(tempDir(), 'journal.log'));
		await j.close();
		assert.throws(() => j.append({ t: 'commit', at: 1 }), (err: unknown) => StateError.is(err, 'io'));
	});

	it('append is cheap: 200,000 records buffer and commit quickly', async () => {
		const file = join(tempDir(), 'journal.log');
		const j = await Journal.open(file);
		const t0 = process.hrtime.bigint();
		for (let i = 0; i < 200_000; i++) j.append({ t: 'step-start', id: `step-${i}`, attempt: 1, at: i });
		const appendMs = Number(process.hrtime.bigint() - t0) / 1e6;
		await j.close();
		assert.ok(appendMs < 2000, `200k appends took ${appendMs} ms`);
		const read = await readJournal(file);
		assert.equal(read.records.length, 200_000);
		truncateSync(file, statSync(file).size - 1);
		assert.equal((await readJournal(file)).records.length, 199_999);
	});
});
