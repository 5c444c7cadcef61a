// The board's state, built from the engine's event stream: one snapshot plus coalesced patches for the views.
// Plain TypeScript (no vscode import) so it is unit-tested in Node; the tree and the webview both read it.
import type { EngineEvent, RunUsage, StepState } from '../../core/engine/events';
import { commandLine } from '../../core/handlers/exec';
import { describeRule } from '../../core/policy/escalation';
import type { DecisionRequest } from '../../core/ports';
import { countFindings, type FindingCounts } from '../../core/quality/findings';
import type { RunSummary } from '../../core/state/runStore';
import { applyBoardPatch, MAX_ORCHESTRATIONS, type StepIndex } from '../../protocol/applyPatch';
import type { OrchestrationEvent } from '../../core/orchestrate/session';
import type {
	BoardPatch,
	BoardSnapshot,
	BudgetNoticeView,
	ChildStepView,
	DecisionView,
	OrchestrationView,
	RunHeader,
	RunUsageView,
	RunView,
	StepPatch,
	StepView,
	UsageView,
} from '../../protocol/viewModels';

/** Runs kept on the board (newest first); older ones stay in `qo runs` and the Operations tree's history. */
export const MAX_BOARD_RUNS = 20;
/** Budget notices kept per run (the newest). */
export const MAX_BUDGET_NOTICES = 10;

const FINAL: ReadonlySet<StepState> = new Set(['succeeded', 'failed', 'skipped', 'cancelled', 'rolled_back']);

export interface BoardChange {
	version: number;
	patches: BoardPatch[];
	/** Runs whose header or steps changed (the tree refreshes just these). */
	runs: Set<string>;
	decisionsChanged: boolean;
}

export class BoardModel {
	private readonly state: BoardSnapshot = { version: 0, runs: [], decisions: [], trusted: true, orchestrations: [] };
	private index: StepIndex = new Map();
	/** Step patches not yet flushed, by run then step: several events for one step become one patch. */
	private readonly dirtySteps = new Map<string, Map<string, StepPatch>>();
	private readonly dirtyHeaders = new Set<string>();
	private readonly structural: BoardPatch[] = [];
	private decisionsDirty = false;
	/** Findings counts by run, step and tool: a step's total is the sum over its tools, each tool's latest list. */
	private readonly findingCounts = new Map<string, Map<string, Map<string, FindingCounts>>>();
	/** Child steps (tool calls) by run: child id → parent step id. */
	private readonly childParents = new Map<string, Map<string, string>>();
	/** Runs an orchestration started before their run-started event arrived: run id → orchestration id. */
	private readonly pendingOrchestration = new Map<string, string>();
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

	/** A child step (an agent's tool call) and the step it belongs to. */
	child(runId: string, childId: string): { parent: StepView; child: ChildStepView } | undefined {
		const parentId = this.childParents.get(runId)?.get(childId);
		const parent = parentId === undefined ? undefined : this.step(runId, parentId);
		const child = parent?.children?.find((c) => c.id === childId);
		return parent && child ? { parent, child } : undefined;
	}

	/** The decision a step or child step waits for, if any. */
	decisionOfStep(runId: string, stepId: string): string | undefined {
		return this.step(runId, stepId)?.decisionId ?? this.child(runId, stepId)?.child.decisionId;
	}

	decision(id: string): DecisionView | undefined {
		return this.state.decisions.find((d) => d.id === id);
	}

	orchestration(id: string): OrchestrationView | undefined {
		return this.state.orchestrations?.find((o) => o.id === id);
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
			case 'step-added':
				return this.childAdded(event);
			case 'allocation':
				return this.allocated(event);
			case 'usage':
				return this.usageRecorded(event);
			case 'budget':
				return this.budgetCrossed(event);
			case 'decision-answered':
				return this.removeDecisions((d) => d.id === event.id);
			case 'run-finished': {
				const run = this.run(event.runId);
				if (run) {
					Object.assign(run, { status: event.status, durationMs: event.durationMs, live: false });
					if (event.message) run.message = event.message;
					if (event.usage) run.usage = runUsageView(event.usage);
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
			if (s.usage && s.usage.calls > 0) run.usage = runUsageView(s.usage);
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
		// A resumed run keeps what it spent and crossed before, and the goal it belongs to.
		if (e.resumed && previous) {
			if (previous.usage) run.usage = previous.usage;
			if (previous.budget) run.budget = previous.budget;
		}
		const goal = previous?.orchestration ?? this.pendingOrchestration.get(e.runId);
		this.pendingOrchestration.delete(e.runId);
		if (goal) run.orchestration = goal;
		// Changes queued for the old copy of this run are void: the new one replaces it whole.
		this.dirtySteps.delete(e.runId);
		this.findingCounts.delete(e.runId);
		this.childParents.delete(e.runId);
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
			this.childParents.delete(dropped.runId);
			this.dirtyHeaders.delete(dropped.runId);
			this.structural.push({ kind: 'run-removed', runId: dropped.runId });
		}
	}

	private stepChanged(e: Extract<EngineEvent, { type: 'step' }>): void {
		const step = this.step(e.runId, e.id);
		const run = this.run(e.runId);
		if (!run) return;
		if (!step) return this.childChanged(e);
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
		} else {
			this.updateChild(request.runId, request.stepId, (c) => ({ ...c, decisionId: view.id }));
		}
	}

