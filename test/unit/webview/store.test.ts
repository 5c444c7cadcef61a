import assert from 'node:assert/strict';
import type { WebviewToHost } from '../../../src/protocol/messages';
import type { BoardPatch, BoardSnapshot, DecisionView, RunView, StepView } from '../../../src/protocol/viewModels';
import { BoardStore } from '../../../webview-ui/src/store';

function step(id: string, level = 0, extra: Partial<StepView> = {}): StepView {
	return { id, type: 'util', operation: 'sleep', dependencies: [], level, state: 'pending', attempt: 0, critical: false, ...extra };
}

function run(runId: string, steps: StepView[]): RunView {
	return {
		runId,
		workflow: `wf-${runId}`,
		status: 'running',
		startedAt: 1,
		levels: 1,
		concurrency: 4,
		mode: 'parallel',
		criticalPath: [],
		done: 0,
		total: steps.length,
		counts: { pending: steps.length },
		live: true,
		steps,
	};
}

function header(runId: string, extra: Partial<RunView>): Omit<RunView, 'steps'> {
	const { steps: _steps, ...rest } = { ...run(runId, []), ...extra };
	return rest;
}

function snapshot(version: number, runs: RunView[] = [run('r1', [step('a'), step('b', 1)])]): BoardSnapshot {
	return { version, runs, decisions: [], trusted: true };
}

const decision: DecisionView = {
	id: 'd1',
	runId: 'r1',
	stepId: 'b',
	kind: 'approval',
	reason: 'writes outside src',
	summary: 'write b.txt',
	type: 'file',
	operation: 'write',
	parameters: { path: 'b.txt' },
	requestedAt: 5,
};

function setup(now = { t: 0 }) {
	const sent: WebviewToHost[] = [];
	let notified = 0;
	const store = new BoardStore({ post: (m) => sent.push(m), onChange: () => notified++, now: () => now.t, resyncRetryMs: 1000 });
	return { store, sent, notified: () => notified, now };
}

const stepsPatch = (...steps: { id: string; [k: string]: unknown }[]): BoardPatch => ({ kind: 'steps', runId: 'r1', steps } as BoardPatch);

