// Token, cost and wall-time accounting for one run, per step and per agent, against the budgets' warn / pause / stop
// thresholds. An LLM call reserves its expected use first, so concurrent calls cannot overshoot a limit together.
import type { Budget, BudgetLimit } from '../workflow/schema';

export type BudgetMetric = 'tokens' | 'cost_usd' | 'wall_ms';
export type BudgetLevel = 'warn' | 'pause' | 'stop';
export type BudgetScope = 'run' | 'step' | 'agent';

export interface Spend {
	tokens: number;
	costUsd: number;
}

/** A threshold that use has reached (or a reservation would reach). */
export interface BudgetCrossing {
	scope: BudgetScope;
	/** The step id or agent name; the run's id for the run. */
	name: string;
	metric: BudgetMetric;
	level: BudgetLevel;
	/** Use including what is asked for (a reservation). */
	value: number;
	limit: number;
	/** One line: "run tokens would reach 12,400 of the 12,000 pause threshold". */
	message: string;
}

export interface UsageTotals {
	promptTokens: number;
	completionTokens: number;
	/** USD, summed over calls whose model price is known. */
	costUsd: number;
	/** Calls whose model had no known price (their tokens are counted, their cost is not). */
	unpricedCalls: number;
	calls: number;
}

export function emptyTotals(): UsageTotals {
	return { promptTokens: 0, completionTokens: 0, costUsd: 0, unpricedCalls: 0, calls: 0 };
}

const LEVELS: readonly BudgetLevel[] = ['stop', 'pause', 'warn'];
const METRICS: readonly BudgetMetric[] = ['tokens', 'cost_usd', 'wall_ms'];

interface Account {
	totals: UsageTotals;
	reserved: Spend;
	/** Pause thresholds a person approved going past, by metric. */
	passed: Set<BudgetMetric>;
	/** Thresholds already reported, "metric:level". */
	reported: Set<string>;
}

function newAccount(): Account {
	return { totals: emptyTotals(), reserved: { tokens: 0, costUsd: 0 }, passed: new Set(), reported: new Set() };
}

export interface LedgerOptions {
	runId: string;
	run?: Budget;
	/** By agent name; "*" for every agent without its own. */
	agents?: Record<string, Budget>;
	/** Each step's own budget, by id. */
	step?: (stepId: string) => Budget | undefined;
	now: () => number;
	startedAt: number;
}

/** Where a call's use goes: always the run, the step, and the agent working the step if there is one. */
export interface UsageTarget {
	stepId: string;
	agent?: string;
}

export class BudgetLedger {
	private readonly run = newAccount();
	private readonly steps = new Map<string, Account>();
	private readonly agents = new Map<string, Account>();
	private readonly reservations = new Map<number, { target: UsageTarget; spend: Spend }>();
	private nextReservation = 1;
	private waiters: (() => void)[] = [];

	constructor(private readonly opts: LedgerOptions) {}

	/** Whether any budget is set at all (if not, checks are skipped). */
	get active(): boolean {
		return this.opts.run !== undefined || this.opts.agents !== undefined || this.opts.step !== undefined;
	}

	/** Whether the run's budget limits wall time (checked on a timer, not only when steps start). */
	get limitsRunWallTime(): boolean {
		return this.opts.run?.wall_ms !== undefined;
	}

	totals(): UsageTotals {
		return { ...this.run.totals };
	}

	stepTotals(stepId: string): UsageTotals | undefined {
		const a = this.steps.get(stepId);
		return a ? { ...a.totals } : undefined;
	}

	agentTotals(): Record<string, UsageTotals> {
		return Object.fromEntries([...this.agents].map(([name, a]) => [name, { ...a.totals }]));
	}

	/**
	 * The most severe threshold that use plus `extra` (and every open reservation) would reach for this target:
	 * stop before pause before warn. Pauses a person already approved passing are not asked again.
	 */
	check(target: UsageTarget, extra: Spend = { tokens: 0, costUsd: 0 }, withReservations = true): BudgetCrossing | undefined {
		let worst: BudgetCrossing | undefined;
		for (const c of this.crossings(target, extra, withReservations)) if (!worst || LEVELS.indexOf(c.level) < LEVELS.indexOf(worst.level)) worst = c;
		return worst;
	}

