import assert from 'node:assert/strict';
import type { EngineEvent, StepState } from '../../../src/core/engine/events';
import { applyBoardPatch, indexSteps } from '../../../src/protocol/applyPatch';
import { hostToWebviewSchema } from '../../../src/protocol/messages';
import type { BoardSnapshot } from '../../../src/protocol/viewModels';
import { BoardModel, MAX_BOARD_RUNS } from '../../../src/vscode/model/boardModel';
import { runItem, stepItem } from '../../../src/vscode/model/treeModel';

function started(runId: string, n: number): EngineEvent {
	return {
		type: 'run-started',
		runId,
		workflow: `wf-${runId}`,
		resumed: false,
		steps: Array.from({ length: n }, (_, i) => ({ id: `s${i}`, type: 'util', operation: 'echo', dependencies: i ? [`s${i - 1}`] : [], level: i })),
		criticalPath: ['s0'],
		levels: n,
		concurrency: 4,
		mode: 'parallel',
	};
}

const step = (runId: string, id: string, state: StepState, extra: Partial<Extract<EngineEvent, { type: 'step' }>> = {}): EngineEvent => ({
	type: 'step',
	runId,
	id,
	state,
	attempt: 1,
	at: 1000,
	...extra,
});

const clone = (s: BoardSnapshot): BoardSnapshot => JSON.parse(JSON.stringify(s));

