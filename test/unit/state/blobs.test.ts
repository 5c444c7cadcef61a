import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { StateError } from '../../../src/core/errors';
import { BlobStore, listBlobs, readBlobSync } from '../../../src/core/state/blobs';
import { sha256 } from '../../../src/core/state/fsState';
import { stateIo } from '../../../src/core/state/io';
import { tempDir } from '../../helpers/tmp';
import { withFullDisk } from './helpers';

/** A blob folder inside a fresh run folder (packs live next to it). */
function blobDir(): string {
	return join(tempDir('qo-blobs-'), 'blobs');
}

function packsOf(dir: string): string[] {
	return readdirSync(dirname(dir))
		.filter((n) => n.endsWith('.pack'))
		.map((n) => join(dirname(dir), n));
}

async function store(dir: string, contents: string[]): Promise<string[]> {
	const s = new BlobStore(dir, { pack: true });
	const hashes = contents.map((c) => sha256(c));
	await Promise.all(contents.map((c, i) => s.write(hashes[i], Buffer.from(c))));
	s.close();
	return hashes;
}

describe('before-image packs', () => {
	it('small durable blobs share one pack file and group commits; any store reads them back', async () => {
		const dir = blobDir();
		const s = new BlobStore(dir, { pack: true });
		let packWrites = 0;
		const writeAll = stateIo.writeAll;
		stateIo.writeAll = async (fh, data, position, file) => {
			if (file.endsWith('.pack')) packWrites++;
			return writeAll(fh, data, position, file);
		};
		const contents = Array.from({ length: 50 }, (_, i) => `before-image ${i}\n`.repeat(i + 1));
		try {
			await Promise.all(contents.map((c) => s.write(sha256(c), Buffer.from(c))));
		} finally {
			stateIo.writeAll = writeAll;
		}
		assert.ok(packWrites < 50, `50 concurrent blobs took ${packWrites} pack writes`);
		assert.equal(packsOf(dir).length, 1);
		for (const c of contents) assert.equal((await s.get(sha256(c))).toString(), c, 'the writer reads its own pack');
		s.close();
		const reader = new BlobStore(dir);
		for (const c of contents) assert.equal((await reader.get(sha256(c))).toString(), c, 'a fresh store (another process) reads it');
		assert.equal(listBlobs(dir).length, 50);
		await assert.rejects(reader.get(sha256('never stored')), (err: unknown) => StateError.is(err, 'not-found'));
	});

	it('a torn or damaged tail (a crash mid-append) is ignored and never hides the entries before it', async () => {
		const dir = blobDir();
		const hashes = await store(dir, ['one', 'two', 'three']);
		const [pack] = packsOf(dir);
		appendFileSync(pack, `1000 ${sha256('four')}\nfo`); // an entry cut short
		assert.deepEqual(listBlobs(dir), [...hashes].sort());
		const reader = new BlobStore(dir);
		assert.equal((await reader.get(hashes[2])).toString(), 'three');
		await assert.rejects(reader.get(sha256('four')), (err: unknown) => StateError.is(err, 'not-found'));
		// A later process appends to a pack of its own; both are read.
		const [four] = await store(dir, ['four']);
		assert.equal(packsOf(dir).length, 2);
		assert.equal(readBlobSync(dir, four)?.toString(), 'four');
		assert.equal(readBlobSync(dir, hashes[0])?.toString(), 'one');
	});

	it('a damaged packed copy is reported corrupt, never returned; an intact copy elsewhere is used', async () => {
		const dir = blobDir();
		const [hash] = await store(dir, ['precious bytes']);
		const [pack] = packsOf(dir);
		const bytes = readFileSync(pack);
		bytes[bytes.indexOf('precious')] ^= 0x20;
		writeFileSync(pack, bytes);
		await assert.rejects(new BlobStore(dir).get(hash), (err: unknown) => StateError.is(err, 'corrupt'));
		assert.equal(readBlobSync(dir, hash), undefined);
		await store(dir, ['precious bytes']);
		assert.equal((await new BlobStore(dir).get(hash)).toString(), 'precious bytes');
	});

	it('a failed pack commit (full disk) leaves no partial entry, and the next commit works', async () => {
		const dir = blobDir();
		const s = new BlobStore(dir, { pack: true });
		await withFullDisk(async () => {
			await assert.rejects(s.write(sha256('lost'), Buffer.from('lost')), (err: unknown) => StateError.is(err, 'disk-full'));
		}, (file) => file.endsWith('.pack'));
		await s.write(sha256('kept'), Buffer.from('kept'));
		s.close();
		assert.deepEqual(listBlobs(dir), [sha256('kept')]);
		const [pack] = packsOf(dir);
		const entry = `4 ${sha256('kept')}\nkept\n`;
		const bytes = readFileSync(pack);
		assert.equal(bytes.subarray(0, entry.length).toString(), entry, 'the next commit is the first entry');
		assert.ok(bytes.subarray(entry.length).every((b) => b === 0), 'then zeros written ahead of later entries');
	});

	it('blobs over the pack limit, and stores without packing, keep a file each', async () => {
		const dir = blobDir();
		const big = Buffer.alloc(300 * 1024, 7);
		const s = new BlobStore(dir, { pack: true });
		await s.write(sha256(big), big);
		await s.sync();
		s.close();
		assert.deepEqual(readdirSync(dir), [sha256(big)]);
		const plain = new BlobStore(join(dirname(dir), 'plain'));
		const hash = await plain.put(Buffer.from('loose'));
		assert.deepEqual(readdirSync(join(dirname(dir), 'plain')), [hash]);
		assert.equal(packsOf(dir).length, 0);
	});
});
