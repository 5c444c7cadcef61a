// Content-addressed before-images: <dir>/<sha256>, or entries of pack files next to <dir>; durable before the effect
// they allow to be undone.
//
// Pack files (`<dir>.<writer>.pack`, one per writing process, append-only) hold the small durable blobs of a run:
//   each entry:  `<len> <sha256>\n<len bytes>\n`, entries one after the other, then zeros up to the end of the file
// A pack is written by group commits, like the journal: the entries of concurrent callers go out in one write
// (O_DSYNC, else write + fdatasync) over zeros written ahead of them (so a commit is a plain data write), and the
// folder holding a new pack is fsynced before its first commit resolves.
// write() resolves only once the entry is durable, so a record naming it can be journaled (write-ahead rule). An
// entry is found by scanning its pack from the start; a torn or damaged entry ends the scan. No committed entry can
// lie past one: everything written before a commit starts is durable once it returns, so the durable entries of a
// pack are always a prefix of it, and only entries no durable record names can be torn.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, createReadStream, fstatSync, openSync, readdirSync, readSync, renameSync } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { StateError } from '../errors';
import { fsyncDir, ioError, tempNameFor } from './atomicFs';
import { readFileFast, sha256, writeFileDurably } from './fsState';
import { GroupSync } from './groupSync';
import { errnoCode, isMissing, stateIo } from './io';

/** Blobs up to this size go to the pack (when the store packs); larger ones get a file each. */
export const PACK_LIMIT = 256 * 1024;

/** A pack grows by zero-filled chunks: the first of PACK_CHUNK_MIN, then doubling up to PACK_CHUNK_MAX. */
const PACK_CHUNK_MIN = 64 * 1024;
const PACK_CHUNK_MAX = 4 * 1024 * 1024;

/** Packs up to this size (all of a store's together) are read into memory once when first needed. */
const PACK_CACHE_LIMIT = 64 * 1024 * 1024;

const NL = 0x0a;
const SPACE = 0x20;
/** Longest entry header: up to 10 digits, a space, 64 hex digits, a newline. */
const MAX_HEADER = 76;

interface PackEntry {
	file: string;
	offset: number;
	length: number;
}

interface PackFile {
	file: string;
	/** The whole file when small enough to keep (see PACK_CACHE_LIMIT). */
	data?: Buffer;
}

interface OpenPack {
	file: string;
	fh: FileHandle;
	/** Bytes committed: the next commit writes here. */
	size: number;
	/** Bytes the file holds (entries, then zeros written ahead of them). */
	allocated: number;
	/** Opened with O_DSYNC: a commit's write is durable when it returns. */
	dsync: boolean;
	/** The folder entry of the new pack file is durable. */
	dirSynced: boolean;
}

function packEntryHeader(hash: string, length: number): Buffer {
	return Buffer.from(`${length} ${hash}\n`);
}

/** Parse the header at the start of `buf`: [length, hash, header bytes], or undefined when it is not one. */
function parseHeader(buf: Buffer): [number, string, number] | undefined {
	let i = 0;
	let length = 0;
	while (i < buf.length && i < 10 && buf[i] >= 0x30 && buf[i] <= 0x39) length = length * 10 + (buf[i++] - 0x30);
	if (i === 0 || buf[i] !== SPACE) return undefined;
	const hash = buf.toString('latin1', i + 1, i + 65);
	if (!/^[0-9a-f]{64}$/.test(hash) || buf[i + 65] !== NL) return undefined;
	return [length, hash, i + 66];
}

/** Names of the pack files of the blob folder `dir`. */
function packFilesOf(dir: string): string[] {
	const parent = path.dirname(dir);
	const prefix = `${path.basename(dir)}.`;
	let names: string[];
	try {
		names = readdirSync(parent);
	} catch (err) {
		if (isMissing(err)) return [];
		throw err;
	}
	return names
		.filter((n) => n.startsWith(prefix) && n.endsWith('.pack'))
		.sort()
		.map((n) => path.join(parent, n));
}

/** Read `length` bytes at `offset` of an open file (fewer when it ends first). */
function readAt(fd: number, offset: number, length: number): Buffer {
	const buf = Buffer.allocUnsafe(length);
	let done = 0;
	while (done < length) {
		const n = readSync(fd, buf, done, length - done, offset + done);
		if (n === 0) break;
		done += n;
	}
	return done < length ? buf.subarray(0, done) : buf;
}

function readEntry(e: PackEntry): Buffer {
	const fd = openSync(e.file, 'r');
	try {
		return readAt(fd, e.offset, e.length);
	} finally {
		closeSync(fd);
	}
}

