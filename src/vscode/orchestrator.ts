// The extension's one controller: an engine per workspace folder (in-process, the folder is the sandbox), the
// board model fed by their event streams, the decision queue, and the run lifecycle with progress and cancel.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { createEngine, type Engine, type RunResult } from '../core/engine';
import type { EngineEvent } from '../core/engine/events';
import { AgentError, describeError, WorkflowError } from '../core/errors';
import type { DecisionAnswer, DecisionRequest, Logger } from '../core/ports';
import { createEscalationCheck } from '../core/policy/escalation';
import { defineAgent, type AgentDefinition, type AgentInput } from '../core/agents/definition';
import type { Workflow } from '../core/workflow/schema';
import type { RunOutcome } from './api';
import { readSettings, type ExtensionSettings } from './adapters/settings';
import { problemSummary, workflowDiagnostics } from './diagnostics';
import { BoardModel } from './model/boardModel';
import { DecisionQueue } from './model/decisionQueue';
import { LearnedRules } from './model/learnedRules';
import { QueueBroker } from './model/queueBroker';
import { RunLog } from './model/runLog';
import type { LlmService } from './llm';

const ALLOWED_RULES_KEY = 'quantum.allowedRules';
/** Runs this window stopped because it was closing or reloading: the next window offers them like interrupted ones. */
const CLOSED_RUNS_KEY = 'quantum.runsStoppedByClose';
/** Board changes are sent at most this often: thousands of step events become a few patches. */
const FLUSH_MS = 80;
/** Runs shorter than this never pop a progress notification. */
const PROGRESS_DELAY_MS = 1500;

interface ActiveRun {
	abort: AbortController;
	folder: vscode.WorkspaceFolder;
}

/** Settings an engine captures when it is made; a change to one makes new engines (once no run is going). */
const ENGINE_SETTINGS = ['quantum.stateFolder', 'quantum.escalation'];

/** Offers "always allow" after three identical approvals of a rule: the question, its answers. */
export type SuggestionPrompt = (message: string) => Promise<'allow' | 'dismiss' | undefined>;

export class Orchestrator implements vscode.Disposable {
	readonly board = new BoardModel();
	readonly log = new RunLog();
	readonly decisions: DecisionQueue;
	readonly diagnostics = vscode.languages.createDiagnosticCollection('quantum');
	private readonly engines = new Map<string, Promise<Engine>>();
	/** Per folder: the engine's prompter, shared by its engines and the folder's trigger services. */
	private readonly brokers = new Map<string, QueueBroker>();
	/** Engines are remade once the last run ends (a setting they captured changed mid-run). */
	private staleEngines = false;
	/** Agents registered through the API, by name: given to every engine, including ones made later. */
	private readonly apiAgents = new Map<string, AgentInput | AgentDefinition>();
	private readonly learned: LearnedRules;
	private readonly engineCreated = new vscode.EventEmitter<{ folder: vscode.WorkspaceFolder; engine: Engine }>();
	/** A folder got an engine (the first use, or a new one after a settings change). */
	readonly onDidCreateEngine = this.engineCreated.event;
	private readonly active = new Map<string, ActiveRun>();
	/** Which folder each known run belongs to. */
	private readonly runFolders = new Map<string, vscode.WorkspaceFolder>();
	/** Substituted parameters of the steps of runs this session started, for tooltips. */
	private readonly parameters = new Map<string, Map<string, unknown>>();
	private flushTimer: NodeJS.Timeout | undefined;
	private readonly disposables: vscode.Disposable[] = [];
	private readonly activeChanged = new vscode.EventEmitter<void>();
	readonly onDidChangeActive = this.activeChanged.event;
	private readonly engineEvents = new vscode.EventEmitter<{ folder: vscode.WorkspaceFolder; event: EngineEvent }>();
	/** Every engine event with the folder its engine runs in (quality diagnostics need it to place files). */
	readonly onDidEngineEvent = this.engineEvents.event;