describe('webview store', () => {
	it('patches before the first snapshot are dropped without asking for a resync (the snapshot answering ready is coming)', () => {
		const { store, sent } = setup();
		assert.equal(store.applyPatches(1, [stepsPatch({ id: 'a', state: 'running' })]), false);
		assert.equal(store.version, -1);
		assert.deepEqual(sent, []);
	});

	it('applies patches in version order and reports exactly the steps that changed', () => {
		const { store, notified } = setup();
		store.applySnapshot(snapshot(4));
		assert.equal(store.takeChanges()?.all, true);
		assert.equal(store.applyPatches(5, [stepsPatch({ id: 'a', state: 'running' })]), true);
		assert.equal(store.applyPatches(6, [stepsPatch({ id: 'a', state: 'succeeded', durationMs: 12 }, { id: 'ghost', state: 'failed' })]), true);
		assert.equal(store.version, 6);
		assert.equal(store.step('r1', 'a')?.state, 'succeeded');
		assert.equal(store.step('r1', 'a')?.durationMs, 12);
		const changes = store.takeChanges();
		assert.ok(changes);
		assert.equal(changes.all, false);
		assert.deepEqual([...(changes.steps.get('r1') ?? [])], ['a'], 'unknown steps are not reported');
		assert.equal(changes.runs, false);
		assert.equal(changes.decisions, false);
		assert.equal(notified(), 2, 'one notification per render: the snapshot, then the two patches together');
		assert.equal(store.takeChanges(), undefined);
	});

	it('a version gap asks for one resync and ignores later patches until the snapshot arrives', () => {
		const { store, sent, now } = setup();
		store.applySnapshot(snapshot(1));
		store.takeChanges();
		assert.equal(store.applyPatches(3, [stepsPatch({ id: 'a', state: 'failed' })]), false);
		assert.deepEqual(sent, [{ type: 'resync' }]);
		assert.equal(store.awaitingResync, true);
		// Even the "next" version is not trusted any more: something between was lost.
		assert.equal(store.applyPatches(2, [stepsPatch({ id: 'a', state: 'running' })]), false);
		assert.equal(store.applyPatches(4, [stepsPatch({ id: 'a', state: 'running' })]), false);
		assert.equal(sent.length, 1, 'no resync storm while waiting');
		assert.equal(store.step('r1', 'a')?.state, 'pending');
		assert.equal(store.takeChanges(), undefined);
		now.t = 1500;
		store.applyPatches(5, []);
		assert.equal(sent.length, 2, 'asks again when the first resync went unanswered');
		store.applySnapshot(snapshot(9));
		assert.equal(store.awaitingResync, false);
		assert.equal(store.applyPatches(10, [stepsPatch({ id: 'a', state: 'running' })]), true);
		assert.equal(store.step('r1', 'a')?.state, 'running');
	});

	it('an old or repeated version is a duplicate: dropped, no resync', () => {
		const { store, sent } = setup();
		store.applySnapshot(snapshot(3));
		assert.equal(store.applyPatches(4, [stepsPatch({ id: 'a', state: 'running' })]), true);
		assert.equal(store.applyPatches(4, [stepsPatch({ id: 'a', state: 'failed' })]), false);
		assert.equal(store.applyPatches(2, [stepsPatch({ id: 'a', state: 'failed' })]), false);
		assert.equal(store.step('r1', 'a')?.state, 'running');
		assert.deepEqual(sent, []);
	});

	it('a snapshot wins whatever its version (the host restarted)', () => {
		const { store } = setup();
		store.applySnapshot(snapshot(50));
		store.applySnapshot(snapshot(2, [run('r2', [step('x')])]));
		assert.equal(store.version, 2);
		assert.equal(store.run('r1'), undefined);
		assert.equal(store.step('r2', 'x')?.id, 'x');
		assert.equal(store.applyPatches(3, []), true);
	});

	it('clear removes fields that postMessage cannot send as undefined', () => {
		const { store } = setup();
		store.applySnapshot(snapshot(0, [run('r1', [step('a', 0, { state: 'waiting', decisionId: 'd1', message: 'needs approval', durationMs: 3 })])]));
		store.applyPatches(1, [stepsPatch({ id: 'a', state: 'running', clear: ['decisionId', 'message'] })]);
		const a = store.step('r1', 'a');
		assert.equal(a?.state, 'running');
		assert.equal('decisionId' in (a ?? {}), false);
		assert.equal('message' in (a ?? {}), false);
		assert.equal(a?.durationMs, 3, 'fields not listed stay');
	});

	it('classifies run, header, removal, decision and trust patches', () => {
		const { store } = setup();
		store.applySnapshot(snapshot(0));
		store.takeChanges();
		const r2 = run('r2', [step('x'), step('y', 1)]);
		store.applyPatches(1, [
			{ kind: 'run', run: r2 },
			{ kind: 'steps', runId: 'r2', steps: [{ id: 'x', state: 'running' }] },
			{ kind: 'run-header', run: header('r1', { status: 'failed', done: 2 }) },
			{ kind: 'decisions', decisions: [decision] },
			{ kind: 'trust', trusted: false },
		]);
		const c = store.takeChanges();
		assert.ok(c);
		assert.equal(c.runs, true);
		assert.deepEqual([...c.replacedRuns], ['r2']);
		assert.equal(c.steps.has('r2'), false, 'a replaced run redraws whole; its step changes are not listed');
		assert.deepEqual([...c.headers], ['r1']);
		assert.equal(c.decisions, true);
		assert.equal(c.trust, true);
		assert.equal(store.snapshot?.runs[0].runId, 'r2', 'new runs go first (newest first)');
		assert.equal(store.run('r1')?.status, 'failed');
		assert.equal(store.run('r1')?.steps.length, 2, 'a header patch keeps the steps');
		assert.equal(store.decision('d1')?.summary, 'write b.txt');
		assert.equal(store.snapshot?.trusted, false);

		store.applyPatches(2, [stepsPatch({ id: 'a', state: 'running' }), { kind: 'run-removed', runId: 'r1' }]);
		const c2 = store.takeChanges();
		assert.ok(c2);
		assert.equal(c2.runs, true);
		assert.equal(c2.steps.has('r1'), false, 'changes of a removed run are forgotten');
		assert.equal(store.run('r1'), undefined);
		assert.equal(store.step('r1', 'a'), undefined);
	});

	it('patches after a snapshot in the same frame still redraw everything once', () => {
		const { store, notified } = setup();
		store.applySnapshot(snapshot(0));
		store.applyPatches(1, [stepsPatch({ id: 'b', state: 'queued' })]);
		const c = store.takeChanges();
		assert.equal(c?.all, true);
		assert.equal(notified(), 1);
		assert.equal(store.step('r1', 'b')?.state, 'queued');
	});
});
