// A run's budgets at work: every LLM call is gated (pause → a decision in the queue, stop → the run stops) and
// reserves its expected use; use is recorded once per response, journaled and announced; wall time is watched.
import { StepError } from '../errors';
import type { StepDecision } from '../handlers/types';
import type { DecisionAnswer } from '../ports';
import type { LlmClient, LlmRequest, LlmUsage } from '../services/llm/client';
import { requestMessages } from '../services/llm/messages';
import { costOf, DEFAULT_COMPLETION_TOKENS, estimateTokens } from '../services/llm/pricing';
import type { Budget, Instruction } from '../workflow/schema';
import { BudgetLedger, formatMetric, type BudgetCrossing, type Spend, type UsageTarget } from './budget';
import type { RunUsage } from './events';
import type { RunJournal, RunServices } from './runTypes';

/** How often wall-time budgets are looked at. */
const WALL_CHECK_MS = 1000;

export interface BudgetHost {
	readonly runId: string;
	readonly services: RunServices;
	readonly journal: RunJournal;
	decideInStep(step: Instruction, attempt: number, request: StepDecision, signal: AbortSignal): Promise<DecisionAnswer>;
	/** Stops the whole run with this message (the run ends failed). */
	stopRun(message: string): void;
}

/** A running step watched for its own wall-time budget. */
interface Watched {
	step: Instruction;
	attempt: number;
	started: number;
	abort: (reason: StepError) => void;
	signal: AbortSignal;
}

/** Expected use of a request: its text at ~4 characters a token, plus max_tokens (or a default) for the answer. */
export function estimateRequest(request: LlmRequest, model: string, prices: RunServices['prices']): Spend {
	const text = requestMessages(request).map((m) => m.content).join('') + JSON.stringify(request.tools ?? []);
	const promptTokens = estimateTokens(text);
	const completionTokens = request.maxTokens ?? DEFAULT_COMPLETION_TOKENS;
	return { tokens: promptTokens + completionTokens, costUsd: costOf(model, { promptTokens, completionTokens }, prices) ?? 0 };
}

function abortable(promise: Promise<void>, signal: AbortSignal): Promise<void> {
	if (signal.aborted) return Promise.reject(signal.reason);
	return new Promise((resolve, reject) => {
		const onAbort = () => reject(signal.reason);
		signal.addEventListener('abort', onAbort, { once: true });
		promise.then(() => {
			signal.removeEventListener('abort', onAbort);
			resolve();
		});
	});
}

export class RunBudget {
	readonly ledger: BudgetLedger;
	/** Pause decisions being asked, by threshold, so steps reaching the same one wait for one answer. */
	private readonly asking = new Map<string, Promise<void>>();
	private readonly recorded = new WeakSet<LlmUsage>();
	private readonly watched = new Set<Watched>();
	private readonly agents = new Map<string, string>();
	private readonly stepBudgets: Map<string, Budget>;
	/** Steps whose own wall-time pause a person approved going past, and those already warned about. */
	private readonly passedSteps = new Set<string>();
	private readonly warnedSteps = new Set<string>();
	private timer: NodeJS.Timeout | undefined;

	constructor(
		private readonly host: BudgetHost,
		settings: { budget?: Budget; agent_budgets?: Record<string, Budget> },
		steps: readonly Instruction[],
		startedAt: number,
	) {
		this.stepBudgets = new Map(steps.filter((s) => s.budget).map((s) => [s.id, s.budget as Budget]));
		this.ledger = new BudgetLedger({
			runId: host.runId,
			run: settings.budget,
			agents: settings.agent_budgets,
			step: this.stepBudgets.size ? (id) => this.stepBudgets.get(id) : undefined,
			now: () => host.services.clock.now(),
			startedAt,
		});
	}

	/** Whether the run has a wall-time budget, so every step start must be checked. */
	get watchesStarts(): boolean {
		return this.ledger.active;
	}

	/** The agent a step's work is now attributed to. */
	setAgent(stepId: string, agent: string): void {
		this.agents.set(stepId, agent);
	}

	agentOf(stepId: string): string | undefined {
		return this.agents.get(stepId);
	}

