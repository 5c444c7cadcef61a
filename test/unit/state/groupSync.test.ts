import assert from 'node:assert/strict';
import { GroupSync } from '../../../src/core/state/groupSync';

describe('group sync', () => {
	it('concurrent waiters share syncs, and each resolves only after a sync that started after its mark', async () => {
		let syncs = 0;
		let running = 0;
		const log: number[] = [];
		const group = new GroupSync(async () => {
			running++;
			assert.equal(running, 1, 'one sync at a time');
			syncs++;
			await new Promise((r) => setTimeout(r, 5));
			log.push(syncs);
			running--;
		});
		const waits: Promise<void>[] = [];
		for (let i = 0; i < 50; i++) {
			group.mark();
			const startedBefore = syncs;
			waits.push(group.wait().then(() => assert.ok(log.length > 0 && syncs > startedBefore, 'covered by a later sync')));
			if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
		}
		await Promise.all(waits);
		assert.ok(syncs <= 12, `${syncs} syncs for 50 marks`);
		const before = syncs;
		await group.wait();
		assert.equal(syncs, before, 'nothing new marked: no sync');
	});

	it('a failed sync rejects its waiters and the next wait tries again', async () => {
		let fail = true;
		const group = new GroupSync(async () => {
			if (fail) throw new Error('EIO');
		});
		group.mark();
		await assert.rejects(group.wait(), /EIO/);
		fail = false;
		await group.wait();
	});
});
