// The board's state, built from the engine's event stream: one snapshot plus coalesced patches for the views.
// Plain TypeScript (no vscode import) so it is unit-tested in Node; the tree and the webview both read it.
import type { EngineEvent, StepState } from '../../core/engine/events';
import { commandLine } from '../../core/handlers/exec';
import { describeRule } from '../../core/policy/escalation';
import type { DecisionRequest } from '../../core/ports';
import { countFindings, type FindingCounts } from '../../core/quality/findings';
import type { RunSummary } from '../../core/state/runStore';
import { applyBoardPatch, type StepIndex } from '../../protocol/applyPatch';
import type { BoardPatch, BoardSnapshot, DecisionView, RunHeader, RunView, StepPatch, StepView } from '../../protocol/viewModels';

/** Runs kept on the board (newest first); older ones stay in `qo runs` and the Operations tree's history. */
export const MAX_BOARD_RUNS = 20;

const FINAL: ReadonlySet<StepState> = new Set(['succeeded', 'failed', 'skipped', 'cancelled', 'rolled_back']);

export interface BoardChange {
	version: number;
	patches: BoardPatch[];
	/** Runs whose header or steps changed (the tree refreshes just these). */
	runs: Set<string>;
	decisionsChanged: boolean;
}

export class BoardModel {
	private readonly state: BoardSnapshot = { version: 0, runs: [], decisions: [], trusted: true };
	private index: StepIndex = new Map();
	/** Step patches not yet flushed, by run then step: several events for one step become one patch. */
	private readonly dirtySteps = new Map<string, Map<string, StepPatch>>();
	private readonly dirtyHeaders = new Set<string>();
	private readonly structural: BoardPatch[] = [];
	private decisionsDirty = false;
	/** Findings counts by run, step and tool: a step's total is the sum over its tools, each tool's latest list. */
	private readonly findingCounts = new Map<string, Map<string, Map<string, FindingCounts>>>();
	private readonly listeners: ((change: BoardChange) => void)[] = [];

	snapshot(): BoardSnapshot {
		return this.state;
	}

	run(runId: string): RunView | undefined {
		return this.state.runs.find((r) => r.runId === runId);
	}

	step(runId: string, stepId: string): StepView | undefined {
		const i = this.index.get(runId)?.get(stepId);
		return i === undefined ? undefined : this.run(runId)?.steps[i];
	}

	decision(id: string): DecisionView | undefined {
		return this.state.decisions.find((d) => d.id === id);
	}

	/** Called with each flush's patches; the views subscribe. */
	onChange(listener: (change: BoardChange) => void): { dispose(): void } {
		this.listeners.push(listener);
		return { dispose: () => this.listeners.splice(this.listeners.indexOf(listener) >>> 0, 1) };
	}

	get dirty(): boolean {
		return this.structural.length > 0 || this.dirtySteps.size > 0 || this.dirtyHeaders.size > 0 || this.decisionsDirty;
	}

	apply(event: EngineEvent, now = Date.now()): void {
		switch (event.type) {
			case 'run-started':
				return this.runStarted(event, now);
			case 'step':
				return this.stepChanged(event);
			case 'decision-requested':
				return this.decisionRequested(event.request, now);
			case 'findings':
				return this.findingsReported(event);
			case 'decision-answered':
				return this.removeDecisions((d) => d.id === event.id);
			case 'run-finished': {
				const run = this.run(event.runId);
				if (run) {
					Object.assign(run, { status: event.status, durationMs: event.durationMs, live: false });
					if (event.message) run.message = event.message;
					this.recount(run);
					this.dirtyHeaders.add(run.runId);
				}
				return this.removeDecisions((d) => d.runId === event.runId);
			}
			case 'rollback-finished': {
				const run = this.run(event.runId);
				if (!run) return;
				run.status = 'rolled_back';
				run.message = `rolled back: ${event.restored} restored, ${event.removed} removed${event.conflicts.length ? `, ${event.conflicts.length} conflicts` : ''}`;
				this.dirtyHeaders.add(run.runId);
				return;
			}
			default:
				return;
		}
	}

	/** Runs from disk (earlier sessions, the CLI) shown by their summaries until one is opened or resumed. */
	addHistory(summaries: readonly RunSummary[]): void {
		for (const s of summaries.slice(0, MAX_BOARD_RUNS)) {
			if (this.run(s.runId)) continue;
			const counts: Record<string, number> = {};
			for (const [k, v] of Object.entries(s.steps)) if (typeof v === 'number' && v > 0) counts[k] = v;
			const total = typeof s.steps.total === 'number' ? s.steps.total : Object.values(counts).reduce((a, b) => a + b, 0);
			delete counts.total;
			const run: RunView = {
				runId: s.runId,
				workflow: s.workflow,
				file: s.file,
				status: s.status,
				startedAt: s.startedAt,
				durationMs: s.durationMs,
				levels: 0,
				concurrency: 0,
				mode: '',
				criticalPath: [],
				done: Object.entries(counts).reduce((a, [k, v]) => (FINAL.has(k as StepState) ? a + v : a), 0),
				total,
				counts,
				live: false,
				committed: s.committed || undefined,
				steps: [],
			};
			this.state.runs.push(run);
			this.index.set(run.runId, new Map());
			this.structural.push({ kind: 'run', run });
		}
		this.state.runs.sort((a, b) => b.startedAt - a.startedAt);
	}

