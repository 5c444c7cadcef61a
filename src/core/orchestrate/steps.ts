// Building blocks of template plans: the project's checks, tasks for agents (or the model, until agents exist),
// reading and locating files. Every step is an ordinary instruction the workflow validator checks.
import type { HandlerRegistry } from '../handlers/registry';
import type { RawInstruction } from '../workflow/schema';
import type { CheckKind, WorkspaceFacts } from './types';
import { goalKeywords } from './workspaceFacts';

export type Step = RawInstruction & { id: string };

/** Who a task is for: the capabilities an `agent` step asks for (the allocation score matches agents on them). */
export const ROLES = {
	coder: { capabilities: ['code'], system: 'You are a careful software engineer. Change the code to do what is asked; keep the change small.' },
	tester: { capabilities: ['test'], system: 'You write focused, deterministic automated tests in the style the project already uses.' },
	reviewer: { capabilities: ['review'], system: 'You review changes and code: list concrete findings with file and line, most serious first.' },
	writer: { capabilities: ['docs'], system: 'You write clear, accurate documentation for developers, in the style the project already uses.' },
	releaser: { capabilities: ['deploy'], system: 'You carry out releases and deploys carefully, step by step, stopping at anything unexpected.' },
} as const;
export type Role = keyof typeof ROLES;

export interface StepContext {
	registry: HandlerRegistry;
	facts: WorkspaceFacts;
	/** Ids handed out so far: every step id is unique. */
	ids: Set<string>;
}

const CHECK_LABEL: Record<CheckKind, string> = { lint: 'lint', typecheck: 'type check', build: 'build', test: 'tests' };

/** `${` in text that must stay literal (a goal, a recorded output) written as `$${`. */
export function escapeTemplates<T>(value: T): T {
	// A function replacement: in a replacement string `$$` would mean one `$`.
	if (typeof value === 'string') return value.replaceAll('${', () => '$${') as T;
	if (Array.isArray(value)) return value.map(escapeTemplates) as T;
	if (typeof value === 'object' && value !== null) {
		const out: Record<string, unknown> = {};
		for (const [k, v] of Object.entries(value)) out[k] = escapeTemplates(v);
		return out as T;
	}
	return value;
}

/** A unique step id from a wish: `read_signup.ts` → `read_signup_ts`, then `_2`, `_3`... */
export function uniqueId(ctx: StepContext, wish: string): string {
	let base = wish.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/\./g, '_');
	if (!/^[A-Za-z_]/.test(base)) base = `_${base}`;
	let id = base;
	for (let k = 2; ctx.ids.has(id); k++) id = `${base}_${k}`;
	ctx.ids.add(id);
	return id;
}

/** Whether the project has this check (a quality operation, or a command found in package.json/Makefile/pytest). */
export function hasCheck(ctx: StepContext, kind: CheckKind): boolean {
	return qualityOperation(ctx, kind) || ctx.facts.checks[kind] !== undefined;
}

/** The registry's `quality.<kind>` when it takes empty parameters (it finds the project's tool itself). */
function qualityOperation(ctx: StepContext, kind: CheckKind): boolean {
	return ctx.registry.operation('quality', kind)?.params.safeParse({}).success ?? false;
}

export interface CheckOptions {
	dependencies?: string[];
	/** The step's output is read by a later step (`${steps.ID.output.stdout}`): always `exec`, and a failure does not stop the plan. */
	capture?: boolean;
	id?: string;
}

/** A step running one of the project's checks, or undefined when the project has none of that kind. */
export function checkStep(ctx: StepContext, kind: CheckKind, opts: CheckOptions = {}): Step | undefined {
	const command = ctx.facts.checks[kind];
	const useQuality = !opts.capture && qualityOperation(ctx, kind);
	if (!useQuality && !command) return undefined;
	const id = uniqueId(ctx, opts.id ?? kind);
	const step: Step = useQuality
		? { id, type: 'quality', operation: kind, description: `Run the project's ${CHECK_LABEL[kind]}`, parameters: {} }
		: {
				id,
				type: 'exec',
				operation: 'run',
				description: opts.capture ? `Run the project's ${CHECK_LABEL[kind]} and keep the output` : `Run the project's ${CHECK_LABEL[kind]} (${command})`,
				parameters: opts.capture ? { command, allow_failure: true } : { command },
				idempotent: true,
			};
	if (opts.dependencies?.length) step.dependencies = opts.dependencies;
	return step;
}

export interface TaskOptions {
	files?: string[];
	successCriteria?: string[];
	dependencies?: string[];
	requiresApproval?: boolean;
	description?: string;
}

