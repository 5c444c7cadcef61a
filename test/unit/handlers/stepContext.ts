// A real StepContext for handler tests: a real sandbox on a temp workspace, a caller-supplied WorkspaceFs.
import { StepError } from '../../../src/core/errors';
import type { AgentAssignment, Handler, StepContext, StepDecision, ToolStep, WorkspaceFs } from '../../../src/core/handlers/types';
import type { DecisionAnswer } from '../../../src/core/ports';
import type { LlmClient } from '../../../src/core/services/llm/client';
import type { Finding } from '../../../src/core/quality/findings';
import { nullLogger } from '../../../src/core/ports';
import { DEFAULT_SECRET_PATTERNS, scrubEnv } from '../../../src/core/sandbox/env';
import { createSandbox } from '../../../src/core/sandbox/paths';
import type { Instruction } from '../../../src/core/workflow/schema';

export interface TestContext extends StepContext {
	readonly outputs: { stream: 'stdout' | 'stderr'; text: string }[];
	readonly decisions: StepDecision[];
	readonly assignments: AgentAssignment[];
	readonly usage: { model: string; promptTokens: number; completionTokens: number }[];
	/** What the step reported through reportFindings, in order. */
	readonly reported: { tool: string; findings: Finding[] }[];
	readonly context: Map<string, unknown>;
}

/** Fails loudly: handlers that must not write the workspace get this. */
export const noFs: WorkspaceFs = new Proxy({} as WorkspaceFs, {
	get: (_t, name) => () => Promise.reject(new Error(`unexpected WorkspaceFs.${String(name)} call`)),
});

export async function makeContext(
	workspace: string,
	opts: {
		fs?: WorkspaceFs;
		signal?: AbortSignal;
		env?: NodeJS.ProcessEnv;
		step?: Partial<Instruction>;
		llm?: LlmClient;
		runTool?: (call: ToolStep) => Promise<unknown>;
		/** How decide() answers (default: approve). */
		decide?: (request: StepDecision) => DecisionAnswer | undefined;
	} = {},
): Promise<TestContext> {
	const sandbox = await createSandbox(workspace);
	const patterns = [...DEFAULT_SECRET_PATTERNS];
	const context = new Map<string, unknown>();
	const outputs: TestContext['outputs'] = [];
	const usage: TestContext['usage'] = [];
	const decisions: StepDecision[] = [];
	const assignments: AgentAssignment[] = [];
	const reported: TestContext['reported'] = [];
	return {
		runId: 'test-run',
		step: { id: 's1', type: 't', operation: 'o', parameters: {}, dependencies: [], priority: 0, index: 0, ...opts.step } as Instruction,
		attempt: 1,
		workspace,
		sandbox,
		fs: opts.fs ?? noFs,
		signal: opts.signal ?? new AbortController().signal,
		logger: nullLogger,
		env: scrubEnv(opts.env ?? process.env, { patterns }).env,
		hostEnv: opts.env ?? process.env,
		secretPolicy: { patterns },
		llm: opts.llm,
		agents: undefined,
		outputs,
		usage,
		reported,
		context,
		async decide(request) {
			decisions.push(request);
			const answer = opts.decide?.(request) ?? { approve: true };
			if (!answer.approve) throw new StepError('rejected', `rejected by user${answer.reason ? `: ${answer.reason}` : ''}`);
			return answer;
		},
		decisions,
		async runTool(call) {
			if (!opts.runTool) throw new Error(`unexpected runTool(${call.type}.${call.operation}) outside an engine`);
			return opts.runTool(call);
		},
		async undoToolSteps() {
			return [];
		},
		assignAgent(a) {
			assignments.push(a);
		},
		assignments,
		recordUsage(model, u) {
			usage.push({ model, ...u });
		},
		output(stream, text) {
			outputs.push({ stream, text });
		},
		reportFindings(tool, findings) {
			reported.push({ tool, findings });
		},
		setContext(key, value) {
			context.set(key, value);
		},
		getContext(key) {
			return context.get(key);
		},
	};
}

/** Validates raw parameters with the operation's schema (as the engine does), then runs it. */
export async function runOp(handler: Handler, operation: string, raw: unknown, ctx: StepContext): Promise<unknown> {
	const op = handler.operations[operation];
	if (!op) throw new Error(`no operation ${handler.type}.${operation}`);
	const params = op.params.parse(raw);
	return op.run(params as never, ctx);
}

/** The operation's parameter check, for tests of invalid parameters. */
export function paramsError(handler: Handler, operation: string, raw: unknown): string | undefined {
	const r = handler.operations[operation].params.safeParse(raw);
	return r.success ? undefined : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
}

/** summary / touches / approvalReason of an operation for given raw parameters. */
export async function describeOp(handler: Handler, operation: string, raw: unknown, workspace: string) {
	const op = handler.operations[operation];
	const params = op.params.parse(raw) as never;
	const sandbox = await createSandbox(workspace);
	return {
		summary: op.summary(params),
		touches: op.touches?.(params),
		approval: op.approvalReason?.(params, sandbox),
		effect: op.effect,
	};
}
