// Content-addressed before-images: <dir>/<sha256>, durable before the effect they allow to be undone.
import { createHash } from 'node:crypto';
import { createReadStream, renameSync } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { StateError } from '../errors';
import { fsyncDir, ioError, tempNameFor } from './atomicFs';
import { readFileFast, sha256 } from './fsState';
import { GroupSync } from './groupSync';
import { isMissing, stateIo, writeDurably } from './io';

/**
 * One folder of blobs. A blob's bytes are made durable by write() (temp file + fdatasync + rename, so a name always
 * holds complete content); the folder entries by sync(), shared by concurrent callers (one folder fsync serves many
 * blobs). Identical content is stored once per store. write(..., false) skips the fsyncs, for copies whose loss in
 * a power cut is acceptable (a step's own before-image: see transaction.ts); asking for the same blob durably
 * later makes it durable then.
 */
export class BlobStore {
	private readonly known = new Map<string, { done: Promise<void>; durable: boolean }>();
	private dirReady: Promise<void> | undefined;
	private readonly dirSync: GroupSync;

	constructor(readonly dir: string) {
		this.dirSync = new GroupSync(async () => {
			try {
				await fsyncDir(this.dir);
			} catch (err) {
				throw ioError('before-image folder', this.dir, err);
			}
		});
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
		let data: Buffer;
		try {
			data = await readFileFast(file);
		} catch (err) {
			if (isMissing(err)) throw new StateError('not-found', `before-image ${file} is missing`);
			throw new StateError('io', `cannot read before-image ${file}: ${err instanceof Error ? err.message : String(err)}`);
		}
		if (sha256(data) !== hash) throw new StateError('corrupt', `before-image ${file} is corrupt (its content does not match its name)`);
		return data;
	}

	/** Make the folder entries of every blob written so far durable (shared with concurrent callers). */
	sync(): Promise<void> {
		return this.dirSync.wait();
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
			await writeDurably(temp, data, { flags: 'wx', createMode: 0o600, sync: durable ? 'data' : 'none' });
			// Replacing a blob of the same name (stored by an earlier process) is harmless: same content.
			renameSync(temp, file);
			created = false;
			if (durable) this.dirSync.mark();
		} catch (err) {
			if (created) await unlink(temp).catch(() => undefined);
			throw ioError('before-image', file, err);
		}
	}
}