/**
 * A piece of work in words: an `agent task` (allocated by capability) when the registry has agents, else an
 * `llm generate` with the same prompt, which answers in text but changes nothing.
 */
export function taskStep(ctx: StepContext, wish: string, role: Role, prompt: string, opts: TaskOptions = {}): Step {
	const id = uniqueId(ctx, wish);
	const { capabilities, system } = ROLES[role];
	const files = opts.files?.length ? opts.files : undefined;
	const criteria = opts.successCriteria?.length ? escapeTemplates(opts.successCriteria) : undefined;
	let step: Step;
	if (ctx.registry.operation('agent', 'task')) {
		step = {
			id,
			type: 'agent',
			operation: 'task',
			parameters: { prompt, capabilities: [...capabilities], ...(files ? { files } : {}), ...(criteria ? { success_criteria: criteria } : {}) },
		};
	} else {
		const extra = [files ? `Files: ${files.join(', ')}` : '', criteria ? `Done when:\n${criteria.map((c) => `- ${c}`).join('\n')}` : ''].filter(Boolean);
		step = { id, type: 'llm', operation: 'generate', parameters: { prompt: [prompt, ...extra].join('\n\n'), system } };
	}
	step.description = opts.description ?? `${role} task`;
	if (opts.dependencies?.length) step.dependencies = opts.dependencies;
	if (opts.requiresApproval) step.requires_approval = true;
	return step;
}

/** Whether tasks become agent steps (true) or model answers (false) in this registry. */
export function hasAgents(registry: HandlerRegistry): boolean {
	return registry.operation('agent', 'task') !== undefined;
}

/** `file read` steps for the files a goal names (at most `limit`): they fail early when a file is gone. */
export function readSteps(ctx: StepContext, files: string[], limit = 5): Step[] {
	return files.slice(0, limit).map((path) => ({
		id: uniqueId(ctx, `read_${path.split('/').pop()}`),
		type: 'file',
		operation: 'read',
		description: `Read ${path}`,
		parameters: { path },
	}));
}

const GREP_EXCLUDES = ['node_modules', '.git', '.quantum', 'dist', 'out', 'build', 'coverage'].map((d) => `--exclude-dir=${d}`).join(' ');

/** Finds files whose content mentions the goal's keywords (`grep -l`); undefined when the goal has none. */
export function locateStep(ctx: StepContext, goal: string): Step | undefined {
	const words = goalKeywords(goal).slice(0, 4);
	if (words.length === 0) return undefined;
	return {
		id: uniqueId(ctx, 'locate'),
		type: 'exec',
		operation: 'run',
		description: `Find the files that mention ${words.join(', ')}`,
		// The keywords are [a-z0-9_-] only, so they are safe inside single quotes.
		parameters: { command: `grep -rIl -i -E '${words.join('|')}' . ${GREP_EXCLUDES} | head -n 20`, allow_failure: true },
		idempotent: true,
	};
}

/** Finds every line that mentions `text` literally (for renames). `text` holds only [\w.$-]. */
export function searchStep(ctx: StepContext, text: string): Step {
	return {
		id: uniqueId(ctx, 'search'),
		type: 'exec',
		operation: 'run',
		description: `Find every use of ${text}`,
		parameters: { command: `grep -rIn -F -- '${text}' . ${GREP_EXCLUDES} | head -n 200`, allow_failure: true },
		idempotent: true,
	};
}

/** The checks that say a change is sound, in the order worth running them; those the project has. */
export function verifySteps(ctx: StepContext, after: string[], kinds: readonly CheckKind[] = ['typecheck', 'lint', 'test']): Step[] {
	return kinds.map((k) => checkStep(ctx, k, { dependencies: after })).filter((s): s is Step => s !== undefined);
}

/** The diff of the working tree, for a reviewer (only in a git repository). */
export function diffStep(ctx: StepContext, after: string[]): Step | undefined {
	if (!ctx.facts.git) return undefined;
	return { id: uniqueId(ctx, 'diff'), type: 'git', operation: 'diff', description: 'The changes so far', parameters: {}, dependencies: after };
}

export function isTestFile(file: string): boolean {
	return /(^|\/)(tests?|__tests__|spec)\/|\.(test|spec)\.[^/]+$|(^|\/)test_[^/]+\.py$/.test(file);
}

export function ids(steps: (Step | undefined)[]): string[] {
	return steps.filter((s): s is Step => s !== undefined).map((s) => s.id);
}