	setTrusted(trusted: boolean): void {
		if (this.state.trusted === trusted) return;
		this.state.trusted = trusted;
		this.structural.push({ kind: 'trust', trusted });
	}

	/** A run was committed: the board stops offering to roll it back. */
	setCommitted(runId: string): void {
		const run = this.run(runId);
		if (!run || run.committed) return;
		run.committed = true;
		this.dirtyHeaders.add(runId);
	}

	/** Marks a run as driven (or no longer driven) by this session's engine. */
	setLive(runId: string, live: boolean): void {
		const run = this.run(runId);
		if (!run || run.live === live) return;
		run.live = live;
		this.dirtyHeaders.add(runId);
	}

	/** Folds pending changes into one versioned patch list and tells the listeners; undefined when nothing changed. */
	flush(): BoardChange | undefined {
		if (!this.dirty) return undefined;
		const patches: BoardPatch[] = this.structural.splice(0);
		const runs = new Set<string>();
		for (const p of patches) if (p.kind === 'run' || p.kind === 'run-removed') runs.add(p.kind === 'run' ? p.run.runId : p.runId);
		for (const [runId, steps] of this.dirtySteps) {
			patches.push({ kind: 'steps', runId, steps: [...steps.values()] });
			runs.add(runId);
		}
		for (const runId of this.dirtyHeaders) {
			const run = this.run(runId);
			if (!run) continue;
			patches.push({ kind: 'run-header', run: headerOf(run) });
			runs.add(runId);
		}
		const decisionsChanged = this.decisionsDirty;
		if (decisionsChanged) patches.push({ kind: 'decisions', decisions: [...this.state.decisions] });
		this.dirtySteps.clear();
		this.dirtyHeaders.clear();
		this.decisionsDirty = false;
		this.state.version++;
		const change: BoardChange = { version: this.state.version, patches, runs, decisionsChanged };
		for (const l of [...this.listeners]) l(change);
		return change;
	}

	private runStarted(e: Extract<EngineEvent, { type: 'run-started' }>, now: number): void {
		const critical = new Set(e.criticalPath);
		const steps: StepView[] = e.steps.map((s) => ({
			id: s.id,
			type: s.type,
			operation: s.operation,
			dependencies: s.dependencies,
			level: s.level,
			state: 'pending',
			attempt: 0,
			critical: critical.has(s.id),
		}));
		const previous = this.run(e.runId);
		const run: RunView = {
			runId: e.runId,
			workflow: e.workflow,
			file: e.file,
			status: 'running',
			startedAt: e.resumed && previous ? previous.startedAt : now,
			levels: e.levels,
			concurrency: e.concurrency,
			mode: e.mode,
			criticalPath: e.criticalPath,
			done: 0,
			total: steps.length,
			counts: { pending: steps.length },
			live: true,
			steps,
		};
		// Changes queued for the old copy of this run are void: the new one replaces it whole.
		this.dirtySteps.delete(e.runId);
		this.findingCounts.delete(e.runId);
		this.dirtyHeaders.delete(e.runId);
		const patch: BoardPatch = { kind: 'run', run };
		applyBoardPatch(this.state, patch, this.index);
		this.structural.push(patch);
		this.state.runs.sort((a, b) => b.startedAt - a.startedAt);
		while (this.state.runs.length > MAX_BOARD_RUNS) {
			// The oldest run nobody is driving; a live run is never dropped from under its user.
			const dropped = this.state.runs.findLast((r) => !r.live && r.runId !== e.runId);
			if (!dropped) break;
			this.state.runs = this.state.runs.filter((r) => r !== dropped);
			this.index.delete(dropped.runId);
			this.dirtySteps.delete(dropped.runId);
			this.findingCounts.delete(dropped.runId);
			this.dirtyHeaders.delete(dropped.runId);
			this.structural.push({ kind: 'run-removed', runId: dropped.runId });
		}
	}

