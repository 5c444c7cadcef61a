import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StateError } from '../../../src/core/errors';
import { readJsonFile, readJsonFileIfExists, writeFileAtomic, writeJsonAtomic } from '../../../src/core/state/atomicFs';
import { tempDir } from '../../helpers/tmp';
import { withFullDisk } from './helpers';

describe('atomic state files', () => {
	it('replaces a file in one step and leaves no temp file behind', async () => {
		const dir = tempDir();
		const file = join(dir, 'summary.json');
		writeFileSync(file, 'old');
		await writeFileAtomic(file, 'new content', { mode: 0o600 });
		assert.equal(readFileSync(file, 'utf8'), 'new content');
		assert.equal(statSync(file).mode & 0o777, 0o600);
		assert.deepEqual(readdirSync(dir), ['summary.json']);
	});

	it('round-trips JSON', async () => {
		const dir = tempDir();
		await writeJsonAtomic(join(dir, 'a.json'), { a: [1, 'é'] });
		assert.deepEqual(await readJsonFile(join(dir, 'a.json'), 'test file'), { a: [1, 'é'] });
		assert.equal(await readJsonFileIfExists(join(dir, 'missing.json'), 'test file'), undefined);
	});

	it('bad JSON is a StateError corrupt naming the file, never a SyntaxError', async () => {
		const dir = tempDir();
		const file = join(dir, 'context.json');
		writeFileSync(file, '{"a": 1,');
		await assert.rejects(readJsonFile(file, 'global context'), (err: unknown) => {
			assert.ok(StateError.is(err, 'corrupt'));
			assert.match(err.message, /global context .*context\.json is corrupt/);
			return true;
		});
	});

	it('a missing file is StateError not-found', async () => {
		await assert.rejects(readJsonFile(join(tempDir(), 'nope.json'), 'run summary'), (err: unknown) => StateError.is(err, 'not-found'));
	});

	it('a full disk is StateError disk-full, keeps the old file and removes the temp file', async () => {
		const dir = tempDir();
		const file = join(dir, 'stats.json');
		writeFileSync(file, 'old');
		await withFullDisk(async () => {
			await assert.rejects(writeFileAtomic(file, 'new', { what: 'duration statistics' }), (err: unknown) => {
				assert.ok(StateError.is(err, 'disk-full'));
				assert.match(err.message, /no space left on device while writing duration statistics .*stats\.json/);
				return true;
			});
		});
		assert.equal(readFileSync(file, 'utf8'), 'old');
		assert.deepEqual(readdirSync(dir), ['stats.json']);
	});
});