/** Index a pack's complete entries, in order, up to the first torn or damaged one. */
function scanPack(file: string, read: (offset: number, length: number) => Buffer, size: number, into: (hash: string, e: PackEntry) => void): void {
	let offset = 0;
	while (offset < size) {
		const header = parseHeader(read(offset, Math.min(MAX_HEADER, size - offset)));
		if (!header) return;
		const [length, hash, headerBytes] = header;
		const start = offset + headerBytes;
		if (length > PACK_LIMIT || start + length + 1 > size || read(start + length, 1)[0] !== NL) return;
		into(hash, { file, offset: start, length });
		offset = start + length + 1;
	}
}

/** Every stored copy in the blob folder `dir` and its packs, by hash (for tests and tools: one entry per copy). */
export function listBlobs(dir: string): string[] {
	const out: string[] = [];
	try {
		for (const name of readdirSync(dir)) if (/^[0-9a-f]{64}$/.test(name)) out.push(name);
	} catch (err) {
		if (!isMissing(err)) throw err;
	}
	for (const file of packFilesOf(dir)) {
		const fd = openSync(file, 'r');
		try {
			scanPack(file, (o, l) => readAt(fd, o, l), fstatSync(fd).size, (hash) => out.push(hash));
		} finally {
			closeSync(fd);
		}
	}
	return out.sort();
}

/** The bytes of blob `hash` in the blob folder `dir` or its packs, read synchronously and checked; undefined when absent. */
export function readBlobSync(dir: string, hash: string): Buffer | undefined {
	return new BlobStore(dir).findSync(hash);
}

/**
 * One folder of blobs. A blob's bytes are made durable by write() (temp file + fdatasync + rename, so a name always
 * holds complete content); the folder entries by sync(), shared by concurrent callers (one folder fsync serves many
 * blobs). Identical content is stored once per store. write(..., false) skips the fsyncs, for copies whose loss in
 * a power cut is acceptable (a step's own before-image: see transaction.ts); asking for the same blob durably
 * later makes it durable then. With `pack`, small durable blobs go to the store's pack file instead (see the top):
 * write() resolves once the entry is durable, with no per-blob file, fdatasync or folder fsync.
 */
export class BlobStore {
	private readonly known = new Map<string, { done: Promise<void>; durable: boolean }>();
	private dirReady: Promise<void> | undefined;
	private readonly dirSync: GroupSync;
	private readonly packing: boolean;
	/** This store's own pack while open; the entries committed to it, by hash (they stay readable after close()). */
	private pack: OpenPack | undefined;
	private packOpening: Promise<OpenPack> | undefined;
	private ownPackFile: string | undefined;
	private readonly packed = new Map<string, PackEntry>();
	/** Entries waiting for the next pack commit. */
	private pending: { hash: string; data: Uint8Array }[] = [];
	private readonly packSync: GroupSync;
	/** Entries of the packs already on disk (earlier processes of the run), loaded when first needed. */
	private foreign: { files: Map<string, PackFile>; entries: Map<string, PackEntry[]> } | undefined;

	constructor(
		readonly dir: string,
		opts: { pack?: boolean } = {},
	) {
		this.packing = opts.pack ?? false;
		this.dirSync = new GroupSync(async () => {
			try {
				await fsyncDir(this.dir);
			} catch (err) {
				throw ioError('before-image folder', this.dir, err);
			}
		});
		this.packSync = new GroupSync(() => this.commitPack());
	}

	pathOf(hash: string): string {
		return path.join(this.dir, hash);
	}

	/** Store bytes whose sha256 is `hash`; resolves when they are complete under their name (durably: then sync()). */
	write(hash: string, data: Uint8Array, durable = true): Promise<void> {
		const entry = this.known.get(hash);
		if (entry && (entry.durable || !durable)) return entry.done;
		const done = entry
			? entry.done.then(() => this.syncExisting(hash))
			: this.packing && durable && data.length <= PACK_LIMIT
				? this.appendToPack(hash, data)
				: this.writeBlob(hash, data, durable);
		this.known.set(hash, { done, durable });
		done.catch(() => {
			if (this.known.get(hash)?.done === done) this.known.delete(hash);
		});
		return done;
	}

	/** write() and sync(): the blob and its folder entry are durable. Returns the hash. */
	async put(data: Uint8Array): Promise<string> {
		const hash = sha256(data);
		await this.write(hash, data);
		await this.sync();
		return hash;
	}

