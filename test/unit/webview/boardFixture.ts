// A large board for the webview tests: a 3,000-step run by levels, an older failed run and three pending decisions.
import type { BoardPatch, BoardSnapshot, DecisionView, RunView, StepStateView, StepView } from '../../../src/protocol/viewModels';

export const LEVELS = 30;
export const PER_LEVEL = 100;
export const BIG_RUN = 'run-big';
export const OLD_RUN = 'run-old';

export const stepId = (level: number, k: number): string => `s${level}-${k}`;

const FINAL: ReadonlySet<StepStateView> = new Set(['succeeded', 'failed', 'skipped', 'cancelled', 'rolled_back']);

export function countStates(run: RunView): { done: number; counts: Record<string, number> } {
	const counts: Record<string, number> = {};
	let done = 0;
	for (const s of run.steps) {
		counts[s.state] = (counts[s.state] ?? 0) + 1;
		if (FINAL.has(s.state)) done++;
	}
	return { done, counts };
}

function bigRun(now: number): RunView {
	const steps: StepView[] = [];
	const critical = new Set<string>();
	for (let level = 0; level < LEVELS; level++) critical.add(stepId(level, level % PER_LEVEL));
	for (let level = 0; level < LEVELS; level++) {
		for (let k = 0; k < PER_LEVEL; k++) {
			const id = stepId(level, k);
			const state: StepStateView = level < 3 ? 'succeeded' : level === 3 ? (k < 60 ? 'running' : 'queued') : 'pending';
			const step: StepView = {
				id,
				type: k % 3 === 0 ? 'exec' : 'file',
				operation: k % 3 === 0 ? 'run' : 'write',
				dependencies: level ? [stepId(level - 1, k), stepId(level - 1, (k + 1) % PER_LEVEL)] : [],
				level,
				state,
				attempt: state === 'pending' ? 0 : 1,
				critical: critical.has(id),
			};
			if (state === 'succeeded') step.durationMs = 40 + ((k * 37 + level * 11) % 900);
			if (state === 'running') step.startedAt = now - 1000;
			steps.push(step);
		}
	}
	// Two steps wait for decisions.
	Object.assign(steps[3 * PER_LEVEL + 70], { state: 'waiting', decisionId: 'dec-exec', message: 'needs approval', attempt: 0 });
	Object.assign(steps[3 * PER_LEVEL + 71], { state: 'waiting', decisionId: 'dec-file', message: 'needs approval', attempt: 0 });
	const run: RunView = {
		runId: BIG_RUN,
		workflow: 'monorepo-release',
		file: 'workflows/release.workflow.json',
		status: 'running',
		startedAt: now - 95_000,
		levels: LEVELS,
		concurrency: 8,
		mode: 'parallel',
		criticalPath: [...critical],
		done: 0,
		total: steps.length,
		counts: {},
		live: true,
		steps,
	};
	Object.assign(run, countStates(run));
	return run;
}

function oldRun(now: number): RunView {
	const steps: StepView[] = ['lint', 'test', 'package'].map((id, i) => ({
		id,
		type: 'exec',
		operation: 'run',
		dependencies: i ? ['lint'] : [],
		level: i ? 1 : 0,
		state: i === 1 ? 'failed' : 'succeeded',
		attempt: 1,
		critical: i < 2,
		durationMs: 1200 * (i + 1),
		...(i === 1 ? { message: 'exit code 1' } : {}),
	}));
	const run: RunView = {
		runId: OLD_RUN,
		workflow: 'nightly-check',
		status: 'failed',
		startedAt: now - 3_600_000,
		durationMs: 4_800,
		levels: 2,
		concurrency: 2,
		mode: 'parallel',
		criticalPath: ['lint', 'test'],
		done: 3,
		total: 3,
		counts: {},
		message: 'step test failed: exit code 1',
		live: false,
		steps,
	};
	Object.assign(run, countStates(run));
	return run;
}

