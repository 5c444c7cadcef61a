// The core's front door: createEngine(ports) → load, plan, run, resume, rollback, commit, runs, checkpoints.
import { loadavg, cpus } from 'node:os';
import * as path from 'node:path';
import { approvalReason, type ApprovalNeed } from './engine/approval';
import { planWithDurations } from './engine/durations';
import type { EngineContext } from './engine/engineContext';
import { EventStream } from './engine/events';
import { PathLocks, type LockOrder } from './engine/pathLocks';
import { ResourceGate, type ResourceLimits, type ResourceReading } from './engine/resourceGate';
import type { RunResult } from './engine/execute';
import type { Plan, PlannedStep, RunSettings } from './engine/plan';
import { commitRun, rollbackRun } from './engine/rollbackCommit';
import type { RunServices } from './engine/run';
import { recordedWorkflow, rememberParsedText } from './engine/snapshot';
import { resumeRun, startRun, type ResumeOptions, type RunOptions } from './engine/start';
import { allocateFromRegistry } from './agents/allocation';
import { AgentRegistry } from './agents/registry';
import { LearningStore } from './agents/learning';
import { createDefaultRegistry, type HandlerRegistry } from './handlers';
import { previewFileChange, type FileChangePreview } from './handlers/filePreview';
import type { SecretPolicy } from './handlers/types';
import { nullLogger, rejectAll, systemClock, type Clock, type DecisionPrompter, type Logger } from './ports';
import type { EscalationCheck } from './policy/escalation';
import type { LlmClient } from './services/llm/client';
import type { ModelPrice } from './services/llm/pricing';
import { DEFAULT_MODEL } from './services/llm/settings';
import { estimateStepUsage, type PlanLookups } from './engine/planReport';
import { DEFAULT_SECRET_PATTERNS, scrubEnv } from './sandbox/env';
import { createSandbox } from './sandbox/paths';
import type { Sandbox, SandboxPolicy } from './sandbox/types';
import { describeError, StateError } from './errors';
import { describeJournal } from './engine/runJournalLog';
import { readJournal } from './state/journal';
import { listRuns, resolveRunId, runPaths, stateDirFor, type RunSummary } from './state/runStore';
import type { RollbackResult } from './state/transaction';
import {
	createCheckpoint,
	deleteCheckpoint,
	listCheckpoints,
	restoreCheckpoint,
	type CheckpointInfo,
	type CheckpointRestoreResult,
} from './state/checkpoints';
import type { GcPolicy } from './state/gc';
import { loadWorkflowFile, parseWorkflowText } from './workflow/parse';
import type { Workflow } from './workflow/schema';

export type { RunResult } from './engine/execute';
export type { ResumeOptions, RunOptions } from './engine/start';

export interface EngineOptions {
	/** The workspace folder: the sandbox's root. */
	workspace: string;
	/** Default `<workspace>/.quantum`. */
	stateDir?: string;
	registry?: HandlerRegistry;
	logger?: Logger;
	/** Who answers approvals; default: reject everything (headless without --yes). */
	prompter?: DecisionPrompter;
	clock?: Clock;
	/** Default process.env. */
	env?: NodeJS.ProcessEnv;
	sandboxPolicy?: Partial<SandboxPolicy>;
	/** Regexes for env var names removed from child processes; default DEFAULT_SECRET_PATTERNS. */
	secretPatterns?: string[];
	/** Limits for old run state and checkpoints, applied after each run; default DEFAULT_GC_POLICY. */
	gc?: Partial<GcPolicy>;
	/** Steps the host's policy pauses for a person (risky commands, deletions...); default: none beyond the sandbox's. */
	escalation?: EscalationCheck;
	/**
	 * The LLM endpoint for `llm` steps; without one they fail saying how to configure it. A function is asked at each
	 * use, so a host whose settings or key change (the extension) swaps the endpoint without recreating the engine.
	 */
	llm?: LlmClient | (() => LlmClient | undefined);
	/** Model prices (USD per 1M tokens) beyond DEFAULT_PRICES, for cost accounting and projections. */
	prices?: Readonly<Record<string, ModelPrice>>;
	/** When two steps (of one run or of runs side by side) want the same path: the earlier waits first, or the lower priority number. */
	conflictOrder?: LockOrder;
	/** Hold new steps back while the machine's CPU load or memory use is above these. */
	resourceLimits?: ResourceLimits;
	/** Readings for the resource limits (tests inject them); default the OS's. */
	resourceProbe?: () => ResourceReading;
	/** The agents for `agent` steps; default: the built-ins plus `.quantum/agents/*.md`, reread before each run. */
	agents?: AgentRegistry;
}

