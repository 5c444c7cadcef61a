// The run journal: append-only, one framed record per line, group-committed with one durable write per commit.
//
// On-disk format (text, so `less journal.log` shows what happened):
//   line 1:       `qo-journal 1`                                   (format marker and version)
//   each record:  `<len> <crc> <json>\n`
//     len  = byte length of <json> (UTF-8), decimal
//     crc  = CRC32 (zlib/IEEE) of those <json> bytes, 8 lowercase hex digits
//     json = one JournalRecord, JSON.stringify'd (never contains a raw newline)
// A record counts only when its line is complete and both len and crc match. An incomplete or bad line with no
// good record after it is a torn tail (a crash mid-append): it is cut on open and never parsed. A bad line with
// good records after it is corruption: it is reported with its byte offset and nothing is cut.
import { constants } from 'node:fs';
import { open, readFile, rename } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { StateError } from '../errors';
import { fsyncDir, ioError, writeFileAtomic } from './atomicFs';
import { isMissing, stateIo } from './io';
import type { JournalRecord } from './records';

/** First line of every journal; bump the number if the framing ever changes. */
export const JOURNAL_MAGIC = 'qo-journal 1\n';
const MAGIC = Buffer.from(JOURNAL_MAGIC);
const NL = 0x0a;
const SPACE = 0x20;