	/** Holds `spend` against the target until release(); returns the reservation's handle. */
	reserve(target: UsageTarget, spend: Spend): number {
		const handle = this.nextReservation++;
		this.reservations.set(handle, { target, spend });
		for (const a of this.accountsOf(target)) {
			a.reserved.tokens += spend.tokens;
			a.reserved.costUsd += spend.costUsd;
		}
		return handle;
	}

	release(handle: number): void {
		const r = this.reservations.get(handle);
		if (!r) return;
		this.reservations.delete(handle);
		for (const a of this.accountsOf(r.target)) {
			a.reserved.tokens -= r.spend.tokens;
			a.reserved.costUsd -= r.spend.costUsd;
		}
		const waiters = this.waiters;
		this.waiters = [];
		for (const w of waiters) w();
	}

	/** Counts a call's use; returns the warn thresholds it crossed for the first time (to report once). */
	record(target: UsageTarget, promptTokens: number, completionTokens: number, costUsd: number | undefined): BudgetCrossing[] {
		for (const a of this.accountsOf(target)) {
			a.totals.promptTokens += promptTokens;
			a.totals.completionTokens += completionTokens;
			a.totals.calls++;
			if (costUsd === undefined) a.totals.unpricedCalls++;
			else a.totals.costUsd += costUsd;
		}
		return this.newlyReported(target, 'warn');
	}

	/** After a person approved going past a pause threshold: do not ask again for that metric and scope. */
	passPause(crossing: BudgetCrossing): void {
		this.accountOf(crossing.scope, crossing.name)?.passed.add(crossing.metric);
	}

	/** Thresholds of `level` (and, for 'warn', none worse) reached now, each reported only once. */
	newlyReported(target: UsageTarget, level: BudgetLevel): BudgetCrossing[] {
		const fresh: BudgetCrossing[] = [];
		for (const c of this.crossings(target, { tokens: 0, costUsd: 0 })) {
			if (c.level !== level) continue;
			const account = this.accountOf(c.scope, c.name);
			const key = `${c.metric}:${c.level}`;
			if (!account || account.reported.has(key)) continue;
			account.reported.add(key);
			fresh.push(c);
		}
		return fresh;
	}

	/** Resolves when some reservation is released (its call answered or failed). */
	released(): Promise<void> {
		return new Promise((resolve) => this.waiters.push(resolve));
	}

	/** Whether calls are in flight. */
	get reserving(): boolean {
		return this.reservations.size > 0;
	}

	private crossings(target: UsageTarget, extra: Spend, withReservations = true): BudgetCrossing[] {
		const out: BudgetCrossing[] = [];
		const scopes: [BudgetScope, string, Budget | undefined, Account][] = [['run', this.opts.runId, this.opts.run, this.run]];
		const stepBudget = this.opts.step?.(target.stepId);
		if (stepBudget) scopes.push(['step', target.stepId, stepBudget, this.account(this.steps, target.stepId)]);
		if (target.agent) {
			const agentBudget = this.opts.agents?.[target.agent] ?? this.opts.agents?.['*'];
			if (agentBudget) scopes.push(['agent', target.agent, agentBudget, this.account(this.agents, target.agent)]);
		}
		for (const [scope, name, budget, account] of scopes) {
			if (!budget) continue;
			for (const metric of METRICS) {
				const limit = budget[metric];
				if (!limit) continue;
				const value = this.valueOf(account, metric, extra, scope === 'run' ? this.opts.startedAt : undefined, withReservations);
				if (value === undefined) continue;
				const hit = reached(limit, value, account.passed.has(metric));
				if (hit) out.push({ scope, name, metric, level: hit.level, value, limit: hit.limit, message: describeCrossing(scope, name, metric, hit.level, value, hit.limit, extra) });
			}
		}
		return out;
	}