	private stepChanged(e: Extract<EngineEvent, { type: 'step' }>): void {
		const step = this.step(e.runId, e.id);
		const run = this.run(e.runId);
		if (!step || !run) return;
		const before = step.state;
		const patch = this.stepPatch(e.runId, e.id);
		const fields: Partial<StepView> = { state: e.state, attempt: e.attempt };
		if (e.state === 'running' && before !== 'running') fields.startedAt = e.at;
		if (e.durationMs !== undefined) fields.durationMs = e.durationMs;
		if (e.message !== undefined) fields.message = e.message;
		const clear: NonNullable<StepPatch['clear']> = [];
		if (e.message === undefined && step.message !== undefined && e.state !== 'waiting') clear.push('message');
		if (e.state !== 'waiting' && step.decisionId !== undefined) clear.push('decisionId');
		Object.assign(step, fields);
		Object.assign(patch, fields);
		for (const k of clear) {
			delete step[k];
			delete patch[k];
		}
		if (clear.length) patch.clear = [...new Set([...(patch.clear ?? []), ...clear])];
		// counts and done follow the state change
		run.counts[before] = Math.max(0, (run.counts[before] ?? 1) - 1);
		if (run.counts[before] === 0) delete run.counts[before];
		run.counts[e.state] = (run.counts[e.state] ?? 0) + 1;
		run.done += (FINAL.has(e.state) ? 1 : 0) - (FINAL.has(before) ? 1 : 0);
		this.dirtyHeaders.add(e.runId);
	}

	private findingsReported(e: Extract<EngineEvent, { type: 'findings' }>): void {
		const step = this.step(e.runId, e.id);
		if (!step) return;
		let steps = this.findingCounts.get(e.runId);
		if (!steps) this.findingCounts.set(e.runId, (steps = new Map()));
		let tools = steps.get(e.id);
		if (!tools) steps.set(e.id, (tools = new Map()));
		tools.set(e.tool, countFindings(e.findings));
		const total: FindingCounts = { error: 0, warning: 0, info: 0 };
		for (const c of tools.values()) {
			total.error += c.error;
			total.warning += c.warning;
			total.info += c.info;
		}
		step.findings = total;
		this.stepPatch(e.runId, e.id).findings = { ...total };
	}

	private stepPatch(runId: string, stepId: string): StepPatch {
		let steps = this.dirtySteps.get(runId);
		if (!steps) this.dirtySteps.set(runId, (steps = new Map()));
		let p = steps.get(stepId);
		if (!p) steps.set(stepId, (p = { id: stepId }));
		return p;
	}

	private decisionRequested(request: DecisionRequest, now: number): void {
		const view = decisionView(request, now);
		this.state.decisions = [...this.state.decisions.filter((d) => d.id !== view.id), view];
		this.decisionsDirty = true;
		const step = this.step(request.runId, request.stepId);
		if (step) {
			step.decisionId = view.id;
			const p = this.stepPatch(request.runId, request.stepId);
			p.decisionId = view.id;
			if (p.clear) p.clear = p.clear.filter((k) => k !== 'decisionId');
		}
	}

	private removeDecisions(match: (d: DecisionView) => boolean): void {
		const kept = this.state.decisions.filter((d) => !match(d));
		if (kept.length === this.state.decisions.length) return;
		this.state.decisions = kept;
		this.decisionsDirty = true;
	}

	private recount(run: RunView): void {
		if (run.steps.length === 0) return;
		const counts: Record<string, number> = {};
		let done = 0;
		for (const s of run.steps) {
			counts[s.state] = (counts[s.state] ?? 0) + 1;
			if (FINAL.has(s.state)) done++;
		}
		run.counts = counts;
		run.done = done;
	}
}

export function headerOf(run: RunView): RunHeader {
	const { steps: _steps, ...header } = run;
	return { ...header, counts: { ...header.counts } };
}

const FILE_OPS = new Set(['create', 'modify', 'delete', 'copy', 'move']);

/** A decision as the board shows it: the command line and cwd for exec steps, the file for file steps. */
export function decisionView(request: DecisionRequest, now: number): DecisionView {
	const p = request.parameters;
	const view: DecisionView = {
		id: request.id,
		runId: request.runId,
		stepId: request.stepId,
		kind: request.kind,
		reason: request.reason,
		summary: request.summary,
		type: request.type,
		operation: request.operation,
		parameters: p,
		requestedAt: now,
	};
	if (request.rule) {
		view.rule = request.rule;
		view.ruleLabel = describeRule(request.rule);
	}
	if (request.type === 'exec' && typeof p.command === 'string') {
		view.command = commandLine({ command: p.command, args: Array.isArray(p.args) ? p.args.map(String) : undefined, shell: p.shell as boolean | undefined });
		view.cwd = typeof p.cwd === 'string' ? p.cwd : '.';
	} else if (request.type === 'git') {
		view.command = request.summary;
		view.cwd = typeof p.repo === 'string' ? p.repo : '.';
	} else if (request.type === 'file' && FILE_OPS.has(request.operation) && typeof p.path === 'string') {
		view.file = typeof p.to === 'string' ? p.to : p.path;
	}
	if (request.changes?.length) {
		view.changedFiles = request.changes.map((c) => c.path);
		view.file ??= request.changes[0].path;
	}
	if (request.details) view.details = request.details;
	return view;
}
