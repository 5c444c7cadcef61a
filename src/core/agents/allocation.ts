// Allocation: which agent takes a task, by the documented score (capability 40%, load 30%, performance 20%,
// specialisation 10%), with every candidate's parts kept so the tree and the board can say why.
import { AgentError } from '../errors';
import { normaliseCapability } from './definition';
import type { LearningStore, PerformanceStats } from './learning';
import { unknownAgentError, type AgentRegistry } from './registry';

export const ALLOCATION_WEIGHTS = Object.freeze({ capability: 0.4, load: 0.3, performance: 0.2, specialisation: 0.1 });

/** Within performance: how much is the (smoothed) success rate, the rest being relative speed. */
export const SUCCESS_SHARE = 0.8;

export interface AllocationTask {
	/** Required capabilities; none means any agent can take it (capability 1 for all). */
	capabilities: readonly string[];
	/** Manual assignment: this agent, whatever the scores. */
	agent?: string;
	/** The step type: filters agents that declare `step_types`, and selects the learned performance. */
	stepType?: string;
}

/** What allocation needs to know of one agent. */
export interface AgentSnapshot {
	name: string;
	capabilities: readonly string[];
	/** Empty or absent: any step type. */
	step_types?: readonly string[];
	max: number;
	running: number;
	performance?: PerformanceStats;
}

/** Each in [0, 1]. */
export interface ScoreParts {
	capability: number;
	load: number;
	performance: number;
	specialisation: number;
}

export interface AllocationCandidate {
	agent: string;
	score: number;
	parts: ScoreParts;
	/** The score as one line: "coder: capability 1.00 ×0.4 + … = 0.85". */
	reason: string;
	/** Has at least one required capability and may take this step type. */
	capable: boolean;
	full: boolean;
	/** Required capabilities the agent lacks. */
	missing: string[];
	/** Why it was passed over (absent for the chosen one). */
	skipped?: string;
}

export interface Allocation {
	agent: string;
	score: number;
	parts: ScoreParts;
	/** One human line: the score's parts, and why this agent when it was not simply the best. */
	reason: string;
	manual: boolean;
	/** Every agent considered, best first (score, then name). */
	candidates: AllocationCandidate[];
}

/** The weighted sum of the parts, in [0, 1]. */
export function scoreOf(parts: ScoreParts): number {
	const w = ALLOCATION_WEIGHTS;
	const s = w.capability * parts.capability + w.load * parts.load + w.performance * parts.performance + w.specialisation * parts.specialisation;
	// Rounded far below what is shown, so 0.4 + 0.3 + 0.2 + 0.1 is 1 and equal parts give exactly equal scores.
	return Math.min(1, Math.max(0, Math.round(s * 1e12) / 1e12));
}

export function describeScore(agent: string, parts: ScoreParts, score = scoreOf(parts)): string {
	const w = ALLOCATION_WEIGHTS;
	const f = (n: number) => n.toFixed(2);
	return (
		`${agent}: capability ${f(parts.capability)} ×${w.capability} + load ${f(parts.load)} ×${w.load} + ` +
		`performance ${f(parts.performance)} ×${w.performance} + specialisation ${f(parts.specialisation)} ×${w.specialisation} = ${f(score)}`
	);
}

/** Success rate with Laplace smoothing: no history is 0.5, one success 0.67, one failure 0.33. */
export function smoothedSuccess(p: PerformanceStats | undefined): number {
	return ((p?.successes ?? 0) + 1) / ((p?.tasks ?? 0) + 2);
}

/**
 * Picks the agent for `task` among `agents`. Throws AgentError 'unknown-agent' for a manual agent that does not
 * exist, and 'no-capable-agent' when no agent has any required capability (or may take the step type).
 */
