import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LearningStore, RECENT_WEIGHT, SUGGEST_AFTER } from '../../../src/core/agents/learning';
import { tempDir } from '../../helpers/tmp';

function fakeClock(start = 1_000_000) {
	let t = start;
	return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('learning store', () => {
	it('records per agent and step type, and round-trips through learning.json', async () => {
		const dir = tempDir();
		const store = LearningStore.empty(dir);
		store.record('coder', { stepType: 'task', ok: true, durationMs: 1000, tokens: { input: 100, output: 40 } });
		store.record('coder', { stepType: 'task', ok: true, durationMs: 2000, tokens: { input: 50, output: 10 } });
		store.record('coder', { stepType: 'task', ok: false, durationMs: 99_000 });
		store.record('coder', { stepType: 'review', ok: true, durationMs: 500 });
		store.record('tester', { ok: true, durationMs: 300 });
		assert.ok(store.changed);
		await store.save();
		assert.equal(store.changed, false);
		assert.deepEqual(readdirSync(dir), ['learning.json'], 'atomic write leaves no temp file');

		const again = await LearningStore.load(dir);
		assert.deepEqual(again.warnings, []);
		const task = again.stats('coder', 'task')!;
		assert.equal(task.tasks, 3);
		assert.equal(task.successes, 2);
		assert.equal(task.meanMs, 1500, 'the mean is over successful tasks only');
		assert.equal(task.recentMs, 1000 + RECENT_WEIGHT * (2000 - 1000));
		assert.equal(task.tokensIn, 150);
		assert.equal(task.tokensOut, 50);
		const all = again.stats('coder')!;
		assert.equal(all.tasks, 4);
		assert.equal(all.successes, 3);
		assert.equal(all.meanMs, (1500 * 2 + 500) / 3);
		assert.equal(again.stats('tester', 'unspecified')?.tasks, 1);
		assert.deepEqual(again.agents(), ['coder', 'tester']);
		assert.equal(again.stats('nobody'), undefined);
	});

	it('estimates from the most specific figure it has', () => {
		const store = LearningStore.empty(tempDir());
		store.record('coder', { stepType: 'task', ok: true, durationMs: 1000 });
		store.record('coder', { stepType: 'review', ok: true, durationMs: 3000 });
		store.record('reviewer', { stepType: 'review', ok: true, durationMs: 5000 });
		assert.equal(store.estimateMs({ agent: 'coder', stepType: 'task' }), 1000);
		assert.equal(store.estimateMs({ agent: 'coder', stepType: 'unknown' }), 2000, 'the agent over all step types');
		assert.equal(store.estimateMs({ stepType: 'review' }), 4000, 'the step type over all agents');
		assert.equal(store.estimateMs({ agent: 'nobody', stepType: 'review' }), 4000);
		assert.equal(store.estimateMs({ agent: 'nobody' }), undefined);
		assert.equal(store.estimateMs({}), undefined);
	});

	it('the recent duration follows change faster than the mean', () => {
		const store = LearningStore.empty(tempDir());
		for (let i = 0; i < 10; i++) store.record('a', { stepType: 't', ok: true, durationMs: 1000 });
		for (let i = 0; i < 5; i++) store.record('a', { stepType: 't', ok: true, durationMs: 5000 });
		const s = store.stats('a', 't')!;
		assert.ok(s.recentMs! > 4000 && s.meanMs! < 2500, JSON.stringify(s));
	});

	it('a corrupt file: starts fresh, says so, and keeps the old file aside', async () => {
		const dir = tempDir();
		writeFileSync(join(dir, 'learning.json'), '{"version": 1, "agents": {');
		const store = await LearningStore.load(dir);
		assert.equal(store.warnings.length, 1);
		assert.match(store.warnings[0], /learning file .*learning\.json is corrupt .*starting with nothing learned \(the old file is kept as learning\.json\.bad\)/);
		assert.equal(store.stats('coder'), undefined);
		assert.equal(readFileSync(join(dir, 'learning.json.bad'), 'utf8'), '{"version": 1, "agents": {');
		store.record('coder', { ok: true, durationMs: 10 });
		await store.save();
		assert.equal((await LearningStore.load(dir)).stats('coder')?.tasks, 1);
	});

	it('a file from another version, or not an object, starts fresh with a warning', async () => {
		for (const text of ['{"version": 7, "agents": {}}', '[1, 2]', 'null']) {
			const dir = tempDir();
			writeFileSync(join(dir, 'learning.json'), text);
			const store = await LearningStore.load(dir);
			assert.equal(store.warnings.length, 1, text);
			assert.match(store.warnings[0], /not version 1; starting with nothing learned/);
			assert.ok(store.changed, 'the next save replaces the unreadable file');
		}
	});

	it('malformed entries are dropped, the rest kept', async () => {
		const dir = tempDir();
		const good = { tasks: 2, successes: 1, meanMs: 10, recentMs: 10, tokensIn: 0, tokensOut: 0 };
		writeFileSync(
			join(dir, 'learning.json'),
			JSON.stringify({
				version: 1,
				agents: { coder: { task: good, bad: { tasks: -1, successes: 0 } }, broken: 5 },
				decisions: { 'file:delete': { approve: true, streak: 'x' }, 'git:tag': { approve: false, streak: 1, total: 1, dismissed: false } },
			}),
		);
		const store = await LearningStore.load(dir);
		assert.deepEqual(store.stats('coder', 'task'), good);
		assert.equal(store.stats('coder', 'bad'), undefined);
		assert.match(store.warnings[0], /ignored 3 malformed entries/);
	});

	it(`offers "always allow" after ${SUGGEST_AFTER} identical answers in a row, and never applies it`, () => {
		const store = LearningStore.empty(tempDir(), fakeClock());
		const rule = 'exec:risky:\\bsudo\\b';
		assert.equal(store.recordDecision(rule, true), undefined);
		assert.equal(store.recordDecision(rule, true), undefined);
		const due = store.recordDecision(rule, true);
		assert.deepEqual(due, {
			rule,
			action: 'auto-approve',
			streak: 3,
			message: 'You approved "every command matching /\\bsudo\\b/" 3 times in a row: always allow it?',
		});
		assert.deepEqual(store.suggestions(), [due]);
		// A fourth answer does not announce it again, but it stays on offer with the longer streak.
		assert.equal(store.recordDecision(rule, true), undefined);
		assert.equal(store.suggestions()[0].streak, 4);
	});

	it('a changed answer resets the streak; rejections lead to "always reject"', () => {
		const store = LearningStore.empty(tempDir(), fakeClock());
		store.recordDecision('file:delete', true);
		store.recordDecision('file:delete', true);
		store.recordDecision('file:delete', false);
		assert.deepEqual(store.suggestions(), []);
		store.recordDecision('file:delete', false);
		const s = store.recordDecision('file:delete', false);
		assert.equal(s?.action, 'always-reject');
		assert.match(s!.message, /You rejected "every file deletion or move" 3 times in a row: always reject it\?/);
		store.recordDecision('in-doubt', true);
		store.recordDecision('in-doubt', true);
		assert.match(store.recordDecision('in-doubt', true)!.message, /You approved "in-doubt" 3 times/);
	});

	it('a dismissed suggestion is not offered again until the answer changes, and that survives a restart', async () => {
		const dir = tempDir();
		const clock = fakeClock();
		const store = LearningStore.empty(dir, clock);
		for (let i = 0; i < 3; i++) store.recordDecision('git:tag', true);
		clock.advance(1000);
		for (let i = 0; i < 3; i++) store.recordDecision('git:commit', true);
		assert.deepEqual(
			store.suggestions().map((s) => s.rule),
			['git:commit', 'git:tag'],
			'newest first',
		);
		assert.equal(store.dismissSuggestion('git:tag'), true);
		assert.equal(store.dismissSuggestion('git:tag'), false);
		assert.equal(store.dismissSuggestion('never-seen'), false);
		store.recordDecision('git:tag', true);
		assert.deepEqual(
			store.suggestions().map((s) => s.rule),
			['git:commit'],
		);
		await store.save();

		const again = await LearningStore.load(dir, clock);
		assert.deepEqual(
			again.suggestions().map((s) => s.rule),
			['git:commit'],
		);
		clock.advance(1000);
		again.recordDecision('git:tag', false);
		for (let i = 0; i < 3; i++) again.recordDecision('git:tag', true);
		assert.deepEqual(
			again.suggestions().map((s) => s.rule),
			['git:tag', 'git:commit'],
			'a new streak after a changed answer is offered again',
		);
		again.forgetDecision('git:tag');
		assert.deepEqual(
			again.suggestions().map((s) => s.rule),
			['git:commit'],
		);
	});
});
