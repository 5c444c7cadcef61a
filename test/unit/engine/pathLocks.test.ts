import assert from 'node:assert/strict';
import { normalizeClaimPath, PathLocks } from '../../../src/core/engine/pathLocks';

describe('path locks', () => {
	it('lets steps that write different paths hold their locks together', async () => {
		const locks = new PathLocks();
		const a = await locks.acquire({ reads: [], writes: ['a.txt'] });
		const b = await locks.acquire({ reads: ['c.txt'], writes: ['b.txt'] });
		a();
		b();
	});

	it('makes a second writer of the same path wait until the first releases', async () => {
		const locks = new PathLocks();
		const first = await locks.acquire({ reads: [], writes: ['./src/a.txt'] });
		let granted = false;
		const second = locks.acquire({ reads: [], writes: ['src/a.txt'] }).then((r) => {
			granted = true;
			return r;
		});
		await new Promise((r) => setTimeout(r, 5));
		assert.equal(granted, false);
		assert.equal(locks.waiters, 1);
		first();
		(await second)();
		assert.equal(granted, true);
	});

	it('treats a folder and a path inside it as overlapping, and a reader as conflicting with a writer', async () => {
		const locks = new PathLocks();
		const dir = await locks.acquire({ reads: [], writes: ['out'] });
		let inside = false;
		let reader = false;
		const p1 = locks.acquire({ reads: [], writes: ['out/x.txt'] }).then((r) => ((inside = true), r));
		const p2 = locks.acquire({ reads: ['out/y.txt'], writes: [] }).then((r) => ((reader = true), r));
		await new Promise((r) => setTimeout(r, 5));
		assert.deepEqual([inside, reader], [false, false]);
		dir();
		(await p1)();
		(await p2)();
	});

	it('normalizes ./, trailing slashes and inner ..', () => {
		assert.equal(normalizeClaimPath('./a/b/../c/'), 'a/c');
		assert.equal(normalizeClaimPath('.'), '');
	});
});