	/** Store a large file's bytes by streaming (never whole in memory); returns their hash once durable (then sync()). */
	async putLargeFile(abs: string): Promise<string> {
		await this.ensureDir();
		const temp = tempNameFor(path.join(this.dir, 'stream'));
		const hash = createHash('sha256');
		try {
			const fh = await open(temp, 'wx', 0o600);
			try {
				let pos = 0;
				for await (const chunk of createReadStream(abs)) {
					hash.update(chunk as Buffer);
					await stateIo.writeAll(fh, chunk as Buffer, pos, temp);
					pos += (chunk as Buffer).length;
				}
				await stateIo.datasync(fh, temp);
			} finally {
				await fh.close();
			}
		} catch (err) {
			await unlink(temp).catch(() => undefined);
			throw ioError('before-image of', abs, err);
		}
		const digest = hash.digest('hex');
		const placed = rename(temp, this.pathOf(digest)).then(() => this.dirSync.mark());
		this.known.set(digest, { done: placed, durable: true });
		await placed;
		return digest;
	}

	/** The bytes of a blob, checked against their hash: a damaged blob is StateError 'corrupt', never restored. */
	async get(hash: string): Promise<Buffer> {
		const file = this.pathOf(hash);
		await this.known.get(hash)?.done.catch(() => undefined);
		let damaged = false;
		let data: Buffer;
		try {
			// A pack may hold several copies (written again by a later process): any intact one will do.
			for (const copy of this.packedCopies(hash)) {
				if (sha256(copy) === hash) return copy;
				damaged = true;
			}
			data = await readFileFast(file);
		} catch (err) {
			if (isMissing(err) && !damaged) throw new StateError('not-found', `before-image ${file} is missing`);
			if (!isMissing(err)) throw new StateError('io', `cannot read before-image ${file}: ${err instanceof Error ? err.message : String(err)}`);
			data = Buffer.alloc(0);
		}
		if (sha256(data) !== hash) throw new StateError('corrupt', `before-image ${file} is corrupt (its content does not match its name)`);
		return data;
	}

	/** get(), synchronously; undefined when no intact copy is stored. */
	findSync(hash: string): Buffer | undefined {
		for (const copy of this.packedCopies(hash)) if (sha256(copy) === hash) return copy;
		let fd: number;
		try {
			fd = openSync(this.pathOf(hash), 'r');
		} catch (err) {
			if (isMissing(err)) return undefined;
			throw err;
		}
		try {
			const data = readAt(fd, 0, fstatSync(fd).size);
			return sha256(data) === hash ? data : undefined;
		} finally {
			closeSync(fd);
		}
	}

	/** Make the folder entries of every blob written so far durable (shared with concurrent callers). */
	sync(): Promise<void> {
		return this.dirSync.wait();
	}

	/** Close the pack file (the store's durable state is on disk already); later writes open a new one. */
	close(): void {
		const pack = this.pack;
		this.pack = undefined;
		this.packOpening = undefined;
		if (pack) void pack.fh.close().catch(() => undefined);
	}

	private ensureDir(): Promise<void> {
		if (!this.dirReady) {
			this.dirReady = (async () => {
				const made = await mkdir(this.dir, { recursive: true });
				if (made !== undefined) await fsyncDir(path.dirname(this.dir));
			})();
			this.dirReady.catch(() => {
				this.dirReady = undefined;
			});
		}
		return this.dirReady;
	}

	/** fdatasync a blob first stored without it. */
	private async syncExisting(hash: string): Promise<void> {
		const file = this.pathOf(hash);
		try {
			const fh = await open(file, 'r');
			try {
				await stateIo.datasync(fh, file);
			} finally {
				await fh.close();
			}
			this.dirSync.mark();
		} catch (err) {
			throw ioError('before-image', file, err);
		}
	}

	private async writeBlob(hash: string, data: Uint8Array, durable: boolean): Promise<void> {
		const file = this.pathOf(hash);
		const temp = tempNameFor(file);
		let created = false;
		try {
			await this.ensureDir();
			created = true; // from here on a temp file may exist
			await writeFileDurably(temp, data, { flags: 'wx', createMode: 0o600, sync: durable ? 'data' : 'none' });
			// Replacing a blob of the same name (stored by an earlier process) is harmless: same content.
			renameSync(temp, file);
			created = false;
			if (durable) this.dirSync.mark();
		} catch (err) {
			if (created) await unlink(temp).catch(() => undefined);
			throw ioError('before-image', file, err);
		}
	}

	/** Queue an entry for the next pack commit; resolves once it is durable. */
	private appendToPack(hash: string, data: Uint8Array): Promise<void> {
		this.pending.push({ hash, data });
		this.packSync.mark();
		return this.packSync.wait();
	}