	private valueOf(a: Account, metric: BudgetMetric, extra: Spend, startedAt: number | undefined, withReservations: boolean): number | undefined {
		if (metric === 'wall_ms') return startedAt === undefined ? undefined : this.opts.now() - startedAt;
		const r = withReservations ? a.reserved : { tokens: 0, costUsd: 0 };
		if (metric === 'tokens') return a.totals.promptTokens + a.totals.completionTokens + r.tokens + extra.tokens;
		return a.totals.costUsd + r.costUsd + extra.costUsd;
	}

	private accountsOf(target: UsageTarget): Account[] {
		const accounts = [this.run, this.account(this.steps, target.stepId)];
		if (target.agent) accounts.push(this.account(this.agents, target.agent));
		return accounts;
	}

	private accountOf(scope: BudgetScope, name: string): Account | undefined {
		if (scope === 'run') return this.run;
		return (scope === 'step' ? this.steps : this.agents).get(name);
	}

	private account(map: Map<string, Account>, key: string): Account {
		let a = map.get(key);
		if (!a) map.set(key, (a = newAccount()));
		return a;
	}
}

/** The most severe threshold `value` reaches; a pause already passed counts only once use reaches stop. */
function reached(limit: BudgetLimit, value: number, pausePassed: boolean): { level: BudgetLevel; limit: number } | undefined {
	if (limit.stop !== undefined && value >= limit.stop) return { level: 'stop', limit: limit.stop };
	if (limit.pause !== undefined && value >= limit.pause && !pausePassed) return { level: 'pause', limit: limit.pause };
	if (limit.warn !== undefined && value >= limit.warn) return { level: 'warn', limit: limit.warn };
	return undefined;
}

export function formatMetric(metric: BudgetMetric, value: number): string {
	if (metric === 'cost_usd') return `$${value < 1 ? value.toFixed(4) : value.toFixed(2)}`;
	if (metric === 'wall_ms') return `${(value / 1000).toFixed(value < 10_000 ? 1 : 0)} s`;
	return `${Math.round(value).toLocaleString('en-US')} tokens`;
}

function describeCrossing(scope: BudgetScope, name: string, metric: BudgetMetric, level: BudgetLevel, value: number, limit: number, extra: Spend): string {
	const who = scope === 'run' ? 'the run' : scope === 'step' ? `step ${name}` : `agent ${name}`;
	const what = metric === 'tokens' ? 'token use' : metric === 'cost_usd' ? 'cost' : 'wall time';
	const pending = extra.tokens > 0 || extra.costUsd > 0;
	return `${who}: ${what} ${pending ? 'would reach' : 'reached'} ${formatMetric(metric, value)}, ${level} threshold ${formatMetric(metric, limit)}`;
}

/** A run's LLM use in words: totals, then one line per agent. */
export function describeUsage(u: UsageTotals & { agents?: Record<string, { promptTokens: number; completionTokens: number; costUsd: number; calls: number }> }): string[] {
	const cost = (usd: number, unpriced: number) => (unpriced === u.calls && usd === 0 ? 'cost unknown (no price for the model)' : `${formatMetric('cost_usd', usd)}${unpriced ? ` (+${unpriced} unpriced call${unpriced === 1 ? '' : 's'})` : ''}`);
	const lines = [
		`LLM: ${formatMetric('tokens', u.promptTokens + u.completionTokens)} (${u.promptTokens.toLocaleString('en-US')} prompt + ${u.completionTokens.toLocaleString('en-US')} completion) in ${u.calls} call${u.calls === 1 ? '' : 's'}, ${cost(u.costUsd, u.unpricedCalls)}`,
	];
	for (const [name, a] of Object.entries(u.agents ?? {})) {
		lines.push(`  ${name}: ${formatMetric('tokens', a.promptTokens + a.completionTokens)} in ${a.calls} call${a.calls === 1 ? '' : 's'}, ${formatMetric('cost_usd', a.costUsd)}`);
	}
	return lines;
}