	constructor(
		private readonly context: vscode.ExtensionContext,
		readonly logger: Logger,
		readonly llm: LlmService,
		onDecision: (request: DecisionRequest) => void,
		askSuggestion: SuggestionPrompt,
	) {
		this.learned = new LearnedRules({
			learningFor: async (request) => {
				const folder = this.runFolders.get(request.runId) ?? this.folderFor();
				return folder ? (await this.engineFor(folder)).learning : undefined;
			},
			isAllowed: (rule) => this.allowedRules().includes(rule),
			allow: (rule) => this.allowRule(rule),
			ask: (suggestion) => askSuggestion(suggestion.message),
			warn: (message) => this.logger.log('warn', 'agents', message),
		});
		this.decisions = new DecisionQueue({
			onRequested: onDecision,
			onAlwaysAllow: (rule) => this.allowRule(rule),
			onAnswered: (request, reply) => void this.learned.answered(request, reply.approve).catch(() => undefined),
		});
		this.board.setTrusted(vscode.workspace.isTrusted);
		this.disposables.push(
			this.diagnostics,
			this.activeChanged,
			this.engineEvents,
			vscode.workspace.onDidGrantWorkspaceTrust(() => {
				this.board.setTrusted(true);
				this.scheduleFlush();
			}),
			this.engineCreated,
			vscode.workspace.onDidChangeConfiguration((e) => {
				// Engines hold the policy and state folder they were made with: new ones on next use, once no run is going.
				// (LLM settings and prices need no new engine: engines ask the LlmService at each use.)
				if (ENGINE_SETTINGS.some((k) => e.affectsConfiguration(k))) this.retireEngines();
			}),
		);
	}

	private retireEngines(): void {
		if (this.active.size > 0) {
			this.staleEngines = true;
			return;
		}
		this.staleEngines = false;
		this.engines.clear();
	}

	private async allowRule(rule: string): Promise<void> {
		const rules = new Set(this.allowedRules());
		rules.add(rule);
		await this.context.workspaceState.update(ALLOWED_RULES_KEY, [...rules]);
		this.logger.log('info', 'policy', `always allowed in this workspace: ${rule}`);
	}

	/** Engines made so far, with their folders (agents views and diagnostics read them). */
	async allEngines(): Promise<{ folder: vscode.WorkspaceFolder; engine: Engine }[]> {
		const out: { folder: vscode.WorkspaceFolder; engine: Engine }[] = [];
		for (const folder of vscode.workspace.workspaceFolders ?? []) {
			const engine = await this.engineFor(folder).catch(() => undefined);
			if (engine) out.push({ folder, engine });
		}
		return out;
	}

	/** Registers an agent on every folder's engine, now and later (the API's register). Returns notes. */
	async registerAgent(input: AgentInput | AgentDefinition, opts: { replace?: boolean } = {}): Promise<string[]> {
		// Validates (AgentError 'definition' naming every problem) before any engine changes.
		const name = ('source' in input ? input : defineAgent(input as AgentInput)).name;
		if (this.apiAgents.has(name) && !opts.replace) throw new AgentError('duplicate', `agent '${name}' is already registered; pass replace to replace it`, {}, name);
		const notes = new Set<string>();
		for (const { engine } of await this.allEngines()) for (const n of engine.agents.register(input, { replace: true })) notes.add(n);
		this.apiAgents.set(name, input);
		return [...notes];
	}

	async unregisterAgent(name: string): Promise<boolean> {
		this.apiAgents.delete(name);
		let removed = false;
		for (const { engine } of await this.allEngines()) removed = engine.agents.unregister(name) !== undefined || removed;
		return removed;
	}

	allowedRules(): string[] {
		return this.context.workspaceState.get<string[]>(ALLOWED_RULES_KEY, []);
	}

	/**
	 * Asks a person through the queue the engine's steps use (board, tree, notification), for a decision no step of
	 * an engine raised (the API's requestDecision: another extension proposing changes, say).
	 */
	async requestDecision(request: DecisionRequest, signal: AbortSignal = new AbortController().signal): Promise<DecisionAnswer> {
		this.board.apply({ type: 'decision-requested', request });
		this.scheduleFlush();
		try {
			const answer = await this.decisions.decide(request, signal);
			this.board.apply({ type: 'decision-answered', runId: request.runId, id: request.id, answer });
			return answer;
		} finally {
			this.scheduleFlush();
		}
	}