	/**
	 * Before a step starts or an LLM call is made: a stop threshold stops the run (and throws), a pause threshold
	 * asks the person (once per threshold, however many steps reach it); warnings are reported once.
	 */
	async gate(step: Instruction, attempt: number, extra: Spend, signal: AbortSignal): Promise<void> {
		if (!this.ledger.active) return;
		const target = this.targetOf(step.id);
		for (;;) {
			const crossing = this.ledger.check(target, extra);
			if (!crossing) return;
			// Over only because of calls still in flight: wait for their real use instead of stopping or asking now.
			if (crossing.level !== 'warn' && this.ledger.reserving && this.ledger.check(target, extra, false)?.level !== crossing.level) {
				await abortable(this.ledger.released(), signal);
				continue;
			}
			if (crossing.level === 'warn') {
				this.report(step.id, this.ledger.newlyReported(target, 'warn'));
				return;
			}
			if (crossing.level === 'stop') {
				this.report(step.id, [crossing]);
				const message = `budget: ${crossing.message}`;
				this.host.stopRun(message);
				throw new StepError('budget', message);
			}
			await this.askToPass(step, attempt, crossing, signal);
		}
	}

	/** An LLM client for one step attempt: gated and reserving before each call, recording each response's use. */
	wrap(llm: LlmClient, step: Instruction, attempt: number, signal: AbortSignal): LlmClient {
		return {
			model: llm.model,
			modelFor: llm.modelFor?.bind(llm),
			complete: async (request, callSignal, onText) => {
				const model = request.model ?? llm.model;
				const estimate = estimateRequest(request, model, this.host.services.prices);
				await this.gate(step, attempt, estimate, signal);
				const handle = this.ledger.reserve(this.targetOf(step.id), estimate);
				try {
					const response = await llm.complete(request, callSignal, onText);
					this.record(step.id, response.model, response.usage);
					return response;
				} finally {
					this.ledger.release(handle);
				}
			},
		};
	}

	/** Counts a response's use once (a handler reporting the same response again changes nothing). */
	record(stepId: string, model: string, usage: LlmUsage): void {
		if (this.recorded.has(usage)) return;
		this.recorded.add(usage);
		const agent = this.agents.get(stepId);
		const costUsd = costOf(model, usage, this.host.services.prices);
		this.host.journal.append({ t: 'usage', id: stepId, model, prompt: usage.promptTokens, completion: usage.completionTokens, cost: costUsd, ...(agent ? { agent } : {}) });
		const events = this.host.services.events;
		if (events.active) {
			events.emit({ type: 'usage', runId: this.host.runId, id: stepId, model, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, costUsd });
		}
		this.report(stepId, this.ledger.record(this.targetOf(stepId), usage.promptTokens, usage.completionTokens, costUsd));
	}

	/** The run's LLM use, or undefined when it made no calls. */
	usage(): RunUsage | undefined {
		const t = this.ledger.totals();
		if (t.calls === 0) return undefined;
		const agents = this.ledger.agentTotals();
		return {
			...t,
			...(Object.keys(agents).length
				? { agents: Object.fromEntries(Object.entries(agents).map(([n, a]) => [n, { promptTokens: a.promptTokens, completionTokens: a.completionTokens, costUsd: a.costUsd, calls: a.calls }])) }
				: {}),
		};
	}

	/** Watches a step attempt against its own wall-time budget until the returned function is called. */
	watch(step: Instruction, attempt: number, signal: AbortSignal, abort: (reason: StepError) => void): () => void {
		if (!step.budget?.wall_ms) return () => undefined;
		const w: Watched = { step, attempt, started: this.host.services.clock.now(), abort, signal };
		this.watched.add(w);
		return () => this.watched.delete(w);
	}

	/** Starts the wall-time checks (run and running steps) when any budget limits wall time. */
	start(): void {
		if (!this.ledger.limitsRunWallTime && ![...this.stepBudgets.values()].some((b) => b.wall_ms)) return;
		this.timer = setInterval(() => this.checkWall(), WALL_CHECK_MS);
		this.timer.unref();
	}