	private childAdded(e: Extract<EngineEvent, { type: 'step-added' }>): void {
		// A tool call of a tool call belongs, on the board, to the planned step at the top.
		const topId = this.childParents.get(e.runId)?.get(e.parent) ?? e.parent;
		const parent = this.step(e.runId, topId);
		if (!parent) return;
		let parents = this.childParents.get(e.runId);
		if (!parents) this.childParents.set(e.runId, (parents = new Map()));
		parents.set(e.step.id, topId);
		const child: ChildStepView = { id: e.step.id, type: e.step.type, operation: e.step.operation, summary: e.summary, state: 'pending' };
		const agent = e.agent ?? parent.allocation?.agent;
		if (agent) child.agent = agent;
		this.setChildren(e.runId, parent, [...(parent.children ?? []).filter((c) => c.id !== child.id), child]);
	}

	private childChanged(e: Extract<EngineEvent, { type: 'step' }>): void {
		this.updateChild(e.runId, e.id, (c) => {
			const next: ChildStepView = { ...c, state: e.state };
			if (e.durationMs !== undefined) next.durationMs = e.durationMs;
			if (e.message !== undefined) next.message = e.message;
			else if (e.state !== 'waiting') delete next.message;
			if (e.state !== 'waiting') delete next.decisionId;
			return next;
		});
	}

	/** Replaces one child (copy on write: patches already queued keep the list they were given). */
	private updateChild(runId: string, childId: string, change: (child: ChildStepView) => ChildStepView): void {
		const found = this.child(runId, childId);
		if (!found) return;
		const { parent } = found;
		this.setChildren(runId, parent, parent.children!.map((c) => (c.id === childId ? change(c) : c)));
		// Children waiting for a person show in the run's "waiting for you".
		this.dirtyHeaders.add(runId);
	}

	private setChildren(runId: string, parent: StepView, children: ChildStepView[]): void {
		parent.children = children;
		this.stepPatch(runId, parent.id).children = children;
	}

	private allocated(e: Extract<EngineEvent, { type: 'allocation' }>): void {
		const step = this.step(e.runId, e.id);
		if (!step) return;
		const a = e.assignment;
		step.allocation = { agent: a.agent, reason: a.reason, ...(a.score !== undefined ? { score: a.score } : {}), ...(a.parts ? { parts: { ...a.parts } } : {}) };
		this.stepPatch(e.runId, e.id).allocation = step.allocation;
	}

	private usageRecorded(e: Extract<EngineEvent, { type: 'usage' }>): void {
		const run = this.run(e.runId);
		if (!run) return;
		// A tool step's LLM use (none today) counts for the planned step it belongs to.
		const step = this.step(e.runId, e.id) ?? this.child(e.runId, e.id)?.parent;
		if (step) {
			step.usage = addUsage(step.usage, e);
			step.usage.model = e.model;
			this.stepPatch(e.runId, step.id).usage = step.usage;
		}
		// The run's total moves live; the run's own figures (with per-agent totals) replace it when it ends.
		const total: RunUsageView = addUsage(run.usage, e);
		if (run.usage?.agents) total.agents = run.usage.agents;
		run.usage = total;
		this.dirtyHeaders.add(e.runId);
	}

