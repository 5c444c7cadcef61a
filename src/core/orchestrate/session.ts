// One orchestration of a goal, as a state machine:
//   idle → analysing → planning → (review) → executing → monitoring ⇄ escalating → completing
//   and on a failed run: error → recover → (a replan decision: escalating) → executing … or → completing.
// Every transition is an event for the host (the CLI prints it; the extension routes it to the board).
import { randomBytes } from 'node:crypto';
import type { Engine, RunResult } from '../engine';
import { describeError } from '../errors';
import { plural } from '../format';
import type { DecisionAnswer, DecisionPrompter, DecisionRequest } from '../ports';
import type { LlmClient } from '../services/llm/client';
import type { Workflow } from '../workflow/schema';
import { continuationOf, readRunRecord, type RunRecord } from './continuation';
import { diffPlans, type PlanDiff } from './diff';
import { createPlanner, type PlannedWorkflow, type Planner } from './planner';
import { savePlan, type PlanMeta, type SavedPlan } from './plans';
import type { AgentInfo, Analysis } from './types';

export type OrchestrationState = 'idle' | 'analysing' | 'planning' | 'review' | 'executing' | 'monitoring' | 'escalating' | 'error' | 'recover' | 'completing';

/** How a session ended: planned = saved and not run (plan only, declined, or no one to approve it). */
export type OrchestrationOutcome = 'succeeded' | 'failed' | 'planned' | 'cancelled' | 'rejected';

/** A state transition of a session. */
export interface OrchestrationEvent {
	type: 'orchestration';
	/** The session's id. */
	id: string;
	goal: string;
	state: OrchestrationState;
	at: number;
	/** One line: what is happening or why. */
	detail?: string;
	planFile?: string;
	runId?: string;
	/** On 'completing': how the session ends. */
	outcome?: OrchestrationOutcome;
}

export type OrchestrationListener = (event: OrchestrationEvent) => void;

export interface PreparedPlan {
	analysis: Analysis;
	planned: PlannedWorkflow;
	saved: SavedPlan;
}

export interface OrchestrationOptions {
	engine: Engine;
	/** Answers replan decisions: give the prompter the engine was created with, so they join the same queue. */
	prompter: DecisionPrompter;
	/** Default: createPlanner({ engine, llm, agents }) — the model with `llm`, else the offline fallback. */
	planner?: Planner;
	llm?: LlmClient;
	agents?: readonly AgentInfo[];
	/** Revised plans tried after failed runs; default 1. */
	maxReplans?: number;
	/**
	 * Shown the saved plan before it runs (the 'review' state); resolve false to stop there (outcome 'planned').
	 * Without it the plan runs at once (autonomous). The plan is read back from its file after the review, so edits
	 * made to the file meanwhile are what runs.
	 */
	review?: (plan: PreparedPlan, signal: AbortSignal) => Promise<boolean>;
	onEvent?: OrchestrationListener;
	signal?: AbortSignal;
	/** `$schema` written into saved plans. */
	schema?: string;
}

export interface OrchestrationResult {
	id: string;
	goal: string;
	outcome: OrchestrationOutcome;
	/** Why it did not succeed, one line. */
	message?: string;
	analysis: Analysis;
	/** Plan files saved, the first plan first, then each approved revision. */
	plans: SavedPlan[];
	runs: RunResult[];
	replans: number;
	/** The replan decisions asked, with the diff shown and the answer. */
	decisions: { request: DecisionRequest; answer: DecisionAnswer }[];
}

export class OrchestrationSession {
	readonly id: string;
	private current: OrchestrationState = 'idle';
	private readonly planner: Planner;
	private readonly signal: AbortSignal;
	private readonly plans: SavedPlan[] = [];
	private readonly runs: RunResult[] = [];
	private readonly decisions: OrchestrationResult['decisions'] = [];
	private replans = 0;

	constructor(
		readonly goal: string,
		private readonly opts: OrchestrationOptions,
	) {
		this.id = `goal-${randomBytes(4).toString('hex')}`;
		this.planner = opts.planner ?? createPlanner({ engine: opts.engine, llm: opts.llm, agents: opts.agents });
		this.signal = opts.signal ?? new AbortController().signal;
	}

	get state(): OrchestrationState {
		return this.current;
	}