	async revokeRules(rules: readonly string[]): Promise<void> {
		const kept = this.allowedRules().filter((r) => !rules.includes(r));
		await this.context.workspaceState.update(ALLOWED_RULES_KEY, kept);
		for (const r of rules) this.logger.log('info', 'policy', `no longer always allowed: ${r}`);
	}

	isActive(runId: string): boolean {
		return this.active.has(runId);
	}

	activeRunIds(): string[] {
		return [...this.active.keys()];
	}

	stepParameters(runId: string, stepId: string): unknown {
		return this.parameters.get(runId)?.get(stepId);
	}

	/** The workspace folder a file (or, without one, the only or active folder) belongs to. */
	folderFor(uri?: vscode.Uri): vscode.WorkspaceFolder | undefined {
		if (uri) return vscode.workspace.getWorkspaceFolder(uri);
		const folders = vscode.workspace.workspaceFolders ?? [];
		if (folders.length <= 1) return folders[0];
		const editor = vscode.window.activeTextEditor?.document.uri;
		return (editor && vscode.workspace.getWorkspaceFolder(editor)) ?? folders[0];
	}

	folderOfRun(runId: string): vscode.WorkspaceFolder | undefined {
		return this.runFolders.get(runId);
	}

	/** The folder's decision broker: trigger runs are tracked in it; everything else goes to the decision queue. */
	brokerFor(folder: vscode.WorkspaceFolder): QueueBroker {
		let broker = this.brokers.get(folder.uri.fsPath);
		if (!broker) this.brokers.set(folder.uri.fsPath, (broker = new QueueBroker(this.decisions)));
		return broker;
	}

	engineFor(folder: vscode.WorkspaceFolder): Promise<Engine> {
		const key = folder.uri.fsPath;
		let engine = this.engines.get(key);
		if (!engine) {
			engine = this.makeEngine(folder, readSettings(folder.uri));
			engine.catch(() => this.engines.delete(key));
			this.engines.set(key, engine);
		}
		return engine;
	}

	private async makeEngine(folder: vscode.WorkspaceFolder, settings: ExtensionSettings): Promise<Engine> {
		const stateDir = path.resolve(folder.uri.fsPath, settings.stateFolder);
		const rel = path.relative(folder.uri.fsPath, stateDir).split(path.sep).join('/');
		const inside = rel && !rel.startsWith('..') && !path.isAbsolute(rel);
		await this.llm.ready();
		const engine = await createEngine({
			workspace: folder.uri.fsPath,
			stateDir,
			// Asked at each use: a new key or endpoint applies to the next LLM call, no new engine needed.
			llm: () => this.llm.current(),
			prices: this.llm.prices,
			logger: this.logger,
			prompter: this.brokerFor(folder),
			escalation: createEscalationCheck(
				settings.escalation,
				() => new Set(this.allowedRules()),
				(pattern, error) => this.logger.log('warn', 'policy', `ignoring the risky-command pattern /${pattern}/: ${error}`),
				(e, step) => this.logger.log('info', 'policy', `${step.type}.${step.operation} went ahead without asking: rule ${e.rule} is always allowed here (${e.reason})`),
			),
			// A state folder other than .quantum must be as protected from steps as .quantum is.
			sandboxPolicy: inside && rel !== '.quantum' ? { protectedGlobs: ['.quantum', '.quantum/**', rel, `${rel}/**`] } : undefined,
		});
		const sub = engine.events.on((e) => this.onEvent(folder, e));
		this.disposables.push({ dispose: () => sub.dispose() });
		for (const [name, input] of this.apiAgents) {
			try {
				engine.agents.register(input, { replace: true });
			} catch (err) {
				this.logger.log('warn', 'agents', `could not register ${name} again: ${describeError(err)}`);
			}
		}
		this.engineCreated.fire({ folder, engine });
		const history = await engine.runs().catch(() => []);
		for (const r of history) this.runFolders.set(r.runId, folder);
		this.board.addHistory(history);
		this.scheduleFlush();
		return engine;
	}