/** Frame one record as a journal line. Exported for tests and tools that write journals by hand. */
export function encodeRecord(rec: JournalRecord): string {
	const json = JSON.stringify(rec);
	// zlib.crc32 hashes a string's UTF-8 bytes, so the payload is encoded once, at flush.
	return `${Buffer.byteLength(json)} ${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

/** Frame one record as bytes: the payload is converted to UTF-8 once and checksummed as bytes (the hot path). */
export function encodeRecordBytes(rec: JournalRecord): Buffer {
	return encodePayload(Buffer.from(JSON.stringify(rec)));
}

/** Frame a record's payload (the UTF-8 bytes of its JSON) as a journal line. */
function encodePayload(payload: Uint8Array): Buffer {
	const header = Buffer.from(`${payload.length} ${crc32(payload).toString(16).padStart(8, '0')} `);
	const line = Buffer.allocUnsafe(header.length + payload.length + 1);
	header.copy(line, 0);
	line.set(payload, header.length);
	line[line.length - 1] = NL;
	return line;
}

/**
 * Successful ends of pure steps, batched into one 'step-ends' record written column-wise (see records.ts): a
 * 100,000-step run ends 100,000 of them, and columns of small integers are what JSON.stringify prints fastest (no
 * array per step, times as milliseconds after the batch's first, no JavaScript loop over the ends to print them:
 * such a loop runs cold, in the interpreter, for the first batches of a run).
 */
export class StepEndsBatch {
	private ids: string[] = [];
	private attempts: number[] = [];
	/** Milliseconds after `base`; absolute (base 0) once a time that is not a whole millisecond came. */
	private at: number[] = [];
	private base = 0;
	private durations: number[] = [];
	/** Created at the first output other than null, with a null for each end before it. */
	private outputs: unknown[] | undefined;

	/** Ends added since the last take(). */
	get count(): number {
		return this.ids.length;
	}

	add(id: string, attempt: number, at: number, durationMs: number, output: unknown): void {
		const k = this.ids.length;
		if (k === 0) this.base = Number.isSafeInteger(at) ? at : 0;
		else if (this.base !== 0 && !Number.isSafeInteger(at)) {
			// Keep every time exact: absolute times for this batch.
			for (let j = 0; j < k; j++) this.at[j] += this.base;
			this.base = 0;
		}
		this.ids.push(id);
		this.attempts.push(attempt);
		this.at.push(at - this.base);
		this.durations.push(durationMs);
		if (output !== null) {
			this.outputs ??= new Array<unknown>(k).fill(null);
			this.outputs.push(output);
		} else if (this.outputs) this.outputs.push(null);
	}

	/** The record's payload (the UTF-8 of its JSON), and a fresh start. */
	take(): Buffer {
		const rec: JournalRecord = { t: 'step-ends', base: this.base, ids: this.ids, attempts: this.attempts, at: this.at, durations: this.durations };
		if (this.outputs) rec.outputs = this.outputs;
		const payload = Buffer.from(JSON.stringify(rec));
		this.ids = [];
		this.attempts = [];
		this.at = [];
		this.durations = [];
		this.outputs = undefined;
		return payload;
	}
}

/** Validate the line [start, nl) and return its record (or true when !parse), or why it is bad. */
function decodeLine(buf: Buffer, start: number, nl: number, parse: boolean): JournalRecord | true | string {
	let i = start;
	let len = 0;
	while (i < nl && i - start < 10 && buf[i] >= 0x30 && buf[i] <= 0x39) len = len * 10 + (buf[i++] - 0x30);
	if (i === start || buf[i] !== SPACE) return 'bad length field';
	i++;
	let crc = 0;
	const crcStart = i;
	for (; i < nl && i - crcStart < 8; i++) {
		const c = buf[i];
		const v = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
		if (v < 0) return 'bad checksum field';
		crc = crc * 16 + v;
	}
	if (i - crcStart !== 8 || buf[i] !== SPACE) return 'bad checksum field';
	const payloadStart = i + 1;
	if (nl - payloadStart !== len) return `length mismatch (header says ${len} bytes, line holds ${nl - payloadStart})`;
	if (crc32(buf.subarray(payloadStart, nl)) !== crc) return 'checksum mismatch';
	if (!parse) return true;
	try {
		const rec = JSON.parse(buf.toString('utf8', payloadStart, nl)) as JournalRecord;
		if (typeof rec !== 'object' || rec === null || typeof rec.t !== 'string') return 'payload is not a journal record';
		return rec;
	} catch {
		return 'payload is not valid JSON';
	}
}

/** Offset of the first good line at or after `from`, or -1. */
function nextGoodLine(buf: Buffer, from: number): number {
	let s = from;
	while (s < buf.length) {
		const nl = buf.indexOf(NL, s);
		if (nl === -1) return -1;
		if (decodeLine(buf, s, nl, false) === true) return s;
		s = nl + 1;
	}
	return -1;
}

interface Scan {
	records: JournalRecord[];
	/** Good records before any damage (counted even when not parsed). */
	count: number;
	/** End of the last good record before any damage: where appends continue. */
	goodEnd: number;
	tornBytes: number;
	corruptAt?: number;
	corruptReason?: string;
	afterCorruption: JournalRecord[];
	/** The file is empty or holds a torn format line (a crash while creating it). */
	fresh: boolean;
}

function scan(file: string, buf: Buffer, parse: boolean): Scan {
	const result: Scan = { records: [], count: 0, goodEnd: 0, tornBytes: 0, afterCorruption: [], fresh: false };
	if (buf.length < MAGIC.length && MAGIC.subarray(0, buf.length).equals(buf)) {
		result.fresh = true;
		result.tornBytes = buf.length;
		return result;
	}
	if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) {
		throw new StateError('corrupt', `${file} is not a Quantum Orchestrator journal (its first line is not "qo-journal 1")`);
	}
	let out = result.records;
	let o = MAGIC.length;
	result.goodEnd = o;
	while (o < buf.length) {
		const nl = buf.indexOf(NL, o);
		const decoded = nl === -1 ? 'incomplete record' : decodeLine(buf, o, nl, parse);
		if (typeof decoded !== 'string') {
			if (decoded !== true) out.push(decoded);
			o = nl + 1;
			if (result.corruptAt === undefined) {
				result.goodEnd = o;
				result.count++;
			}
			continue;
		}
		const next = nl === -1 ? -1 : nextGoodLine(buf, nl + 1);
		if (next === -1) {
			if (result.corruptAt === undefined) result.tornBytes = buf.length - o;
			break;
		}
		if (result.corruptAt === undefined) {
			result.corruptAt = o;
			result.corruptReason = decoded;
			out = result.afterCorruption;
		}
		o = next;
	}
	return result;
}

function corruptError(file: string, s: Scan, count: number): StateError {
	return new StateError(
		'corrupt',
		`journal ${file} is corrupt at byte ${s.corruptAt} (${s.corruptReason}); ` +
			`the ${count} record(s) before it are intact and the file was left untouched`,
	);
}

export interface JournalContents {
	/** Every good record before any corruption, in order. */
	records: JournalRecord[];
	/** Bytes of a torn tail after the last good record (0 for a clean journal). */
	tornBytes: number;
	/** Byte offset of a damaged record followed by good ones. */
	corruptAt?: number;
	/** Set with corruptAt: the StateError 'corrupt' to show, naming the file and the offset. */
	error?: StateError;
	/** Good records found after the damage (salvage for a forced rollback); empty when not corrupt. */
	afterCorruption: JournalRecord[];
}

/**
 * Read a journal without changing it. Mid-file corruption does not throw: the records before it are returned with
 * `corruptAt` and `error`, so callers decide (rollback refuses unless forced). A missing file is StateError 'not-found'.
 */
export async function readJournal(file: string): Promise<JournalContents> {
	let buf: Buffer;
	try {
		buf = await readFile(file);
	} catch (err) {
		if (isMissing(err)) throw new StateError('not-found', `journal ${file} does not exist`);
		throw new StateError('io', `cannot read journal ${file}: ${err instanceof Error ? err.message : String(err)}`);
	}
	const s = scan(file, buf, true);
	const contents: JournalContents = { records: s.records, tornBytes: s.tornBytes, afterCorruption: s.afterCorruption };
	if (s.corruptAt !== undefined) {
		contents.corruptAt = s.corruptAt;
		contents.error = corruptError(file, s, s.count);
	}
	return contents;
}

/** Counters for tests and the benchmark: how much durability cost was paid. */
export interface JournalStats {
	appends: number;
	/** Group commits that wrote something. */
	commits: number;
	fsyncs: number;
	bytes: number;
}

/**
 * An open journal. append() only buffers (O(1)); flush() makes everything appended so far durable with one write
 * (O_DSYNC where available, else write + fdatasync), and callers that arrive while a commit is in flight share the
 * next one (group commit).
 */
export class Journal {
	readonly stats: JournalStats = { appends: 0, commits: 0, fsyncs: 0, bytes: 0 };
	private pending: Buffer[] = [];
	/** Records appended / made durable so far (sequence numbers, for flush targets). */
	private appended = 0;
	private durable = 0;
	private inflight: Promise<void> | undefined;
	private inflightTarget = 0;
	private queued: Promise<void> | undefined;
	private failure: StateError | undefined;
	private closed = false;
	/** Journal.create: what must be durable before anything is written (see there); cleared once it is. */
	private ready: Promise<void> | undefined;

	private constructor(
		readonly file: string,
		private readonly fh: FileHandle,
		/** Bytes of good journal on disk; the next commit writes here. */
		private size: number,
		/** Bytes of torn tail cut when the journal was opened (0 normally). */
		readonly tornBytesCut: number,
		/** Opened with O_DSYNC: a commit's write is durable when it returns, no separate fdatasync round trip. */
		private readonly dsync: boolean,
	) {}

	/**
	 * Open a journal for appending, creating it (and making its directory entry durable) if needed. A torn tail is
	 * cut; mid-file corruption is a StateError 'corrupt' and the file is left as it is.
	 */
	static async open(file: string): Promise<Journal> {
		let fh: FileHandle;
		let created = false;
		const dsync = constants.O_DSYNC ?? 0;
		try {
			fh = await open(file, constants.O_RDWR | dsync);
		} catch (err) {
			if (!isMissing(err)) throw ioError('journal', file, err);
			try {
				fh = await open(file, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | dsync, 0o644);
			} catch (err2) {
				throw ioError('journal', file, err2);
			}
			created = true;
		}
		try {
			const buf = created ? Buffer.alloc(0) : await fh.readFile();
			const s = scan(file, buf, false);
			if (s.corruptAt !== undefined) throw corruptError(file, s, s.count);
			let size = s.goodEnd;
			if (s.fresh) {
				await fh.truncate(0);
				await stateIo.writeAll(fh, MAGIC, 0, file);
				// With O_DSYNC the write itself was durable (data and size).
				if (dsync === 0) await stateIo.datasync(fh, file);
				size = MAGIC.length;
				if (created) await fsyncDir(path.dirname(file));
			} else if (s.tornBytes > 0) {
				await fh.truncate(size);
				await stateIo.datasync(fh, file);
			}
			return new Journal(file, fh, size, s.fresh ? 0 : s.tornBytes, dsync !== 0);
		} catch (err) {
			await fh.close().catch(() => undefined);
			throw err instanceof StateError ? err : ioError('journal', file, err);
		}
	}

	/**
	 * Create a new journal (an existing file is an error) without writing to it yet: the format line goes out with the
	 * first records, in the same durable write. `ready` is called once the file exists, and nothing is written before
	 * it resolves: the caller makes durable there what must precede the first record (the folder entries that make
	 * the file reachable, files it names); if it rejects, every flush fails with that error. Until the first commit
	 * the file is empty, which readers take for a journal whose process crashed before its first record, as they do
	 * a lone format line.
	 */
	static async create(file: string, ready?: () => Promise<void>): Promise<Journal> {
		const dsync = constants.O_DSYNC ?? 0;
		let fh: FileHandle;
		try {
			fh = await open(file, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | dsync, 0o644);
		} catch (err) {
			throw ioError('journal', file, err);
		}
		const journal = new Journal(file, fh, 0, 0, dsync !== 0);
		journal.pending.push(MAGIC);
		if (ready) {
			const gate = ready();
			gate.catch(() => undefined); // reported by the first flush
			journal.ready = gate;
		}
		return journal;
	}

	/** Buffer a record; it becomes durable with the next flush() (by this caller or any other). */
	append(rec: JournalRecord): void {
		if (this.closed) throw new StateError('io', `journal ${this.file} is closed; cannot append a "${rec.t}" record`);
		this.pending.push(encodeRecordBytes(rec));
		this.appended++;
		this.stats.appends++;
	}

	/**
	 * Buffer a record already serialized: `payload` must be exactly the UTF-8 bytes of JSON.stringify of a record of
	 * type `t` (see StepEndsBatch); it becomes durable with the next flush().
	 */
	appendPayload(t: JournalRecord['t'], payload: Uint8Array): void {
		if (this.closed) throw new StateError('io', `journal ${this.file} is closed; cannot append a "${t}" record`);
		this.pending.push(encodePayload(payload));
		this.appended++;
		this.stats.appends++;
	}

	/** Resolves once every record appended before this call is on disk. Concurrent callers share commits. */
	flush(): Promise<void> {
		if (this.failure) return Promise.reject(this.failure);
		const target = this.appended;
		if (this.durable >= target) return Promise.resolve();
		if (this.inflight) {
			if (this.inflightTarget >= target) return this.inflight;
			if (!this.queued) {
				const next = () => {
					this.queued = undefined;
					return this.startCommit();
				};
				this.queued = this.inflight.then(next, next);
			}
			return this.queued;
		}
		return this.startCommit();
	}

	/** Flush what is pending and close the file. */
	async close(): Promise<void> {
		if (this.closed) return;
		try {
			await this.flush();
		} finally {
			this.closed = true;
			await this.fh.close();
		}
	}

	private startCommit(): Promise<void> {
		if (this.failure) return Promise.reject(this.failure);
		if (this.durable >= this.appended) return Promise.resolve();
		this.inflightTarget = this.appended;
		const ready = this.ready;
		let run: Promise<void>;
		if (ready) run = this.afterReady(ready);
		else {
			const batch = this.pending;
			this.pending = [];
			run = this.commit(batch, this.appended);
		}
		const commit = run.finally(() => {
			if (this.inflight === commit) this.inflight = undefined;
		});
		this.inflight = commit;
		return commit;
	}

	/** The first commit of a created journal: it takes what was appended by the time it may write (one write, not several). */
	private async afterReady(ready: Promise<void>): Promise<void> {
		try {
			await ready;
		} catch (err) {
			this.failure ??= ioError('journal', this.file, err);
			throw this.failure;
		}
		this.ready = undefined;
		const batch = this.pending;
		this.pending = [];
		const target = this.appended;
		this.inflightTarget = target;
		return this.commit(batch, target);
	}

	private async commit(batch: Buffer[], target: number): Promise<void> {
		const data = batch.length === 1 ? batch[0] : Buffer.concat(batch);
		try {
			await stateIo.writeAll(this.fh, data, this.size, this.file);
			if (!this.dsync) await stateIo.datasync(this.fh, this.file);
		} catch (err) {
			// Keep the records for the next commit and cut any partial write, so the file never holds a torn middle.
			this.pending = batch.concat(this.pending);
			try {
				await this.fh.truncate(this.size);
			} catch (cutErr) {
				this.failure = ioError('journal', this.file, cutErr);
			}
			throw ioError('journal', this.file, err);
		}
		this.size += data.length;
		this.durable = Math.max(this.durable, target);
		this.stats.commits++;
		this.stats.fsyncs++;
		this.stats.bytes += data.length;
	}
}

/**
 * Replace a damaged journal by a clean one holding `records` (the readable ones), keeping the damaged file next to
 * it as `<file>.corrupt-<time>` so nothing is lost. Used by a forced rollback of a corrupt journal.
 */
export async function salvageJournal(file: string, records: readonly JournalRecord[]): Promise<string> {
	const kept = `${file}.corrupt-${Date.now()}`;
	try {
		await rename(file, kept);
		await writeFileAtomic(file, JOURNAL_MAGIC + records.map(encodeRecord).join(''), { what: 'journal' });
	} catch (err) {
		throw ioError('journal', file, err);
	}
	return kept;
}