	/**
	 * Analyses, plans, saves, reviews, runs and recovers. Throws (after 'error' and 'completing') when analysing or
	 * planning fails or a run cannot start; a run that fails is an outcome, not a throw.
	 */
	async run(): Promise<OrchestrationResult> {
		let analysis: Analysis;
		let prepared: PreparedPlan;
		try {
			this.to('analysing', { detail: this.planner.label });
			analysis = await this.planner.analyse(this.goal, this.signal);
			this.to('planning', { detail: `${analysis.intent}, ${analysis.complexity.level} complexity; ${this.planner.kind === 'llm' ? `asking ${this.planner.label}` : 'from templates (offline fallback)'}` });
			const planned = await this.planner.plan(analysis, this.signal);
			prepared = { analysis, planned, saved: await this.save(planned, analysis) };
		} catch (err) {
			this.to('error', { detail: describeError(err) });
			this.to('completing', { outcome: 'failed', detail: describeError(err) });
			throw err;
		}
		const planFile = prepared.saved.file;
		if (this.opts.review) {
			this.to('review', { planFile, detail: plural(prepared.planned.workflow.instructions.length, 'step') });
			if (!(await this.opts.review(prepared, this.signal))) return this.finish(analysis, 'planned', `saved ${planFile}; not run`);
		}
		let plan: Workflow;
		try {
			plan = await this.opts.engine.load(planFile);
		} catch (err) {
			this.to('error', { planFile, detail: describeError(err) });
			this.to('completing', { outcome: 'failed', planFile, detail: describeError(err) });
			throw err;
		}
		return this.execute(analysis, plan, plan);
	}

	/** Runs `toRun` (the plan, or its continuation after a replan) and recovers from failures. */
	private async execute(analysis: Analysis, plan: Workflow, toRun: Workflow): Promise<OrchestrationResult> {
		const planFile = this.plans[this.plans.length - 1]?.file;
		this.to('executing', { planFile, detail: plural(toRun.instructions.length, 'step') });
		let result: RunResult;
		try {
			result = await this.follow(toRun);
		} catch (err) {
			// The run could not start or finish (its lock, the disk): nothing to replan.
			this.to('error', { planFile, detail: describeError(err) });
			this.to('completing', { outcome: 'failed', planFile, detail: describeError(err) });
			throw err;
		}
		this.runs.push(result);
		const runId = result.runId;
		if (result.status === 'succeeded') return this.finish(analysis, 'succeeded', undefined, runId);
		if (result.status === 'cancelled' || this.signal.aborted) return this.finish(analysis, 'cancelled', result.message, runId);
		if (result.status === 'rejected') return this.finish(analysis, 'rejected', result.message, runId);
		const failure = oneLine(result.message ?? `the run ended ${result.status}`);
		this.to('error', { runId, planFile, detail: failure });
		const max = this.opts.maxReplans ?? 1;
		if (this.replans >= max) return this.finish(analysis, 'failed', `${failure} (no replans left: at most ${max})`, runId);

		this.to('recover', { runId, planFile, detail: `asking ${this.planner.label} for a revised plan` });
		let record: RunRecord;
		let revised: PlannedWorkflow;
		try {
			record = await readRunRecord(this.opts.engine.stateDir, runId, result.status, result.message);
			const proposal = await this.planner.replan({ analysis, previous: plan, record }, this.signal);
			if ('reason' in proposal) return this.finish(analysis, 'failed', `${failure}; no revised plan: ${proposal.reason}`, runId);
			revised = proposal.plan;
		} catch (err) {
			return this.finish(analysis, 'failed', `${failure}; replanning failed: ${describeError(err)}`, runId);
		}
		const diff = diffPlans(plan, revised.workflow);
		if (diff.empty) return this.finish(analysis, 'failed', `${failure}; the planner proposed no change to the plan`, runId);
		const continuation = continuationOf(revised.workflow, plan, record);
		const answer = await this.askReplan(record, diff, continuation.carried, planFile);
		if (!answer.approve) {
			const why = answer.reason ? `: ${answer.reason}` : '';
			if (this.signal.aborted) return this.finish(analysis, 'cancelled', `${failure}; cancelled while the revised plan waited`, runId);
			return this.finish(analysis, 'failed', `${failure}; the revised plan was ${answer.by === 'policy' ? 'not approved' : 'rejected'}${why}`, runId);
		}
		this.replans++;
		const saved = await this.save(revised, analysis, { replanOf: planFile, failedRun: runId, diff: diff.text, approvedBy: answer.by ?? 'user' });
		const next = await this.opts.engine.load(saved.file);
		const toRunNext = this.opts.engine.parse(JSON.stringify(continuationOf(next, plan, record).workflow, null, 2));
		return this.execute(analysis, next, toRunNext);
	}