	/** One group commit: everything pending goes out in one write, durable before it resolves. */
	private async commitPack(): Promise<void> {
		const batch = this.pending;
		this.pending = [];
		if (batch.length === 0) return;
		let pack: OpenPack | undefined;
		const parts: Uint8Array[] = [];
		const placed: [string, number, number][] = [];
		let bytes = 0;
		for (const { hash, data } of batch) {
			const header = packEntryHeader(hash, data.length);
			placed.push([hash, bytes + header.length, data.length]);
			parts.push(header, data, Buffer.of(NL));
			bytes += header.length + data.length + 1;
		}
		const buf = Buffer.concat(parts, bytes);
		try {
			pack = await this.openPack();
			if (pack.size + bytes > pack.allocated) await this.growPack(pack, pack.size + bytes);
			// A failed write may leave part of the batch here: never named by a record, and the next commit writes over it.
			await stateIo.writeAll(pack.fh, buf, pack.size, pack.file);
			if (!pack.dsync) await stateIo.datasync(pack.fh, pack.file);
			if (!pack.dirSynced) {
				await fsyncDir(path.dirname(pack.file));
				pack.dirSynced = true;
			}
		} catch (err) {
			throw ioError('before-image pack', pack?.file ?? this.dir, err);
		}
		for (const [hash, offset, length] of placed) this.packed.set(hash, { file: pack.file, offset: pack.size + offset, length });
		pack.size += bytes;
	}

	/**
	 * Extend the pack with zeros (durably) to hold `need` bytes. Entries are then written over blocks the file already
	 * has: a commit changes no size or allocation, so its sync is a data write, not a file system journal commit.
	 */
	private async growPack(pack: OpenPack, need: number): Promise<void> {
		const chunk = Math.min(Math.max(pack.allocated, PACK_CHUNK_MIN), PACK_CHUNK_MAX);
		let allocated = pack.allocated + chunk;
		while (allocated < need) allocated += chunk;
		await stateIo.writeAll(pack.fh, Buffer.alloc(allocated - pack.allocated), pack.allocated, pack.file);
		if (!pack.dsync) await stateIo.datasync(pack.fh, pack.file);
		pack.allocated = allocated;
	}

	private openPack(): Promise<OpenPack> {
		if (this.pack) return Promise.resolve(this.pack);
		if (!this.packOpening) {
			const file = `${this.dir}.${process.pid}-${randomBytes(4).toString('hex')}.pack`;
			// Foreign packs are indexed before this one exists, so the index never holds this store's own entries.
			this.loadForeign();
			const dsync = constants.O_DSYNC ?? 0;
			const opening = open(file, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | dsync, 0o600).then((fh) => {
				const pack: OpenPack = { file, fh, size: 0, allocated: 0, dsync: dsync !== 0, dirSynced: false };
				if (this.packOpening === opening) this.pack = pack;
				else void fh.close();
				this.ownPackFile ??= file;
				return pack;
			});
			opening.catch(() => {
				if (this.packOpening === opening) this.packOpening = undefined;
			});
			this.packOpening = opening;
		}
		return this.packOpening;
	}

	/** Every packed copy of a blob, unchecked, read lazily: this store's own pack first, then the packs on disk. */
	private *packedCopies(hash: string): Generator<Buffer> {
		const own = this.packed.get(hash);
		if (own) yield this.pack?.file === own.file ? readAt(this.pack.fh.fd, own.offset, own.length) : readEntry(own);
		const foreign = this.loadForeign();
		for (const e of foreign.entries.get(hash) ?? []) {
			const data = foreign.files.get(e.file)?.data;
			yield data ? data.subarray(e.offset, e.offset + e.length) : readEntry(e);
		}
	}

	/** Index the packs on disk that are not this store's own (read once; they do not grow while this store lives). */
	private loadForeign(): { files: Map<string, PackFile>; entries: Map<string, PackEntry[]> } {
		if (this.foreign) return this.foreign;
		const files = new Map<string, PackFile>();
		const entries = new Map<string, PackEntry[]>();
		let cached = 0;
		for (const file of packFilesOf(this.dir)) {
			if (file === this.ownPackFile) continue;
			let fd: number;
			try {
				fd = openSync(file, 'r');
			} catch (err) {
				if (errnoCode(err) === 'ENOENT') continue;
				throw err;
			}
			try {
				const size = fstatSync(fd).size;
				const entry: PackFile = { file };
				if (cached + size <= PACK_CACHE_LIMIT) {
					entry.data = readAt(fd, 0, size);
					cached += size;
				}
				const data = entry.data;
				const read = data ? (o: number, l: number) => data.subarray(o, o + l) : (o: number, l: number) => readAt(fd, o, l);
				scanPack(file, read, data?.length ?? size, (hash, e) => {
					const list = entries.get(hash);
					if (list) list.push(e);
					else entries.set(hash, [e]);
				});
				files.set(file, entry);
			} finally {
				closeSync(fd);
			}
		}
		this.foreign = { files, entries };
		return this.foreign;
	}
}