	private onEvent(folder: vscode.WorkspaceFolder, e: EngineEvent): void {
		if (e.type === 'log') return;
		this.engineEvents.fire({ folder, event: e });
		if (e.type === 'run-started') this.runFolders.set(e.runId, folder);
		this.board.apply(e);
		this.log.apply(e);
		this.scheduleFlush();
	}

	scheduleFlush(): void {
		this.flushTimer ??= setTimeout(() => {
			this.flushTimer = undefined;
			this.board.flush();
		}, FLUSH_MS);
	}

	/** Reads and validates a workflow file; problems go to the Problems panel and one clear message. */
	async load(uri: vscode.Uri, quiet = false): Promise<{ workflow: Workflow; engine: Engine; folder: vscode.WorkspaceFolder } | undefined> {
		const folder = this.folderFor(uri);
		const rel = vscode.workspace.asRelativePath(uri, false);
		if (!folder) {
			void vscode.window.showErrorMessage(`${rel} is not inside an open workspace folder: open its folder first (the folder is the sandbox a workflow runs in).`);
			return undefined;
		}
		const engine = await this.engineFor(folder);
		try {
			// Unsaved edits count: run what the user sees.
			const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
			const workflow = doc ? engine.parse(doc.getText(), uri.fsPath) : await engine.load(uri.fsPath);
			this.diagnostics.delete(uri);
			return { workflow, engine, folder };
		} catch (err) {
			if (WorkflowError.is(err)) this.diagnostics.set(uri, workflowDiagnostics(err));
			const notWorkflow = WorkflowError.is(err) && isNotAWorkflow(err);
			const message = notWorkflow ? `${rel} is not a workflow file: ${problemSummary(rel, err)}` : `Invalid workflow — ${problemSummary(rel, err)}`;
			this.logger.log('warn', 'validate', message);
			if (!quiet) {
				void vscode.window.showErrorMessage(message, 'Show Problems').then((c) => {
					if (c) void vscode.commands.executeCommand('workbench.actions.view.problems');
				});
			}
			return undefined;
		}
	}

	async runFile(uri: vscode.Uri): Promise<RunOutcome | undefined> {
		const loaded = await this.load(uri);
		if (!loaded) return undefined;
		const { workflow, engine, folder } = loaded;
		const settings = readSettings(folder.uri);
		return this.track(folder, workflow.name, (signal, onStart) =>
			engine.run(workflow, {
				signal,
				settings: settings.run,
				onStart: (runId) => {
					this.parameters.set(runId, new Map(workflow.instructions.map((i) => [i.id, i.parameters])));
					onStart(runId);
				},
			}),
		);
	}

	async resume(runId: string, force = false): Promise<RunOutcome | undefined> {
		const folder = this.runFolders.get(runId) ?? this.folderFor();
		if (!folder) return undefined;
		const engine = await this.engineFor(folder);
		const name = this.board.run(runId)?.workflow ?? runId;
		// Tooltips show parameters for resumed runs too: from the workflow copy kept with the run.
		if (!this.parameters.has(runId)) {
			const workflow = await engine.runWorkflow(runId).catch(() => undefined);
			if (workflow) this.parameters.set(runId, new Map(workflow.instructions.map((i) => [i.id, i.parameters])));
		}
		return this.track(folder, name, (signal, onStart) => {
			onStart(runId);
			return engine.resume(runId, { signal, force, settings: readSettings(folder.uri).run });
		});
	}