	/** Runs a workflow and follows its events: monitoring, escalating while one of its decisions waits. */
	private async follow(workflow: Workflow): Promise<RunResult> {
		const { engine } = this.opts;
		let runId: string | undefined;
		const waiting = new Set<string>();
		const sub = engine.events.on((e) => {
			if (!runId) return;
			if (e.type === 'decision-requested' && e.request.runId === runId) {
				waiting.add(e.request.id);
				this.to('escalating', { runId, detail: `${e.request.stepId} waits for a decision: ${e.request.reason}` });
			} else if (e.type === 'decision-answered' && e.runId === runId && waiting.delete(e.id) && waiting.size === 0) {
				this.to('monitoring', { runId, detail: `decision ${e.answer.approve ? 'approved' : 'rejected'}` });
			}
		});
		try {
			return await engine.run(workflow, {
				signal: this.signal,
				onStart: (id) => {
					runId = id;
					this.to('monitoring', { runId: id, detail: `run ${id} started` });
				},
			});
		} finally {
			sub.dispose();
		}
	}

	/** The revised plan goes to the decision queue as a 'replan' decision, with the diff to read; never applied silently. */
	private async askReplan(record: RunRecord, diff: PlanDiff, carried: string[], planFile: string | undefined): Promise<DecisionAnswer> {
		const { engine, prompter } = this.opts;
		const [failedStep, error] = [...record.failed][0] ?? ['(run)', record.message ?? 'failed'];
		const request: DecisionRequest = {
			id: `${this.id}-replan-${this.replans + 1}`,
			runId: record.runId,
			stepId: failedStep,
			kind: 'replan',
			reason: `${failedStep} failed (${firstLine(error)}); the planner proposes a revised plan`,
			summary: `run the revised plan as a new run (${diff.summary})${carried.length ? `; not run again: ${carried.join(', ')}` : ''}`,
			type: 'plan',
			operation: 'replan',
			parameters: { goal: this.goal, ...(planFile ? { plan: planFile } : {}) },
			details: `${diff.text}${carried.length ? `\nSucceeded in run ${record.runId}, not run again: ${carried.join(', ')}` : ''}`,
		};
		this.to('escalating', { runId: record.runId, planFile, detail: `a revised plan waits for a decision (${diff.summary})` });
		if (engine.events.active) engine.events.emit({ type: 'decision-requested', request });
		const answer = await prompter.decide(request, this.signal);
		if (engine.events.active) engine.events.emit({ type: 'decision-answered', runId: record.runId, id: request.id, answer });
		this.decisions.push({ request, answer });
		return answer;
	}

	private async save(planned: PlannedWorkflow, analysis: Analysis, extra: Partial<PlanMeta> = {}): Promise<SavedPlan> {
		const meta: PlanMeta = {
			goal: this.goal,
			createdAt: new Date().toISOString(),
			planner: planned.planner,
			...(planned.template ? { template: planned.template } : {}),
			...(planned.model ? { model: planned.model } : {}),
			analysis,
			...extra,
		};
		const saved = await savePlan(this.opts.engine.stateDir, planned.raw, meta, { schema: this.opts.schema, workspace: this.opts.engine.workspace });
		this.plans.push(saved);
		return saved;
	}

	private finish(analysis: Analysis, outcome: OrchestrationOutcome, message?: string, runId?: string): OrchestrationResult {
		const planFile = this.plans[this.plans.length - 1]?.file;
		this.to('completing', { outcome, planFile, runId, detail: message ?? outcome });
		return {
			id: this.id,
			goal: this.goal,
			outcome,
			...(message ? { message } : {}),
			analysis,
			plans: this.plans,
			runs: this.runs,
			replans: this.replans,
			decisions: this.decisions,
		};
	}

	private to(state: OrchestrationState, extra: Omit<OrchestrationEvent, 'type' | 'id' | 'goal' | 'state' | 'at'> = {}): void {
		this.current = state;
		const event: OrchestrationEvent = { type: 'orchestration', id: this.id, goal: this.goal, state, at: Date.now() };
		for (const [k, v] of Object.entries(extra)) if (v !== undefined) (event as unknown as Record<string, unknown>)[k] = v;
		try {
			this.opts.onEvent?.(event);
		} catch {
			// a broken listener must not stop the session
		}
	}
}

/** Orchestrates a goal from analysis to the end of its last run (see OrchestrationSession). */
export function orchestrate(goal: string, opts: OrchestrationOptions): Promise<OrchestrationResult> {
	return new OrchestrationSession(goal, opts).run();
}

/** A run's message (a failed command's output may follow it) on one line, for transitions and the session's message. */
function oneLine(text: string, max = 200): string {
	const line = text.replace(/\s*\n\s*/g, ' ').trim();
	return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function firstLine(text: string): string {
	const line = text.split('\n')[0];
	return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}