	private budgetCrossed(e: Extract<EngineEvent, { type: 'budget' }>): void {
		const run = this.run(e.runId);
		if (!run) return;
		const notice: BudgetNoticeView = { level: e.level, scope: e.scope, name: e.name, metric: e.metric, value: e.value, limit: e.limit, message: e.message };
		if (e.id !== undefined) notice.stepId = e.id;
		run.budget = [...(run.budget ?? []), notice].slice(-MAX_BUDGET_NOTICES);
		this.dirtyHeaders.add(e.runId);
	}

	/** A transition of an orchestration session (not an engine event: the session reports it to the host). */
	applyOrchestration(e: OrchestrationEvent, extra: { planFile?: string; autonomous?: boolean; planner?: string } = {}): void {
		const list = (this.state.orchestrations ??= []);
		const previous = list.find((o) => o.id === e.id);
		const view: OrchestrationView = {
			id: e.id,
			goal: e.goal,
			state: e.state,
			runIds: [...(previous?.runIds ?? [])],
			autonomous: extra.autonomous ?? previous?.autonomous ?? false,
			startedAt: previous?.startedAt ?? e.at,
			updatedAt: e.at,
			live: e.state !== 'completing',
		};
		if (e.detail) view.detail = e.detail;
		const plan = extra.planFile ?? previous?.planFile;
		if (plan) view.planFile = plan;
		if (e.outcome) view.outcome = e.outcome;
		const planner = extra.planner ?? previous?.planner;
		if (planner) view.planner = planner;
		if (e.runId && !view.runIds.includes(e.runId)) {
			view.runIds.push(e.runId);
			const run = this.run(e.runId);
			if (!run) this.pendingOrchestration.set(e.runId, e.id);
			else if (run.orchestration !== e.id) {
				run.orchestration = e.id;
				this.dirtyHeaders.add(e.runId);
			}
		}
		const patch: BoardPatch = { kind: 'orchestration', orchestration: view };
		applyBoardPatch(this.state, patch, this.index);
		if (this.state.orchestrations!.length > MAX_ORCHESTRATIONS) this.state.orchestrations = this.state.orchestrations!.slice(0, MAX_ORCHESTRATIONS);
		this.structural.push(patch);
	}

	private removeDecisions(match: (d: DecisionView) => boolean): void {
		const kept = this.state.decisions.filter((d) => !match(d));
		if (kept.length === this.state.decisions.length) return;
		for (const d of this.state.decisions) if (match(d)) this.forgetDecision(d);
		this.state.decisions = kept;
		this.decisionsDirty = true;
	}

	/**
	 * A step no longer points at an answered decision. Usually its next state change clears it; a decision about a
	 * step that has ended (a revised plan after a failed step) gets no such change.
	 */
	private forgetDecision(d: DecisionView): void {
		const step = this.step(d.runId, d.stepId);
		if (step?.decisionId === d.id) {
			delete step.decisionId;
			const p = this.stepPatch(d.runId, d.stepId);
			delete p.decisionId;
			p.clear = [...new Set([...(p.clear ?? []), 'decisionId' as const])];
			return;
		}
		if (this.child(d.runId, d.stepId)?.child.decisionId === d.id) {
			this.updateChild(d.runId, d.stepId, (c) => {
				const { decisionId: _gone, ...rest } = c;
				return rest;
			});
		}
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

/** Usage plus one call (its cost, when the model's price is known). */
function addUsage<T extends UsageView>(u: T | undefined, e: { promptTokens: number; completionTokens: number; costUsd?: number }): UsageView {
	const out: UsageView = {
		promptTokens: (u?.promptTokens ?? 0) + e.promptTokens,
		completionTokens: (u?.completionTokens ?? 0) + e.completionTokens,
		calls: (u?.calls ?? 0) + 1,
		unpricedCalls: (u?.unpricedCalls ?? 0) + (e.costUsd === undefined ? 1 : 0),
	};
	if (u?.costUsd !== undefined || e.costUsd !== undefined) out.costUsd = (u?.costUsd ?? 0) + (e.costUsd ?? 0);
	return out;
}

/** The run's own usage figures (run-finished, summary.json) as the board shows them. */
function runUsageView(u: RunUsage): RunUsageView {
	const view: RunUsageView = { promptTokens: u.promptTokens, completionTokens: u.completionTokens, calls: u.calls, unpricedCalls: u.unpricedCalls };
	if (u.unpricedCalls < u.calls || u.costUsd > 0) view.costUsd = u.costUsd;
	if (u.agents && Object.keys(u.agents).length) view.agents = structuredClone(u.agents);
	return view;
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
