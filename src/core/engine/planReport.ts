// A plan as people read it (`qo plan`, the extension's Plan command): the DAG by level, the critical path, and what
// each step will touch, as text or JSON.
import type { ApprovalNeed } from './approval';
import type { Plan, PlannedStep } from './plan';

/** Why a step will ask before it runs; the default knows only the step's own flag and the sandbox. */
export type ApprovalLookup = (step: PlannedStep) => ApprovalNeed | undefined;

const ownApproval: ApprovalLookup = (s) => (s.approval ? { reason: s.approval } : undefined);

export function planJson(plan: Plan, approvalOf: ApprovalLookup = ownApproval) {
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
			runIf: s.instruction.run_if ?? 'success',
		})),
	};
}

/** Levels with more steps than this are shortened in the text view. */
const PER_LEVEL = 50;

export function printPlan(plan: Plan, print: (line: string) => void, approvalOf: ApprovalLookup = ownApproval): void {
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
	print('(* on the critical path)');
}
