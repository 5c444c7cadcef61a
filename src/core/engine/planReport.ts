// A plan as people read it (`qo plan`, the extension's Plan command): the DAG by level, the critical path, and what
// each step will touch, as text or JSON.
import type { ApprovalNeed } from './approval';
import { formatMetric } from './budget';
import { costOf, type ModelPrice } from '../services/llm/pricing';
import type { Plan, PlannedStep } from './plan';

/** Why a step will ask before it runs; the default knows only the step's own flag and the sandbox. */
export type ApprovalLookup = (step: PlannedStep) => ApprovalNeed | undefined;

/** A step's expected LLM use: tokens, and USD where the model's price is known. */
export interface UsageEstimate {
	model: string;
	tokens: number;
	costUsd?: number;
	/** The parameters are known only at run time: a rough default. */
	rough?: boolean;
}

/** What the engine knows beyond the plan itself: the escalation policy and the LLM's expected use. */
export interface PlanLookups {
	approvalOf?: ApprovalLookup;
	usageOf?: (step: PlannedStep) => UsageEstimate | undefined;
	/** Something a person should know before running the step (the agent it would get cannot work offline...). */
	noteOf?: (step: PlannedStep) => string | undefined;
}

/** Rough LLM use of steps whose parameters are known only at run time, or whose operation cannot tell, by type. */
const ROUGH_TOKENS: Record<string, number> = { llm: 1500, agent: 20_000 };

/** A step's expected LLM use, from its operation's estimate or, failing that, a rough figure for its type. */
export function estimateStepUsage(step: PlannedStep, defaultModel: string, prices?: Readonly<Record<string, ModelPrice>>): UsageEstimate | undefined {
	let est: ReturnType<NonNullable<PlannedStep['op']['estimateUsage']>>;
	if (!step.dynamic) {
		try {
			est = step.op.estimateUsage?.(step.staticParams as never);
		} catch {
			est = undefined;
		}
	}
	if (est) {
		const model = est.model ?? defaultModel;
		return { model, tokens: est.promptTokens + est.completionTokens, costUsd: costOf(model, est, prices) };
	}
	const rough = ROUGH_TOKENS[step.instruction.type];
	if (rough === undefined && !step.op.estimateUsage) return undefined;
	const tokens = rough ?? ROUGH_TOKENS.llm;
	const model = typeof step.instruction.parameters.model === 'string' ? step.instruction.parameters.model : defaultModel;
	// Assume a third of it is the answer, as a typical call is mostly prompt.
	const completionTokens = Math.round(tokens / 3);
	return { model, tokens, costUsd: costOf(model, { promptTokens: tokens - completionTokens, completionTokens }, prices), rough: true };
}

const ownApproval: ApprovalLookup = (s) => (s.approval ? { reason: s.approval } : undefined);

/** The projected LLM use of a plan's steps, summed. */
export function projectUsage(plan: Plan, usageOf: PlanLookups['usageOf']) {
	const steps: ({ id: string } & UsageEstimate)[] = [];
	for (const s of plan.steps) {
		const u = usageOf?.(s);
		if (u) steps.push({ id: s.instruction.id, ...u });
	}
	return {
		steps,
		tokens: steps.reduce((n, s) => n + s.tokens, 0),
		costUsd: steps.reduce((n, s) => n + (s.costUsd ?? 0), 0),
		unpriced: steps.filter((s) => s.costUsd === undefined).length,
		rough: steps.some((s) => s.rough),
	};
}

export function planJson(plan: Plan, lookups: PlanLookups = {}) {
	const approvalOf = lookups.approvalOf ?? ownApproval;
	const usage = projectUsage(plan, lookups.usageOf);
	return {
		workflow: plan.workflow.name,
		file: plan.workflow.file,
		settings: plan.settings,
		levels: plan.graph.levelCount,
		criticalPath: plan.graph.criticalPath,
		steps: plan.steps.map((s) => ({
			id: s.instruction.id,
			type: s.instruction.type,
			operation: s.instruction.operation,
			level: s.level,
			dependencies: s.instruction.dependencies,
			priority: s.instruction.priority,
			summary: s.summary,
			reads: s.touches.reads,
			writes: s.touches.writes,
			commands: s.touches.commands ?? [],
			approval: approvalOf(s)?.reason ?? null,
			note: lookups.noteOf?.(s) ?? null,
			runIf: s.instruction.run_if ?? 'success',
		})),
		projectedUsage: usage.steps.length ? usage : null,
		budget: plan.workflow.settings.budget ?? null,
	};
}