	/** Runs `start` with cancellation, a delayed progress notification and the active-run bookkeeping. */
	private async track(
		folder: vscode.WorkspaceFolder,
		name: string,
		start: (signal: AbortSignal, onStart: (runId: string) => void) => Promise<RunResult>,
	): Promise<RunOutcome> {
		const abort = new AbortController();
		let runId: string | undefined;
		const onStart = (id: string) => {
			runId = id;
			this.active.set(id, { abort, folder });
			this.activeChanged.fire();
		};
		const running = start(abort.signal, onStart);
		const progress = this.progressAfterDelay(name, running, () => runId);
		try {
			const result = await running;
			return { runId: result.runId, status: result.status, message: result.message };
		} catch (err) {
			// A run that never started (locked, invalid state) or a state error: say so, keep nothing half-done.
			const message = describeError(err);
			this.logger.log('error', 'run', message);
			void vscode.window.showErrorMessage(`${name}: ${message}`);
			return { runId: runId ?? '', status: 'error', message };
		} finally {
			clearTimeout(progress);
			if (runId) this.releaseRun(runId);
			this.activeChanged.fire();
		}
	}

	/** A run another driver started (an orchestration session): cancellable and live like one this window ran. */
	adoptRun(runId: string, folder: vscode.WorkspaceFolder, abort: AbortController): void {
		this.active.set(runId, { abort, folder });
		this.runFolders.set(runId, folder);
		this.activeChanged.fire();
		// Tooltips show parameters: from the workflow copy kept with the run.
		void this.engineFor(folder)
			.then((engine) => engine.runWorkflow(runId))
			.then((workflow) => this.parameters.set(runId, new Map(workflow.instructions.map((i) => [i.id, i.parameters]))))
			.catch(() => undefined);
	}

	/** The run ended (or was never started here): no longer cancellable from this window. */
	releaseRun(runId: string): void {
		if (!this.active.delete(runId)) return;
		this.board.setLive(runId, false);
		this.scheduleFlush();
		this.activeChanged.fire();
		if (this.active.size === 0 && this.staleEngines) this.retireEngines();
	}

	private progressAfterDelay(name: string, running: Promise<unknown>, runId: () => string | undefined): NodeJS.Timeout {
		return setTimeout(() => {
			void vscode.window.withProgress(
				{ location: vscode.ProgressLocation.Notification, title: `Quantum Orchestrator: ${name}`, cancellable: true },
				async (progress, token) => {
					token.onCancellationRequested(() => this.cancel(runId() ?? ''));
					let reported = 0;
					const sub = this.board.onChange(() => {
						const run = this.board.run(runId() ?? '');
						if (!run || run.total === 0) return;
						const pct = (run.done / run.total) * 100;
						const waiting = run.counts.waiting ? ` · ${run.counts.waiting} waiting for your decision` : '';
						progress.report({ increment: pct - reported, message: `${run.done}/${run.total} steps${waiting}` });
						reported = pct;
					});
					try {
						await running.catch(() => undefined);
					} finally {
						sub.dispose();
					}
				},
			);
		}, PROGRESS_DELAY_MS);
	}

	cancel(runId: string): boolean {
		const run = this.active.get(runId);
		if (!run) return false;
		this.logger.log('info', 'run', `cancelling ${runId}`);
		run.abort.abort(new Error('cancelled by user'));
		this.decisions.rejectRun(runId, 'the run was cancelled');
		return true;
	}

	/** Run ids stopped when the last window closed; reading them clears the list. */
	takeRunsStoppedByClose(): string[] {
		const ids = this.context.workspaceState.get<string[]>(CLOSED_RUNS_KEY, []);
		if (ids.length) void this.context.workspaceState.update(CLOSED_RUNS_KEY, undefined);
		return ids;
	}

	dispose(): void {
		// Stop commands cleanly (no orphaned process trees); the next window offers Resume or Roll Back for these runs.
		if (this.active.size) void this.context.workspaceState.update(CLOSED_RUNS_KEY, [...this.active.keys()]);
		for (const run of this.active.values()) run.abort.abort(new Error('VS Code is closing'));
		this.decisions.rejectRun(undefined, 'VS Code is closing');
		if (this.flushTimer) clearTimeout(this.flushTimer);
		for (const d of this.disposables) d.dispose();
	}
}

/** Problems at the top level only (wrong shape, no instructions): the file is some other JSON. */
function isNotAWorkflow(err: WorkflowError): boolean {
	const problems = err.problems.length ? err.problems : [err];
	return problems.every((p) => p.code === 'json' || (p.code === 'schema' && !p.location.path?.startsWith('instructions[')));
}
