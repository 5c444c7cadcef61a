// Wiring only: the output channel, the orchestrator, views, commands and the API. Everything else lives elsewhere.
import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import type { LogLevel } from '../core/ports';
import { channelLogger } from './adapters/logger';
import { readSettings } from './adapters/settings';
import { AgentsUi } from './agents';
import type { AgentsApi, QuantumApi } from './api';
import { createCommands } from './commands';
import { COMMAND_IDS, VIEW_IDS } from './commandIds';
import { DecisionUi, PREVIEW_SCHEME, PreviewDocuments } from './decisionUi';
import { offerInterruptedRuns } from './interrupted';
import { LlmService } from './llm';
import { agentInfo } from './model/agentsView';
import { GoalOrchestrations } from './orchestrateGoal';
import { Orchestrator, type SuggestionPrompt } from './orchestrator';
import { QualityDiagnostics } from './qualityDiagnostics';
import { OperationsTree } from './views/operationsTree';
import { MetricsFeed } from './metrics';
import { WorkspaceServices } from './services';
import { RunStatusBar } from './views/statusBar';
import { BoardViewProvider } from './webview/boardView';
import { createBoardHandlers } from './webview/boardHandlers';
import { waitForDecision } from './waitForDecision';

export function activate(context: vscode.ExtensionContext): QuantumApi {
	const started = performance.now();
	const channel = vscode.window.createOutputChannel('Quantum Orchestrator', { log: true });
	let logLevel: LogLevel = readSettings().logLevel;
	const logger = channelLogger(channel, () => logLevel);
	const previews = new PreviewDocuments();
	// The decision UI and the board need the orchestrator, which reports decisions to them: late-bound through `ui`.
	const ui: { decisions?: DecisionUi; board?: BoardViewProvider } = {};
	const llm = new LlmService(context.secrets, logger);
	// Learned decisions are offered, never applied: "always allow" only when the person says yes.
	const askSuggestion: SuggestionPrompt = async (message) => {
		const choice = await vscode.window.showInformationMessage(`Quantum Orchestrator: ${message}`, 'Yes', "Don't Ask Again");
		return choice === 'Yes' ? 'allow' : choice === "Don't Ask Again" ? 'dismiss' : undefined;
	};
	const orchestrator = new Orchestrator(context, logger, llm, (request) => ui.decisions?.notify(request, readSettings().notifyDecisions), askSuggestion);
	const metrics = new MetricsFeed(orchestrator);
	const services = new WorkspaceServices(orchestrator, context.secrets, (folder) => metrics.prometheusText(folder));
	stopServices = async () => {
		await services.stopAll();
		await metrics.close();
	};
	const tree = new OperationsTree(orchestrator, services);
	const treeView = vscode.window.createTreeView(VIEW_IDS.operations, { treeDataProvider: tree, showCollapseAll: true });
	const decisionUi = new DecisionUi(
		orchestrator,
		previews,
		(id) => ui.board?.focusDecision(id) ?? Promise.resolve(),
		() => ui.board?.visible ?? false,
	);
	ui.decisions = decisionUi;
	const refresh = async () => {
		for (const folder of vscode.workspace.workspaceFolders ?? []) {
			const engine = await orchestrator.engineFor(folder);
			orchestrator.board.addHistory(await engine.runs());
		}
		orchestrator.scheduleFlush();
	};
	const goals = new GoalOrchestrations(orchestrator, context.workspaceState);
	const agentsUi = new AgentsUi(orchestrator, previews);
	const commands = createCommands({ orchestrator, decisionUi, previews, llm, goals, agents: agentsUi, services, refresh });
	const board = new BoardViewProvider(context.extensionUri, orchestrator.board, createBoardHandlers(orchestrator, decisionUi, commands, goals), logger);
	ui.board = board;
	board.metricsSource = () => metrics.view();

	context.subscriptions.push(
		channel,
		llm,
		orchestrator,
		metrics,
		metrics.onDidChange((m) => board.showMetrics(m)),
		services,
		goals,
		agentsUi,
		tree,
		treeView,
		board,
		decisionUi,
		new RunStatusBar(orchestrator),
		new QualityDiagnostics(orchestrator),
		vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, previews),
		vscode.window.registerWebviewViewProvider(VIEW_IDS.board, board),
		...COMMAND_IDS.map((id) => vscode.commands.registerCommand(id, commands[id])),
		vscode.workspace.onDidChangeConfiguration((e) => {
			if (e.affectsConfiguration('quantum.logLevel')) logLevel = readSettings().logLevel;
		}),
		orchestrator.board.onChange((change) => {
			if (!change.decisionsChanged) return;
			const n = orchestrator.board.snapshot().decisions.length;
			treeView.badge = n ? { value: n, tooltip: `${n} step${n === 1 ? '' : 's'} waiting for your decision` } : undefined;
			void vscode.commands.executeCommand('setContext', 'quantum.hasPendingDecisions', n > 0);
		}),
		orchestrator.onDidChangeActive(() => {
			void vscode.commands.executeCommand('setContext', 'quantum.hasActiveRun', orchestrator.activeRunIds().length > 0);
		}),
	);

	// Runs left behind by a reload or a crash: offer Resume or Roll Back (after activation, never blocking it).
	if (vscode.workspace.isTrusted) setTimeout(() => void offerInterruptedRuns(orchestrator).catch(() => undefined), 0);
	// The API, inbox and schedules (issue 5): after activation, only in a trusted workspace (checked per start).
	setTimeout(() => services.startAll(), 0);
	const activationMs = performance.now() - started;
	logger.log('info', 'activate', `activated in ${activationMs.toFixed(1)} ms`);

	const engineOf = async (folder?: string) => {
		const f = folder ? vscode.workspace.getWorkspaceFolder(vscode.Uri.file(folder)) : orchestrator.folderFor();
		if (!f) throw new Error(folder ? `${folder} is not in an open workspace folder` : 'no workspace folder is open');
		return orchestrator.engineFor(f);
	};
	const agents: AgentsApi = {
		list: async (folder) => (await engineOf(folder)).agents.list().map(agentInfo),
		register: (agent, options) => orchestrator.registerAgent(agent, options),
		unregister: (name) => orchestrator.unregisterAgent(name),
		health: async (name, folder) => {
			const engine = await engineOf(folder);
			const env = { llmConfigured: llm.configured, workspaceRoot: engine.workspace };
			return name ? [await engine.agents.health(name, env)] : engine.agents.healthAll(env);
		},
		workload: async (name, folder) => (await engineOf(folder)).agents.workload(name),
		metrics: async (name, folder) => (await engineOf(folder)).agents.metrics(name),
	};

	return {
		tree: () => tree.snapshot(),
		board: () => orchestrator.board.snapshot(),
		pendingDecisions: () => orchestrator.board.snapshot().decisions,
		answer: async (ids, reply) => void (await orchestrator.decisions.answer(ids, reply)),
		waitForDecision: (stepId, timeoutMs) => waitForDecision(orchestrator.board, stepId, timeoutMs),
		onDidChange: (listener) => orchestrator.board.onChange(() => listener()),
		allowedRules: () => orchestrator.allowedRules(),
		activationMs,
		agents,
		requestDecision: (request) => orchestrator.requestDecision({ ...request, id: request.id ?? `ext-${randomUUID()}` }),
		llmStatus: () => llm.describe(),
		services: async () => {
			await services.settled();
			return services.describe();
		},
		metrics: () => metrics.view(),
		logFolder: context.logUri.fsPath,
	};
}

let stopServices: (() => Promise<void>) | undefined;

/** Waits for the background services to stop (api.json removed, the inbox watcher closed). */
export function deactivate(): Promise<void> | undefined {
	return stopServices?.();
}
