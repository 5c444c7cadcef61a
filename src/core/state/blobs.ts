// Content-addressed before-images: <dir>/<sha256>, written and fsynced before any record that names them is durable.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { StateError } from '../errors';
import { fsyncDir, ioError, tempNameFor } from './atomicFs';
import { IN_MEMORY_LIMIT, sha256 } from './fsState';
import { isMissing, stateIo } from './io';

/**
 * One folder of blobs. put() makes the blob's bytes durable (temp file + fdatasync + rename); the folder's new
 * entries become durable with sync(), which the journal runs once per group commit (onBeforeCommit), so a run that
 * saves many before-images pays one folder fsync per commit, not one per blob.
 */
export class BlobStore {
	private readonly known = new Map<string, Promise<void>>();
	private dirReady: Promise<void> | undefined;
	private dirty = false;
	private syncing: Promise<void> | undefined;

	constructor(readonly dir: string) {}

	pathOf(hash: string): string {
		return path.join(this.dir, hash);
	}

	/** Store bytes under their sha256 (once per content) and return the hash. */
	async put(data: Uint8Array, hash = sha256(data)): Promise<string> {
		await this.once(hash, () => this.writeBlob(hash, data));
		return hash;
	}

	/**
	 * Store a file's current bytes and return their hash, plus the bytes when small enough to keep in memory
	 * (a failed write can then be undone without reading the blob back).
	 */
	async putFile(abs: string, size: number): Promise<{ hash: string; data?: Buffer }> {
		if (size <= IN_MEMORY_LIMIT) {
			const data = await readFile(abs);
			return { hash: await this.put(data), data };
		}
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
		await this.once(digest, async () => {
			await rename(temp, this.pathOf(digest));
			this.dirty = true;
		});
		await unlink(temp).catch(() => undefined); // still there when the content was already stored
		return { hash: digest };
	}

	/** The bytes of a blob, checked against their hash: a damaged blob is StateError 'corrupt', never restored. */
	async get(hash: string): Promise<Buffer> {
		const file = this.pathOf(hash);
		let data: Buffer;
		try {
			data = await readFile(file);
		} catch (err) {
			if (isMissing(err)) throw new StateError('not-found', `before-image ${file} is missing`);
			throw new StateError('io', `cannot read before-image ${file}: ${err instanceof Error ? err.message : String(err)}`);
		}
		if (sha256(data) !== hash) throw new StateError('corrupt', `before-image ${file} is corrupt (its content does not match its name)`);
		return data;
	}

	/** Make the folder's new entries durable (no-op when nothing was added since the last call). */
	async sync(): Promise<void> {
		while (this.syncing) await this.syncing.catch(() => undefined);
		if (!this.dirty) return;
		this.dirty = false;
		const run = fsyncDir(this.dir).catch((err: unknown) => {
			this.dirty = true;
			throw ioError('before-image folder', this.dir, err);
		});
		this.syncing = run.finally(() => {
			this.syncing = undefined;
		});
		await run;
	}

	private async once(hash: string, write: () => Promise<void>): Promise<void> {
		let p = this.known.get(hash);
		if (!p) {
			p = write();
			this.known.set(hash, p);
			p.catch(() => this.known.delete(hash));
		}
		await p;
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

	private async writeBlob(hash: string, data: Uint8Array): Promise<void> {
		const file = this.pathOf(hash);
		try {
			await this.ensureDir();
			await access(file);
			this.dirty = true; // stored by an earlier process; its folder entry may not be durable yet
			return;
		} catch (err) {
			if (!isMissing(err)) throw ioError('before-image', file, err);
		}
		const temp = tempNameFor(file);
		let created = false;
		try {
			const fh = await open(temp, 'wx', 0o600);
			created = true;
			try {
				await stateIo.writeAll(fh, data, 0, temp);
				await stateIo.datasync(fh, temp);
			} finally {
				await fh.close();
			}
			await rename(temp, file);
			created = false;
			this.dirty = true;
		} catch (err) {
			if (created) await unlink(temp).catch(() => undefined);
			throw ioError('before-image', file, err);
		}
	}
}