/** Levels with more steps than this are shortened in the text view. */
const PER_LEVEL = 50;

export function printPlan(plan: Plan, print: (line: string) => void, lookups: PlanLookups = {}): void {
	const approvalOf = lookups.approvalOf ?? ownApproval;
	const { graph, settings, workflow } = plan;
	print(`Plan for ${workflow.name}${workflow.file ? ` (${workflow.file})` : ''}`);
	print(`  ${plan.steps.length} steps in ${graph.levelCount} levels; ${settings.mode}, up to ${settings.concurrency} at once; on failure: ${settings.onFailure}`);
	print(`  critical path: ${graph.criticalPath.join(' → ') || '(empty)'}`);
	const byLevel: number[][] = [];
	for (const s of plan.steps) (byLevel[s.level] ??= []).push(s.index);
	const critical = new Set(graph.criticalPath);
	const writes = new Set<string>();
	const commands: string[] = [];
	const approvals: string[] = [];
	byLevel.forEach((indices, level) => {
		print('');
		print(`Level ${level} (${indices.length} step${indices.length === 1 ? '' : 's'})`);
		for (const i of indices.slice(0, PER_LEVEL)) {
			const s = plan.steps[i];
			const ins = s.instruction;
			const marks = [critical.has(ins.id) ? '*' : ' ', approvalOf(s) ? '!' : ' '].join('');
			const deps = ins.dependencies.length ? `  ← ${ins.dependencies.join(', ')}` : '';
			const cond = ins.run_if && ins.run_if !== 'success' ? `  [run_if ${ins.run_if}]` : '';
			// One line per step whatever a handler's summary holds (a prompt's line breaks).
			print(`  ${marks} ${ins.id}  ${ins.type}.${ins.operation}: ${s.summary.replace(/\s*\n\s*/g, ' ')}${deps}${cond}`);
		}
		if (indices.length > PER_LEVEL) print(`     … and ${indices.length - PER_LEVEL} more`);
	});
	for (const s of plan.steps) {
		for (const w of s.touches.writes) writes.add(w);
		for (const c of s.touches.commands ?? []) commands.push(`${s.instruction.id}: ${c}`);
		const need = approvalOf(s);
		if (need) approvals.push(`${s.instruction.id}: ${need.reason}${need.rule ? ` [rule ${need.rule}]` : ''}`);
	}
	print('');
	print(`Writes ${writes.size} path${writes.size === 1 ? '' : 's'}${writes.size ? `: ${[...writes].slice(0, 20).join(', ')}${writes.size > 20 ? ', …' : ''}` : ''}`);
	if (commands.length) {
		print(`Runs ${commands.length} command${commands.length === 1 ? '' : 's'}:`);
		for (const c of commands.slice(0, 20)) print(`  ${c}`);
		if (commands.length > 20) print(`  … and ${commands.length - 20} more`);
	}
	if (approvals.length) {
		print(`Needs approval (!):`);
		for (const a of approvals) print(`  ${a}`);
	}
	const notes = plan.steps.flatMap((s) => {
		const note = lookups.noteOf?.(s);
		return note ? [`${s.instruction.id}: ${note}`] : [];
	});
	if (notes.length) {
		print('Before you run it:');
		for (const n of notes) print(`  ${n}`);
	}
	const usage = projectUsage(plan, lookups.usageOf);
	if (usage.steps.length) {
		const models = [...new Set(usage.steps.map((s) => s.model))].join(', ');
		const cost = usage.unpriced === usage.steps.length ? 'cost unknown (no price for the model)' : `${usage.rough ? '~' : ''}${formatMetric('cost_usd', usage.costUsd)}${usage.unpriced ? ` + ${usage.unpriced} step(s) without a known price` : ''}`;
		print(`LLM use (projected): ${usage.rough ? '~' : ''}${formatMetric('tokens', usage.tokens)} in ${usage.steps.length} step${usage.steps.length === 1 ? '' : 's'}, ${cost} (${models})`);
	}
	const budget = plan.workflow.settings.budget;
	if (budget) {
		const parts = (['tokens', 'cost_usd', 'wall_ms'] as const).flatMap((m) => {
			const l = budget[m];
			if (!l) return [];
			return [`${m}: ${(['warn', 'pause', 'stop'] as const).filter((k) => l[k] !== undefined).map((k) => `${k} ${formatMetric(m, l[k] as number)}`).join(', ')}`];
		});
		print(`Budget: ${parts.join('; ')}`);
	}
	print('(* on the critical path)');
}