export interface Checkpoints {
	/** Save the current content of every path runs touched (or `paths`). */
	create(name: string, opts?: { paths?: string[]; replace?: boolean }): Promise<CheckpointInfo>;
	list(): Promise<CheckpointInfo[]>;
	/** Put a checkpoint back, as a journaled run that can itself be rolled back. */
	restore(name: string, opts?: { force?: boolean }): Promise<CheckpointRestoreResult>;
	delete(name: string): Promise<void>;
}

export interface LoadOptions {
	/** Override or add workflow variables (`qo run --var NAME=VALUE`); validation sees them. */
	variables?: Record<string, unknown>;
}

export interface Engine {
	readonly events: EventStream;
	readonly registry: HandlerRegistry;
	readonly workspace: string;
	readonly stateDir: string;
	/** Read and validate a workflow file; throws WorkflowError listing every problem. */
	load(file: string, opts?: LoadOptions): Promise<Workflow>;
	parse(text: string, file?: string, opts?: LoadOptions): Workflow;
	plan(workflow: Workflow, settings?: Partial<RunSettings>): Promise<Plan>;
	/** Why a planned step will ask before it runs (its own flag, the sandbox or the escalation policy), if it will. */
	approvalOf(step: PlannedStep): ApprovalNeed | undefined;
	/** The escalation policy and expected LLM use of planned steps, for plan previews (printPlan, planJson). */
	planLookups(): PlanLookups;
	run(workflow: Workflow, opts?: RunOptions): Promise<RunResult>;
	resume(runId?: string, opts?: ResumeOptions): Promise<RunResult>;
	rollback(runId?: string, opts?: { force?: boolean }): Promise<RollbackResult & { runId: string }>;
	/** Accept a run's changes: its before-images are released and it can no longer be rolled back. */
	commit(runId?: string): Promise<string>;
	runs(): Promise<RunSummary[]>;
	/** The run id `given` names (an id or a unique prefix), or the newest run's; StateError 'not-found' otherwise. */
	resolveRun(given?: string): Promise<string>;
	/** The workflow exactly as a run started it (the copy kept with the run). */
	runWorkflow(runId: string): Promise<Workflow>;
	/** What a run did, one line per event, read from its journal (works for runs another process drove). */
	runLog(runId: string): Promise<string[]>;
	/** Before/after text of a `file` step about to run with these parameters (for a diff before approving). */
	previewFileChange(operation: string, parameters: Record<string, unknown>): Promise<FileChangePreview | undefined>;
	readonly checkpoints: Checkpoints;
	/** The agents `agent` steps are given to (built-in, workspace files, registered through the API). */
	readonly agents: AgentRegistry;
	/** What runs taught about agents and decisions (`.quantum/learning.json`). */
	readonly learning: LearningStore;
	/** Rereads `.quantum/agents/*.md`; returns notes (overrides) and problems (bad files), each one line. */
	reloadAgents(): Promise<string[]>;
	dispose(): void;
}

/** For an agent step: who would take it, when that agent cannot work (an llm agent with no endpoint, none capable). */
function agentNote(agents: AgentRegistry, step: PlannedStep, llmConfigured: boolean): string | undefined {
	if (step.instruction.type !== 'agent' || step.dynamic) return undefined;
	const p = step.staticParams as { capabilities?: string[]; agent?: string };
	try {
		const { agent } = allocateFromRegistry(agents, { capabilities: p.capabilities ?? [], agent: p.agent, stepType: 'agent' });
		const def = agents.require(agent);
		if (def.kind === 'llm' && !llmConfigured) return `would go to ${agent}, an LLM agent, but no LLM endpoint is configured (set one, or add a command agent with the capability)`;
		return undefined;
	} catch (err) {
		return describeError(err);
	}
}

function escalationNeed(check: EscalationCheck | undefined, step: PlannedStep): ApprovalNeed | undefined {
	const e = check?.({ type: step.instruction.type, operation: step.instruction.operation, touches: step.touches });
	return e ? { reason: e.reason, rule: e.rule } : undefined;
}