export function decisions(now: number): DecisionView[] {
	return [
		{
			id: 'dec-exec',
			runId: BIG_RUN,
			stepId: stepId(3, 70),
			kind: 'approval',
			reason: 'Runs a shell command that matches the "network" rule',
			summary: 'npm publish --access public',
			type: 'exec',
			operation: 'run',
			parameters: { command: 'npm publish --access public', cwd: 'packages/core', timeout_ms: 60000 },
			rule: 'exec.network',
			command: 'npm publish --access public',
			cwd: 'packages/core',
			requestedAt: now - 20_000,
		},
		{
			id: 'dec-file',
			runId: BIG_RUN,
			stepId: stepId(3, 71),
			kind: 'approval',
			reason: 'Writes a protected path',
			summary: 'Overwrite CHANGELOG.md',
			type: 'file',
			operation: 'write',
			parameters: { path: 'CHANGELOG.md', content: '## 2.0.0\n- breaking: new API\n' },
			file: 'CHANGELOG.md',
			requestedAt: now - 15_000,
		},
		{
			id: 'dec-doubt',
			runId: OLD_RUN,
			stepId: 'package',
			kind: 'in-doubt',
			reason: 'The session ended while this step ran; it may have partly happened',
			summary: 'Re-run "package"?',
			type: 'exec',
			operation: 'run',
			parameters: { command: 'npm pack' },
			command: 'npm pack',
			cwd: '.',
			requestedAt: now - 5_000,
		},
	];
}

export function bigSnapshot(version: number, now = Date.now()): BoardSnapshot {
	return { version, runs: [bigRun(now), oldRun(now)], decisions: decisions(now), trusted: true };
}

/** The next `size` pending/queued/running steps of the big run move one state forward; the header follows. */
export function progressPatch(run: RunView, size: number, now: number): BoardPatch[] {
	const changed: { id: string; state: StepStateView; attempt?: number; durationMs?: number; startedAt?: number }[] = [];
	for (const s of run.steps) {
		if (changed.length >= size) break;
		if (s.state === 'running') changed.push({ id: s.id, state: s.id.endsWith('-13') ? 'failed' : 'succeeded', durationMs: 50 + (s.id.length * 97) % 700 });
		else if (s.state === 'queued') changed.push({ id: s.id, state: 'running', startedAt: now, attempt: 1 });
		else if (s.state === 'pending') changed.push({ id: s.id, state: 'queued' });
	}
	const after = new Map(changed.map((c) => [c.id, c.state]));
	const counts: Record<string, number> = {};
	let done = 0;
	for (const s of run.steps) {
		const state = after.get(s.id) ?? s.state;
		counts[state] = (counts[state] ?? 0) + 1;
		if (FINAL.has(state)) done++;
	}
	const { steps: _steps, ...header } = run;
	return [
		{ kind: 'steps', runId: run.runId, steps: changed },
		{ kind: 'run-header', run: { ...header, done, counts } },
	];
}

const CHURN: readonly StepStateView[] = ['queued', 'running', 'retrying', 'succeeded', 'failed'];

/** Batch `i` of a stream that always changes exactly `size` steps (a rolling window through the run). */
export function churnPatch(run: RunView, i: number, size: number): BoardPatch[] {
	const changed = [];
	for (let k = 0; k < size; k++) {
		const s = run.steps[(i * size + k) % run.steps.length];
		const state = CHURN[(i + k) % CHURN.length];
		changed.push({ id: s.id, state, attempt: s.attempt + 1, ...(FINAL.has(state) ? { durationMs: 10 + ((i * 31 + k) % 500) } : { startedAt: i }) });
	}
	const { steps: _steps, ...header } = run;
	return [
		{ kind: 'steps', runId: run.runId, steps: changed },
		{ kind: 'run-header', run: { ...header, done: Math.min(run.total, header.done + 1) } },
	];
}