export function allocate(task: AllocationTask, agents: readonly AgentSnapshot[]): Allocation {
	const required = [...new Set(task.capabilities.map(normaliseCapability))];
	const manual = task.agent !== undefined ? agents.find((a) => a.name === task.agent) : undefined;
	if (task.agent !== undefined && !manual) throw unknownAgentError(task.agent, agents.map((a) => a.name).sort());

	const base = agents.map((a) => {
		const has = new Set(a.capabilities.map(normaliseCapability));
		const matched = required.filter((c) => has.has(c));
		const typeAllowed = !task.stepType || !a.step_types?.length || a.step_types.includes(task.stepType);
		return {
			a,
			matched,
			missing: required.filter((c) => !has.has(c)),
			capable: (required.length === 0 || matched.length > 0) && typeAllowed,
			typeAllowed,
			total: has.size,
		};
	});
	// Speed is relative to the agents actually competing (and the assigned one).
	const pool = base.filter((b) => b.capable || b.a === manual);
	const known = pool.map((b) => b.a.performance?.meanMs).filter((m): m is number => m !== undefined && m > 0);
	const fastest = known.length ? Math.min(...known) : undefined;

	const candidates: AllocationCandidate[] = base.map((b) => {
		const parts: ScoreParts = {
			capability: required.length === 0 ? 1 : b.matched.length / required.length,
			load: b.a.max > 0 ? clamp01(1 - b.a.running / b.a.max) : 0,
			performance: performancePart(b.a.performance, fastest),
			specialisation: b.total > 0 && required.length > 0 ? b.matched.length / b.total : 0,
		};
		const score = scoreOf(parts);
		return {
			agent: b.a.name,
			score,
			parts,
			reason: describeScore(b.a.name, parts, score),
			capable: b.capable,
			full: b.a.running >= b.a.max,
			missing: b.missing,
			...(b.capable ? {} : { skipped: b.typeAllowed ? 'has none of the required capabilities' : `does not take ${task.stepType} steps` }),
		};
	});
	candidates.sort(byScoreThenName);

	if (manual) {
		const chosen = candidates.find((c) => c.agent === manual.name)!;
		const notes = ['assigned by the step'];
		if (chosen.missing.length) notes.push(`it lacks ${chosen.missing.join(', ')}`);
		if (!base.find((b) => b.a === manual)!.typeAllowed) notes.push(`it does not list ${task.stepType} in its step types`);
		if (chosen.full) notes.push(`it is at its limit (${manual.running}/${manual.max}): the task waits for a slot`);
		markSkipped(candidates, chosen, 'not assigned by the step');
		return result(chosen, `${notes.join('; ')} — ${chosen.reason}`, true, candidates);
	}

	const capable = candidates.filter((c) => c.capable);
	if (capable.length === 0) throw noCapableAgentError(required, task.stepType, agents);
	const free = capable.filter((c) => !c.full);
	if (free.length) {
		const chosen = free[0];
		for (const c of capable) if (c !== chosen && c.full) c.skipped = `at its limit (${runningOf(agents, c.agent)})`;
		markSkipped(candidates, chosen, 'lower score');
		return result(chosen, chosen.reason, false, candidates);
	}
	// Everyone is busy: queue on the agent that frees up soonest, as far as load tells.
	const ratio = (c: AllocationCandidate) => {
		const a = agents.find((x) => x.name === c.agent)!;
		return a.max > 0 ? a.running / a.max : Infinity;
	};
	const chosen = [...capable].sort((x, y) => ratio(x) - ratio(y) || byScoreThenName(x, y))[0];
	markSkipped(candidates, chosen, 'more loaded');
	return result(chosen, `every capable agent is at its limit, so the least loaded (${runningOf(agents, chosen.agent)}) — ${chosen.reason}`, false, candidates);
}

function performancePart(p: PerformanceStats | undefined, fastest: number | undefined): number {
	const n = p?.tasks ?? 0;
	// Relative speed, shrunk towards neutral like the success rate: one lucky fast task is not a track record.
	const relative = fastest !== undefined && p?.meanMs !== undefined && p.meanMs > 0 ? fastest / p.meanMs : 0.5;
	const speed = (relative * n + 1) / (n + 2);
	return clamp01(SUCCESS_SHARE * smoothedSuccess(p) + (1 - SUCCESS_SHARE) * speed);
}

function clamp01(n: number): number {
	return Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : 0;
}

/** Higher score first; equal scores (within rounding) by name, so the same inputs always give the same agent. */
function byScoreThenName(a: AllocationCandidate, b: AllocationCandidate): number {
	if (Math.abs(a.score - b.score) > 1e-9) return b.score - a.score;
	return a.agent < b.agent ? -1 : a.agent > b.agent ? 1 : 0;
}

function markSkipped(candidates: AllocationCandidate[], chosen: AllocationCandidate, why: string): void {
	delete chosen.skipped;
	for (const c of candidates) if (c !== chosen && c.skipped === undefined) c.skipped = why;
}

function runningOf(agents: readonly AgentSnapshot[], name: string): string {
	const a = agents.find((x) => x.name === name)!;
	return `${a.running}/${a.max} running`;
}

function result(chosen: AllocationCandidate, reason: string, manual: boolean, candidates: AllocationCandidate[]): Allocation {
	return { agent: chosen.agent, score: chosen.score, parts: chosen.parts, reason, manual, candidates };
}

function noCapableAgentError(required: string[], stepType: string | undefined, agents: readonly AgentSnapshot[]): AgentError {
	if (agents.length === 0) return new AgentError('no-capable-agent', 'no agents are registered');
	const list = agents.map((a) => `${a.name} [${a.capabilities.join(', ')}]`).join(', ');
	const what = required.length ? `has any of the capabilities ${required.join(', ')}` : 'can take the task';
	const type = stepType ? ` and takes ${stepType} steps` : '';
	return new AgentError(
		'no-capable-agent',
		`no agent ${what}${type}; agents: ${list}. Add an agent in .quantum/agents/ or assign one with "agent"`,
	);
}

/** The registry's agents as allocation sees them; performance from the learning store when given, else this session. */
export function snapshotAgents(registry: AgentRegistry, opts: { stepType?: string; learning?: LearningStore } = {}): AgentSnapshot[] {
	const learning = opts.learning ?? registry.learning;
	return registry.list().map(({ definition: d }) => {
		const w = registry.workload(d.name);
		let performance: PerformanceStats | undefined;
		if (learning) {
			// The step type's own record once it has one; until then the agent's record over all step types.
			const own = opts.stepType !== undefined ? learning.stats(d.name, opts.stepType) : undefined;
			performance = own && own.tasks > 0 ? own : learning.stats(d.name);
		} else {
			const m = registry.metrics(d.name);
			performance = { tasks: m.tasks, successes: m.successes, ...(m.meanDurationMs !== undefined ? { meanMs: m.meanDurationMs } : {}) };
		}
		return {
			name: d.name,
			capabilities: d.capabilities,
			step_types: d.step_types,
			max: w.max,
			running: w.running,
			...(performance ? { performance } : {}),
		};
	});
}

/** allocate() over the registry's current agents and load. */
export function allocateFromRegistry(registry: AgentRegistry, task: AllocationTask, opts: { learning?: LearningStore } = {}): Allocation {
	return allocate(task, snapshotAgents(registry, { ...opts, ...(task.stepType !== undefined ? { stepType: task.stepType } : {}) }));
}
