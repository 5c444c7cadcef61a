import assert from 'node:assert/strict';
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StateError } from '../../../src/core/errors';
import { stateIo } from '../../../src/core/state/io';
import { JOURNAL_MAGIC, Journal, StepEndsBatch, encodeRecord, readJournal } from '../../../src/core/state/journal';
import { forEachStepEnd, type JournalRecord } from '../../../src/core/state/records';
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

	/** What reading a batch back gives, through forEachStepEnd. */
	function readBack(rec: JournalRecord): unknown[][] {
		const out: unknown[][] = [];
		if (rec.t === 'step-ends') forEachStepEnd(rec, (...item) => out.push(item));
		return out;
	}

	it('a StepEndsBatch record reads back as the same ends, exactly as JSON keeps them, column-wise and compact', async () => {
		const items: [string, number, number, number, unknown][] = [
			['a', 1, 1_700_000_000_000, 0, null],
			['b.2', 1, 1_700_000_000_000, 0, null],
			['c-3_x', 2, 1_700_000_000_001, 12.5, null],
			['ünï "quoted"\\', 1, 1_700_000_000_001, 0, null],
			['d', 1, 1_699_999_999_000, -0, { nested: ['x', 1, null], s: 'line\nbreak' }],
			['e', 3, 1_700_000_000_005, 1e21, 'text'],
		];
		const batch = new StepEndsBatch();
		for (const it of items) batch.add(...it);
		assert.equal(batch.count, items.length);
		const payload = batch.take();
		assert.equal(batch.count, 0);
		const rec = JSON.parse(payload.toString('utf8')) as JournalRecord;
		assert.deepEqual(rec, {
			t: 'step-ends',
			base: 1_700_000_000_000,
			ids: items.map((it) => it[0]),
			attempts: [1, 1, 2, 1, 1, 3],
			at: [0, 0, 1, 1, -1000, 5],
			durations: [0, 0, 12.5, 0, 0, 1e21],
			outputs: [null, null, null, null, items[4][4], 'text'],
		});
		assert.deepEqual(readBack(rec), JSON.parse(JSON.stringify(items)));
		const file = join(tempDir(), 'journal.log');
		const j = await Journal.open(file);
		j.appendPayload('step-ends', payload);
		j.appendPayload('step-ends', batch.take());
		await j.close();
		const read = (await readJournal(file)).records;
		assert.deepEqual(read.map(readBack), [JSON.parse(JSON.stringify(items)), []]);
		assert.equal((read[1] as { outputs?: unknown }).outputs, undefined, 'no outputs column when every output is null');
	});

	it('a StepEndsBatch keeps times that are not whole milliseconds exact, and reads NaN back as JSON does (null)', () => {
		const batch = new StepEndsBatch();
		const items: [string, number, number, number, unknown][] = [
			['a', 1, 1_700_000_000_000, 0, null],
			['b', 1, 1_700_000_000_000.25, 0.5, null],
			['c', 1, Number.NaN, Number.POSITIVE_INFINITY, null],
			['d', 1, 1.1, 0, null],
		];
		for (const it of items) batch.add(...it);
		assert.deepEqual(readBack(JSON.parse(batch.take().toString('utf8'))), JSON.parse(JSON.stringify(items)));
		for (const it of [['x', 1, -0, 0, null], ['y', 1, 3, 0, null]] as [string, number, number, number, unknown][]) batch.add(...it);
		assert.deepEqual(readBack(JSON.parse(batch.take().toString('utf8'))), [['x', 1, 0, 0, null], ['y', 1, 3, 0, null]]);
	});

	it('the row-wise step-ends records of earlier versions still read', () => {
		const items: [string, number, number, number, unknown][] = [['a', 1, 5, 0, null], ['b', 2, 6, 1, { o: 1 }]];
		assert.deepEqual(readBack({ t: 'step-ends', items }), items);
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
