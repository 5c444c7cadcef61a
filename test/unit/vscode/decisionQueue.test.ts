import assert from 'node:assert/strict';
import type { DecisionRequest } from '../../../src/core/ports';
import { parseWebviewMessage } from '../../../src/protocol/messages';
import { DecisionQueue } from '../../../src/vscode/model/decisionQueue';

const req = (id: string, rule?: string, runId = 'r'): DecisionRequest => ({
	id,
	runId,
	stepId: id,
	kind: 'approval',
	reason: 'why',
	summary: 'what',
	type: 'exec',
	operation: 'run',
	parameters: {},
	rule,
});

describe('decision queue', () => {
	it('answers several decisions at once and reports ones already answered as stale', async () => {
		const q = new DecisionQueue();
		const signal = new AbortController().signal;
		const a = q.decide(req('a'), signal);
		const b = q.decide(req('b'), signal);
		const r = await q.answer(['a', 'b', 'gone'], { approve: false, reason: 'not today' });
		assert.deepEqual(r, { answered: ['a', 'b'], stale: ['gone'] });
		assert.deepEqual(await a, { approve: false, by: 'user', reason: 'not today', parameters: undefined });
		assert.equal((await b).approve, false);
		assert.equal(q.list().length, 0);
	});

	it('"always allow" persists the rule and approves the other decisions waiting on it', async () => {
		const persisted: string[] = [];
		const q = new DecisionQueue({ onAlwaysAllow: (rule) => void persisted.push(rule) });
		const signal = new AbortController().signal;
		const a = q.decide(req('a', 'file:delete'), signal);
		const b = q.decide(req('b', 'file:delete'), signal);
		const c = q.decide(req('c', 'exec:risky:x'), signal);
		await q.answer(['a'], { approve: true, alwaysAllow: true });
		assert.deepEqual(persisted, ['file:delete']);
		assert.equal((await a).approve, true);
		assert.equal((await b).approve, true);
		assert.deepEqual(q.list().map((d) => d.id), ['c']);
		q.rejectRun('r', 'cancelled');
		assert.equal((await c).approve, false);
	});

	it('edit-then-approve passes the new parameters; a cancelled run withdraws its decisions', async () => {
		const q = new DecisionQueue();
		const a = q.decide(req('a'), new AbortController().signal);
		await q.answer(['a'], { approve: true, parameters: { command: 'ls' } });
		assert.deepEqual((await a).parameters, { command: 'ls' });
		const ac = new AbortController();
		const b = q.decide(req('b'), ac.signal);
		ac.abort();
		assert.equal((await b).approve, false);
		assert.equal(q.list().length, 0);
	});
});

describe('webview message protocol', () => {
	it('accepts well-formed messages and names what is wrong with bad ones', () => {
		assert.equal(parseWebviewMessage({ type: 'answer', decisionIds: ['a', 'b'], approve: true }).ok, true);
		const bad = parseWebviewMessage({ type: 'answer', decisionIds: [], approve: true });
		assert.equal(bad.ok, false);
		assert.match((bad as { error: string }).error, /decisionIds/);
		assert.equal(parseWebviewMessage({ type: 'runAction', action: 'format-disk', runId: 'r' }).ok, false);
		assert.equal(parseWebviewMessage('ready').ok, false);
		assert.equal(parseWebviewMessage({ type: 'nope' }).ok, false);
	});
});