export async function createEngine(opts: EngineOptions): Promise<Engine> {
	const workspace = path.resolve(opts.workspace);
	const stateDir = opts.stateDir ?? stateDirFor(workspace);
	const registry = opts.registry ?? createDefaultRegistry();
	const logger = opts.logger ?? nullLogger;
	const clock = opts.clock ?? systemClock;
	const env = opts.env ?? process.env;
	const events = new EventStream();
	const sandbox: Sandbox = await createSandbox(workspace, opts.sandboxPolicy);
	const secretPolicy: SecretPolicy = { patterns: opts.secretPatterns ?? [...DEFAULT_SECRET_PATTERNS] };
	const childEnv = scrubEnv(env, { patterns: secretPolicy.patterns }).env;
	const cores = Math.max(1, cpus().length);
	const currentLlm = (): LlmClient | undefined => (typeof opts.llm === 'function' ? opts.llm() : opts.llm);
	const services: RunServices = {
		workspace: sandbox.root,
		sandbox,
		logger: {
			log(level, scope, message) {
				logger.log(level, scope, message);
				if (events.active) events.emit({ type: 'log', level, scope, message });
			},
		},
		prompter: opts.prompter ?? rejectAll,
		clock,
		events,
		env,
		childEnv,
		secretPolicy,
		loadProbe: () => loadavg()[0] / cores,
		escalation: opts.escalation,
		get llm() {
			return currentLlm();
		},
		prices: opts.prices,
		registry,
		locks: new PathLocks(opts.conflictOrder ?? 'arrival'),
		...(opts.resourceLimits && (opts.resourceLimits.cpu !== undefined || opts.resourceLimits.memory !== undefined)
			? { resources: new ResourceGate(opts.resourceLimits, clock, opts.resourceProbe) }
			: {}),
	};
	const learning = await LearningStore.load(stateDir, clock);
	for (const w of learning.warnings) services.logger.log('warn', 'agents', w);
	const agents = opts.agents ?? new AgentRegistry({ learning, clock });
	const ownAgents = opts.agents === undefined;
	services.agents = { registry: agents, learning, clock };
	const reloadAgents = async (): Promise<string[]> => {
		if (!ownAgents) return [];
		const { notes, problems } = await agents.loadWorkspace(sandbox.root);
		const lines = [...notes, ...problems.map((p) => p.describe())];
		for (const p of problems) services.logger.log('warn', 'agents', p.describe());
		return lines;
	};
	await reloadAgents();
	const parseOptions = { registry, env, workspace: sandbox.root };
	const ctx: EngineContext = { stateDir, sandbox, registry, services, parseOptions, gc: opts.gc, reloadAgents };
	const checkpointContext = { workspace: sandbox.root, stateDir, sandbox };
	const approvalOf = (step: PlannedStep): ApprovalNeed | undefined =>
		// A step whose parameters are known only at run time is judged on what the plan knows (touches as written).
		step.dynamic
			? step.approval
				? { reason: step.approval }
				: escalationNeed(opts.escalation, step)
			: approvalReason(step, step.staticParams, false, sandbox, opts.escalation);

	return {
		events,
		registry,
		workspace: sandbox.root,
		stateDir,
		load: (file, o) => loadWorkflowFile(path.resolve(file), { ...parseOptions, variables: o?.variables }),
		parse: (text, file, o) => {
			const workflow = parseWorkflowText(text, { ...parseOptions, file, variables: o?.variables });
			rememberParsedText(workflow, text);
			return workflow;
		},
		plan: (workflow, settings) => planWithDurations(ctx, workflow, settings),
		approvalOf,
		planLookups() {
			return {
				approvalOf,
				usageOf: (step) => estimateStepUsage(step, currentLlm()?.model ?? DEFAULT_MODEL, opts.prices),
				noteOf: (step) => agentNote(agents, step, currentLlm() !== undefined),
			};
		},
		run: (workflow, runOpts) => startRun(ctx, workflow, runOpts),
		resume: (given, resumeOpts) => resumeRun(ctx, given, resumeOpts),
		async rollback(given, rbOpts = {}) {
			const runId = await resolveRunId(stateDir, given);
			return { ...(await rollbackRun(ctx, runId, rbOpts.force ?? false)), runId };
		},
		commit: (given) => commitRun(ctx, given),
		runs: () => listRuns(stateDir),
		resolveRun: (given) => resolveRunId(stateDir, given),
		async runWorkflow(given) {
			const runId = await resolveRunId(stateDir, given);
			const first = (await readJournal(runPaths(stateDir, runId).journal)).records[0];
			if (first?.t !== 'run') throw new StateError('not-found', `run ${runId} has no recorded start (it was interrupted before it began)`);
			return recordedWorkflow(ctx, first, runPaths(stateDir, runId).dir);
		},
		async runLog(given) {
			const runId = await resolveRunId(stateDir, given);
			const contents = await readJournal(runPaths(stateDir, runId).journal);
			const lines = describeJournal(contents.records);
			if (contents.error) lines.push(`(the journal is damaged after this point: ${describeError(contents.error)})`);
			return lines;
		},
		previewFileChange: (operation, parameters) => previewFileChange(sandbox, operation, parameters),
		checkpoints: {
			create: (name, o) => createCheckpoint(checkpointContext, name, o),
			list: () => listCheckpoints(checkpointContext),
			restore: (name, o) => restoreCheckpoint(checkpointContext, name, o),
			delete: (name) => deleteCheckpoint(checkpointContext, name),
		},
		agents,
		learning,
		reloadAgents,
		dispose() {},
	};
}