describe('board model', () => {
	it("quality findings become the step's error/warning counts: one latest list per tool, summed over tools", () => {
		const model = new BoardModel();
		const mirror: BoardSnapshot = clone(model.snapshot());
		const index = indexSteps(mirror);
		model.onChange((change) => {
			const msg = hostToWebviewSchema.parse(JSON.parse(JSON.stringify({ type: 'patch', version: change.version, patches: change.patches })));
			if (msg.type === 'patch') for (const p of msg.patches) applyBoardPatch(mirror, p, index);
		});
		model.apply(started('r1', 2));
		model.flush();
		const f = (severity: 'error' | 'warning' | 'info') => ({ file: 'a.ts', line: 1, severity, message: 'm', source: 't' });
		model.apply({ type: 'findings', runId: 'r1', id: 's0', tool: 'eslint', findings: [f('error'), f('warning'), f('warning')] });
		model.apply({ type: 'findings', runId: 'r1', id: 's0', tool: 'tsc', findings: [f('error'), f('info')] });
		model.flush();
		assert.deepEqual(mirror.runs[0].steps[0].findings, { error: 2, warning: 2, info: 1 });
		// A retry reports eslint again: its new list replaces the old one.
		model.apply({ type: 'findings', runId: 'r1', id: 's0', tool: 'eslint', findings: [] });
		model.apply({ type: 'findings', runId: 'r1', id: 'nope', tool: 'eslint', findings: [f('error')] });
		model.flush();
		assert.deepEqual(mirror.runs[0].steps[0].findings, { error: 1, warning: 0, info: 1 });
		assert.equal(mirror.runs[0].steps[1].findings, undefined);
		assert.deepEqual(model.step('r1', 's0')?.findings, mirror.runs[0].steps[0].findings);
	});

	it('patches replayed on a copy of the last snapshot give the same board (the webview stays in sync)', () => {
		const model = new BoardModel();
		const mirror: BoardSnapshot = clone(model.snapshot());
		const index = indexSteps(mirror);
		model.onChange((change) => {
			assert.equal(change.version, mirror.version + 1);
			// what crosses postMessage must be valid protocol
			const msg = hostToWebviewSchema.parse(JSON.parse(JSON.stringify({ type: 'patch', version: change.version, patches: change.patches })));
			if (msg.type !== 'patch') throw new Error('expected a patch');
			for (const p of msg.patches) applyBoardPatch(mirror, p, index);
			mirror.version = change.version;
		});
		model.apply(started('r1', 3));
		model.flush();
		model.apply(step('r1', 's0', 'running'));
		model.apply(step('r1', 's0', 'succeeded', { durationMs: 5 }));
		model.apply(step('r1', 's1', 'waiting', { message: 'needs approval' }));
		model.apply({
			type: 'decision-requested',
			request: { id: 'd1', runId: 'r1', stepId: 's1', kind: 'approval', reason: 'rm', summary: 'run `rm -rf x`', type: 'exec', operation: 'run', parameters: { command: 'rm -rf x', cwd: 'sub' }, rule: 'exec:risky:rm' },
		});
		model.flush();
		assert.equal(mirror.decisions[0].command, 'rm -rf x');
		assert.equal(mirror.decisions[0].cwd, 'sub');
		assert.equal(mirror.runs[0].steps[1].decisionId, 'd1');
		model.apply({ type: 'decision-answered', runId: 'r1', id: 'd1', answer: { approve: false, reason: 'no' } });
		model.apply(step('r1', 's1', 'failed', { message: 'rejected by user: no' }));
		model.apply(step('r1', 's2', 'skipped', { message: 'a dependency failed' }));
		model.apply({ type: 'run-finished', runId: 'r1', status: 'rejected', durationMs: 20, counts: {} });
		model.flush();
		assert.deepEqual(mirror, clone(model.snapshot()));
		const run = mirror.runs[0];
		assert.equal(run.steps[1].decisionId, undefined, 'the answered decision is cleared');
		assert.equal(run.done, 3);
		assert.deepEqual(run.counts, { succeeded: 1, failed: 1, skipped: 1 });
		assert.equal(run.live, false);
		assert.equal(mirror.decisions.length, 0);
	});

	it('coalesces many events for one step into one patch entry', () => {
		const model = new BoardModel();
		model.apply(started('r', 2000));
		model.flush();
		for (let i = 0; i < 2000; i++) {
			model.apply(step('r', `s${i}`, 'queued'));
			model.apply(step('r', `s${i}`, 'running'));
			model.apply(step('r', `s${i}`, 'succeeded', { durationMs: 1 }));
		}
		const change = model.flush()!;
		const steps = change.patches.find((p) => p.kind === 'steps');
		assert.ok(steps && steps.kind === 'steps');
		assert.equal(steps.steps.length, 2000);
		assert.equal(change.patches.filter((p) => p.kind === 'run-header').length, 1);
		assert.equal(model.run('r')!.done, 2000);
		assert.equal(model.flush(), undefined, 'nothing left to send');
	});

	it(`keeps at most ${MAX_BOARD_RUNS} runs, dropping the oldest finished one`, () => {
		let now = 0;
		const model = new BoardModel();
		for (let i = 0; i < MAX_BOARD_RUNS + 3; i++) {
			model.apply(started(`r${i}`, 1), ++now);
			model.apply({ type: 'run-finished', runId: `r${i}`, status: 'succeeded', durationMs: 1, counts: {} });
		}
		const change = model.flush()!;
		assert.equal(model.snapshot().runs.length, MAX_BOARD_RUNS);
		assert.equal(model.snapshot().runs[0].runId, `r${MAX_BOARD_RUNS + 2}`, 'newest first');
		assert.ok(change.patches.some((p) => p.kind === 'run-removed' && p.runId === 'r0'));
	});

	it('tree items carry structured context values, codicons and a tooltip with the error and parameters', () => {
		const model = new BoardModel();
		model.apply(started('r', 2));
		model.apply(step('r', 's0', 'failed', { message: 'exit code 2', durationMs: 1500 }));
		const run = model.run('r')!;
		const item = stepItem(run, run.steps[0], { command: 'make' });
		assert.equal(item.contextValue, 'step:failed');
		assert.equal(item.icon, 'error');
		assert.match(item.description!, /util\.echo · failed · 1\.50 s$/);
		assert.match(item.tooltip!, /critical path/);
		assert.match(item.tooltip!, /Error: exit code 2/);
		assert.match(item.tooltip!, /"command": "make"/);
		const r = runItem(run, 2000);
		assert.equal(r.contextValue, 'run:running:live');
		assert.match(r.description!, /running · 1\/2/);
	});
});
