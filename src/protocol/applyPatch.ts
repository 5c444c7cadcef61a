// Applying board patches in place: the webview's store and the host's tests share this one reducer.
import type { BoardPatch, BoardSnapshot, RunView } from './viewModels';

/** Orchestrations kept on the board (newest first). */
export const MAX_ORCHESTRATIONS = 5;

/** Index of a run's steps by id, kept beside the snapshot so a step patch is O(1). */
export type StepIndex = Map<string, Map<string, number>>;

export function indexSteps(snapshot: BoardSnapshot): StepIndex {
	const index: StepIndex = new Map();
	for (const run of snapshot.runs) index.set(run.runId, indexRun(run));
	return index;
}

function indexRun(run: RunView): Map<string, number> {
	const m = new Map<string, number>();
	run.steps.forEach((s, i) => m.set(s.id, i));
	return m;
}

/** Applies one patch to `snapshot` (mutated) and keeps `index` in step. Unknown runs or steps are ignored. */
export function applyBoardPatch(snapshot: BoardSnapshot, patch: BoardPatch, index: StepIndex): void {
	switch (patch.kind) {
		case 'run': {
			const at = snapshot.runs.findIndex((r) => r.runId === patch.run.runId);
			if (at >= 0) snapshot.runs[at] = patch.run;
			else snapshot.runs.unshift(patch.run);
			index.set(patch.run.runId, indexRun(patch.run));
			return;
		}
		case 'run-header': {
			const run = snapshot.runs.find((r) => r.runId === patch.run.runId);
			if (run) Object.assign(run, patch.run);
			return;
		}
		case 'steps': {
			const run = snapshot.runs.find((r) => r.runId === patch.runId);
			const ids = index.get(patch.runId);
			if (!run || !ids) return;
			for (const p of patch.steps) {
				const i = ids.get(p.id);
				if (i === undefined) continue;
				const step = run.steps[i];
				const { clear, ...fields } = p;
				Object.assign(step, fields);
				if (clear) for (const key of clear) delete step[key];
			}
			return;
		}
		case 'run-removed':
			snapshot.runs = snapshot.runs.filter((r) => r.runId !== patch.runId);
			index.delete(patch.runId);
			return;
		case 'decisions':
			snapshot.decisions = patch.decisions;
			return;
		case 'trust':
			snapshot.trusted = patch.trusted;
			return;
		case 'orchestration': {
			const list = snapshot.orchestrations ?? [];
			const at = list.findIndex((o) => o.id === patch.orchestration.id);
			if (at >= 0) list[at] = patch.orchestration;
			else list.unshift(patch.orchestration);
			snapshot.orchestrations = list.slice(0, MAX_ORCHESTRATIONS);
			return;
		}
	}
}
