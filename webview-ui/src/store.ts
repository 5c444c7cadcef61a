// The board's data: the last snapshot plus ordered patches, and exactly what changed since the view last rendered.
// DOM-free on purpose, so its ordering rules are tested in plain Node.
import { applyBoardPatch, indexSteps, type StepIndex } from '../../src/protocol/applyPatch';
import type { WebviewToHost } from '../../src/protocol/messages';
import type { BoardPatch, BoardSnapshot, DecisionView, RunView, StepView } from '../../src/protocol/viewModels';

/** What the view must redraw; accumulated between two renders. */
export interface BoardChanges {
	/** A snapshot replaced the board: everything redraws. */
	all: boolean;
	trust: boolean;
	decisions: boolean;
	/** An orchestration (goal) started or changed state. */
	orchestrations: boolean;
	/** Runs were added, removed or replaced: the list's membership or order may differ. */
	runs: boolean;
	/** Runs replaced wholesale: their steps redraw from scratch. */
	replacedRuns: Set<string>;
	/** Runs whose header (status, counts, duration) changed. */
	headers: Set<string>;
	/** Changed step ids, by run id (runs in `replacedRuns` are not listed here). */
	steps: Map<string, Set<string>>;
}

export interface BoardStoreOptions {
	post(message: WebviewToHost): void;
	/** Called once when the first change after a render arrives; the view then calls takeChanges(). */
	onChange(): void;
	now?(): number;
	/** While a resync is unanswered, ask again at most this often (ms). */
	resyncRetryMs?: number;
}

/** Final step states: what "done" counts. */
export const FINAL_STATES: ReadonlySet<StepView['state']> = new Set(['succeeded', 'failed', 'skipped', 'cancelled', 'rolled_back']);

export class BoardStore {
	private current: BoardSnapshot | undefined;
	private index: StepIndex = new Map();
	private changes: BoardChanges | undefined;
	private awaitingResyncSince: number | undefined;
	private readonly now: () => number;
	private readonly resyncRetryMs: number;

	constructor(private readonly options: BoardStoreOptions) {
		this.now = options.now ?? (() => Date.now());
		this.resyncRetryMs = options.resyncRetryMs ?? 2000;
	}

	get snapshot(): BoardSnapshot | undefined {
		return this.current;
	}

	/** The board version the next patch must follow; -1 before the first snapshot. */
	get version(): number {
		return this.current?.version ?? -1;
	}

	/** True after a gap was seen and until the host's snapshot arrives. */
	get awaitingResync(): boolean {
		return this.awaitingResyncSince !== undefined;
	}

	run(runId: string): RunView | undefined {
		return this.current?.runs.find((r) => r.runId === runId);
	}

	step(runId: string, stepId: string): StepView | undefined {
		const i = this.index.get(runId)?.get(stepId);
		if (i === undefined) return undefined;
		return this.run(runId)?.steps[i];
	}

	decision(decisionId: string): DecisionView | undefined {
		return this.current?.decisions.find((d) => d.id === decisionId);
	}

	/** A snapshot always wins, whatever its version: it is the host's whole truth. */
	applySnapshot(snapshot: BoardSnapshot): void {
		this.current = snapshot;
		this.index = indexSteps(snapshot);
		this.awaitingResyncSince = undefined;
		this.mark().all = true;
	}

	/**
	 * Applies the patches that take the board to `version`. Only `version === current + 1` applies; an older one is a
	 * duplicate and is dropped; a newer one means something was lost, so the store asks for a snapshot and ignores
	 * patches until it arrives. Returns whether the patches were applied.
	 */
	applyPatches(version: number, patches: readonly BoardPatch[]): boolean {
		const snapshot = this.current;
		// Before the first snapshot there is nothing to patch; the answer to `ready` is on its way.
		if (!snapshot) return false;
		if (version <= snapshot.version) return false;
		if (this.awaitingResyncSince !== undefined || version !== snapshot.version + 1) {
			this.requestResync();
			return false;
		}
		for (const patch of patches) {
			this.record(patch);
			applyBoardPatch(snapshot, patch, this.index);
		}
		snapshot.version = version;
		return true;
	}

	/** Hands the accumulated changes to the view and starts a new set. */
	takeChanges(): BoardChanges | undefined {
		const changes = this.changes;
		this.changes = undefined;
		return changes;
	}

	private requestResync(): void {
		const now = this.now();
		if (this.awaitingResyncSince !== undefined && now - this.awaitingResyncSince < this.resyncRetryMs) return;
		this.awaitingResyncSince = now;
		this.options.post({ type: 'resync' });
	}

	/** Notes what `patch` will change; called before it is applied, while the old runs are still known. */
	private record(patch: BoardPatch): void {
		const changes = this.mark();
		if (changes.all) return;
		switch (patch.kind) {
			case 'run':
				changes.runs = true;
				changes.replacedRuns.add(patch.run.runId);
				changes.headers.delete(patch.run.runId);
				changes.steps.delete(patch.run.runId);
				return;
			case 'run-header':
				if (this.index.has(patch.run.runId)) changes.headers.add(patch.run.runId);
				return;
			case 'steps': {
				const ids = this.index.get(patch.runId);
				if (!ids || changes.replacedRuns.has(patch.runId)) return;
				let changed = changes.steps.get(patch.runId);
				for (const p of patch.steps) {
					if (!ids.has(p.id)) continue;
					if (!changed) changes.steps.set(patch.runId, (changed = new Set()));
					changed.add(p.id);
				}
				return;
			}
			case 'run-removed':
				changes.runs = true;
				changes.replacedRuns.delete(patch.runId);
				changes.headers.delete(patch.runId);
				changes.steps.delete(patch.runId);
				return;
			case 'decisions':
				changes.decisions = true;
				return;
			case 'trust':
				changes.trust = true;
				return;
			case 'orchestration':
				changes.orchestrations = true;
				return;
		}
	}

	private mark(): BoardChanges {
		if (this.changes) return this.changes;
		this.changes = {
			all: false,
			trust: false,
			decisions: false,
			orchestrations: false,
			runs: false,
			replacedRuns: new Set(),
			headers: new Set(),
			steps: new Map(),
		};
		this.options.onChange();
		return this.changes;
	}
}