	stop(): void {
		clearInterval(this.timer);
	}

	private checkWall(): void {
		const now = this.host.services.clock.now();
		const run = this.ledger.check({ stepId: '' });
		if (run?.metric === 'wall_ms') {
			if (run.level === 'stop') {
				this.report(undefined, [run]);
				this.host.stopRun(`budget: ${run.message}`);
			} else if (run.level === 'warn') this.report(undefined, this.ledger.newlyReported({ stepId: '' }, 'warn'));
		}
		for (const w of this.watched) {
			const limit = w.step.budget?.wall_ms;
			if (!limit || w.signal.aborted) continue;
			const elapsed = now - w.started;
			const key = `step:${w.step.id}:wall_ms`;
			const crossing = (level: 'warn' | 'pause' | 'stop', at: number): BudgetCrossing => ({
				scope: 'step',
				name: w.step.id,
				metric: 'wall_ms',
				level,
				value: elapsed,
				limit: at,
				message: `step ${w.step.id}: wall time reached ${formatMetric('wall_ms', elapsed)}, ${level} threshold ${formatMetric('wall_ms', at)}`,
			});
			if (limit.stop !== undefined && elapsed >= limit.stop) {
				const c = crossing('stop', limit.stop);
				this.report(w.step.id, [c]);
				w.abort(new StepError('budget', `budget: ${c.message}`));
			} else if (limit.pause !== undefined && elapsed >= limit.pause && !this.asking.has(key) && !this.passedSteps.has(w.step.id)) {
				const c = crossing('pause', limit.pause);
				const asked = this.ask(w.step, w.attempt, c, w.signal).then(
					() => void this.passedSteps.add(w.step.id),
					(err: unknown) => w.abort(StepError.is(err) ? err : new StepError('rejected', String(err))),
				);
				this.asking.set(key, asked);
			} else if (limit.warn !== undefined && elapsed >= limit.warn && !this.warnedSteps.has(w.step.id)) {
				this.warnedSteps.add(w.step.id);
				this.report(w.step.id, [crossing('warn', limit.warn)]);
			}
		}
	}

	private askToPass(step: Instruction, attempt: number, crossing: BudgetCrossing, signal: AbortSignal): Promise<void> {
		const key = `${crossing.scope}:${crossing.name}:${crossing.metric}`;
		let asked = this.asking.get(key);
		if (!asked) {
			asked = this.ask(step, attempt, crossing, signal).then(() => this.ledger.passPause(crossing));
			this.asking.set(key, asked);
			const forget = () => this.asking.delete(key);
			asked.then(forget, forget);
		}
		return asked;
	}

	private async ask(step: Instruction, attempt: number, crossing: BudgetCrossing, signal: AbortSignal): Promise<void> {
		this.report(step.id, [crossing]);
		const t = this.ledger.totals();
		const details = [
			crossing.message,
			`run so far: ${formatMetric('tokens', t.promptTokens + t.completionTokens)} in ${t.calls} call${t.calls === 1 ? '' : 's'}, ${formatMetric('cost_usd', t.costUsd)}${t.unpricedCalls ? ` (+${t.unpricedCalls} calls to models without a known price)` : ''}`,
			'Approve to go past this pause threshold (the stop threshold still applies); reject to stop this step.',
		].join('\n');
		await this.host.decideInStep(
			step,
			attempt,
			{ kind: 'budget', reason: crossing.message, summary: `continue past the ${crossing.metric.replace('_', ' ')} pause threshold`, details, rule: undefined },
			signal,
		);
	}

	private report(stepId: string | undefined, crossings: BudgetCrossing[]): void {
		const { events, logger } = this.host.services;
		for (const c of crossings) {
			logger.log(c.level === 'warn' ? 'warn' : 'info', 'budget', c.message);
			if (events.active) events.emit({ type: 'budget', runId: this.host.runId, ...(stepId ? { id: stepId } : {}), ...c });
		}
	}

	private targetOf(stepId: string): UsageTarget {
		const agent = this.agents.get(stepId);
		return agent ? { stepId, agent } : { stepId };
	}
}
