// "Orchestrate Goal…": a goal (with the recent ones to pick from) → analysis → a plan saved under .quantum/plans/ →
// review in an editor (unless autonomous) → the run, followed on the board and the status bar; failed runs are
// replanned through the decision queue. The session is core's; this file is its host.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { projectUsage } from '../core/engine/planReport';
import { describeError, WorkflowError } from '../core/errors';
import { plural } from '../core/format';
import { orchestrate, type OrchestrationEvent, type OrchestrationOutcome, type PreparedPlan } from '../core/orchestrate/session';
import { usageLine } from '../protocol/usage';
import type { Orchestrator } from './orchestrator';

const RECENT_GOALS_KEY = 'quantum.recentGoals';
const MAX_RECENT_GOALS = 10;

export interface GoalRequest {
	goal: string;
	/** Run the plan without the review (default: the `quantum.orchestrate.autonomous` setting). */
	autonomous?: boolean;
	folder?: vscode.WorkspaceFolder;
}

/** What the command resolves to (for the API and tests). */
export interface GoalOutcome {
	id: string;
	goal: string;
	outcome: OrchestrationOutcome | 'error';
	message?: string;
	/** The last plan saved (absolute). */
	planFile?: string;
	runIds: string[];
	/** True when the offline template planner made the plan. */
	offline: boolean;
}

export class GoalOrchestrations implements vscode.Disposable {
	/** Live sessions by id: their abort (the same one their runs are cancelled with). */
	private readonly sessions = new Map<string, AbortController>();
	/** Plan files by session id: the board asks to open one by id, never by path. */
	private readonly plans = new Map<string, string>();

	constructor(
		private readonly orch: Orchestrator,
		private readonly state: vscode.Memento,
	) {}

	recentGoals(): string[] {
		return this.state.get<string[]>(RECENT_GOALS_KEY, []);
	}

	/** The goal to orchestrate: type a new one, or pick a recent one. */
	async pickGoal(): Promise<string | undefined> {
		const recent = this.recentGoals();
		const pick = vscode.window.createQuickPick<vscode.QuickPickItem & { goal?: string }>();
		pick.title = 'Orchestrate Goal';
		pick.placeholder = 'What should be done? e.g. "Add input validation to the signup handler and tests for it"';
		pick.ignoreFocusOut = true;
		const recentItems = recent.map((goal) => ({ label: goal, description: 'recent', goal }));
		const refresh = () => {
			const typed = pick.value.trim();
			pick.items = typed ? [{ label: typed, description: 'new goal', alwaysShow: true, goal: typed }, ...recentItems.filter((i) => i.goal !== typed)] : recentItems;
		};
		refresh();
		return new Promise<string | undefined>((resolve) => {
			pick.onDidChangeValue(refresh);
			pick.onDidAccept(() => {
				const goal = pick.selectedItems[0]?.goal ?? (pick.value.trim() || undefined);
				resolve(goal);
				pick.hide();
			});
			pick.onDidHide(() => {
				resolve(undefined);
				pick.dispose();
			});
			pick.show();
		});
	}

	planFile(sessionId: string): string | undefined {
		return this.plans.get(sessionId);
	}

	cancel(sessionId: string): boolean {
		const abort = this.sessions.get(sessionId);
		abort?.abort(new Error('cancelled by user'));
		return abort !== undefined;
	}

	async run(request: GoalRequest): Promise<GoalOutcome | undefined> {
		const orch = this.orch;
		const folder = request.folder ?? orch.folderFor();
		if (!folder) {
			void vscode.window.showWarningMessage('Open a folder first: a goal is planned and run in a workspace folder.');
			return undefined;
		}
		const goal = request.goal.trim();
		if (!goal) return undefined;
		await this.remember(goal);
		const engine = await orch.engineFor(folder);
		const config = vscode.workspace.getConfiguration('quantum.orchestrate', folder.uri);
		const autonomous = request.autonomous ?? config.get<boolean>('autonomous', false);
		const llm = orch.llm.current();
		const planner = llm ? `the model ${llm.modelFor?.('planner') ?? llm.model}` : 'the offline templates';
		if (!llm) orch.logger.log('info', 'orchestrate', 'no LLM configured: planning with the offline rule-based planner (set quantum.llm.baseUrl and "Quantum: Set API Key" to plan with a model)');
		const abort = new AbortController();
		let sessionId = '';
		let adopted: string | undefined;
		const runIds: string[] = [];
		let reportProgress: (message: string) => void = () => undefined;

		const onEvent = (e: OrchestrationEvent) => {
			if (!sessionId) {
				sessionId = e.id;
				this.sessions.set(e.id, abort);
			}
			if (e.planFile) this.plans.set(e.id, e.planFile);
			// A session's run is this window's run: cancellable from the tree and the board, live on the status bar.
			if (e.runId && e.state === 'monitoring' && adopted !== e.runId) {
				if (adopted) orch.releaseRun(adopted);
				adopted = e.runId;
				orch.adoptRun(e.runId, folder, abort);
			} else if (adopted && e.state !== 'monitoring' && e.state !== 'escalating') {
				orch.releaseRun(adopted);
				adopted = undefined;
			}
			if (e.runId && !runIds.includes(e.runId)) runIds.push(e.runId);
			const planFile = e.planFile ? path.relative(folder.uri.fsPath, e.planFile).split(path.sep).join('/') : undefined;
			orch.board.applyOrchestration(e, { autonomous, planner, ...(planFile ? { planFile } : {}) });
			orch.scheduleFlush();
			orch.logger.log('info', 'orchestrate', `${e.id} ${e.state}${e.outcome ? ` (${e.outcome})` : ''}${e.detail ? `: ${e.detail}` : ''}`);
			reportProgress(`${e.state}${e.detail ? ` — ${e.detail}` : ''}`);
		};

		const review = async (prepared: PreparedPlan, signal: AbortSignal): Promise<boolean> => this.review(prepared, goal, signal);

		const session = orchestrate(goal, {
			engine,
			prompter: orch.decisions,
			llm,
			agents: engine.agents.list().map(({ definition: d }) => ({ name: d.name, description: d.description, capabilities: d.capabilities })),
			maxReplans: config.get<number>('maxReplans', 1),
			...(autonomous ? {} : { review }),
			onEvent,
			signal: abort.signal,
		});
		// The session runs behind a cancellable notification; decisions and the review have their own.
		void vscode.window.withProgress(
			{ location: vscode.ProgressLocation.Notification, title: `Orchestrating "${clip(goal, 60)}"`, cancellable: true },
			async (progress, token) => {
				token.onCancellationRequested(() => abort.abort(new Error('cancelled by user')));
				reportProgress = (message) => progress.report({ message });
				await session.catch(() => undefined);
			},
		);
		try {
			const result = await session;
			const last = result.plans[result.plans.length - 1]?.file;
			const outcome: GoalOutcome = { id: result.id, goal, outcome: result.outcome, runIds, offline: !llm, ...(result.message ? { message: result.message } : {}), ...(last ? { planFile: last } : {}) };
			this.report(outcome, folder);
			return outcome;
		} catch (err) {
			const message = describeError(err);
			orch.logger.log('error', 'orchestrate', `${goal}: ${message}`);
			void vscode.window.showErrorMessage(`Orchestrating "${clip(goal, 60)}" failed: ${message}`);
			return { id: sessionId, goal, outcome: 'error', message, runIds, offline: !llm, ...(this.plans.get(sessionId) ? { planFile: this.plans.get(sessionId) } : {}) };
		} finally {
			if (adopted) orch.releaseRun(adopted);
			this.sessions.delete(sessionId);
		}
	}

	/** The plan opens in an editor; a notification asks Run / Cancel. What runs is the saved file, after any edits. */
	private async review(prepared: PreparedPlan, goal: string, signal: AbortSignal): Promise<boolean> {
		const uri = vscode.Uri.file(prepared.saved.file);
		const doc = await vscode.workspace.openTextDocument(uri);
		await vscode.window.showTextDocument(doc, { preview: false });
		for (;;) {
			const summary = await this.describePlan(uri);
			const offline = prepared.planned.planner === 'templates' ? ' (offline planner)' : '';
			const choice = await untilAborted(
				vscode.window.showInformationMessage(`Review the plan for "${clip(goal, 60)}"${offline}: ${summary}. Edit and save it if you like, then run it.`, 'Run', 'Cancel'),
				signal,
			);
			if (choice !== 'Run') return false;
			if (doc.isDirty) await doc.save();
			// Validated as it is on disk now; problems go to the Problems panel and the question is asked again.
			if (await this.orch.load(uri)) return true;
		}
	}

	private async describePlan(uri: vscode.Uri): Promise<string> {
		const folder = this.orch.folderFor(uri);
		if (!folder) return 'saved';
		const engine = await this.orch.engineFor(folder);
		try {
			const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
			const workflow = doc ? engine.parse(doc.getText(), uri.fsPath) : await engine.load(uri.fsPath);
			const plan = await engine.plan(workflow);
			const lookups = engine.planLookups();
			const asks = plan.steps.filter((s) => lookups.approvalOf?.(s)).length;
			const usage = projectUsage(plan, lookups.usageOf);
			const parts = [plural(plan.steps.length, 'step'), plural(plan.graph.levelCount, 'level')];
			if (asks) parts.push(`${asks} will ask before running`);
			if (usage.tokens) parts.push(`about ${usageLine({ promptTokens: usage.tokens, completionTokens: 0, costUsd: usage.unpriced === usage.steps.length ? undefined : usage.costUsd, calls: usage.steps.length, unpricedCalls: usage.unpriced })}`);
			return parts.join(', ');
		} catch (err) {
			return WorkflowError.is(err) ? 'the plan has problems (see the Problems panel when you run it)' : 'saved';
		}
	}

	private report(o: GoalOutcome, folder: vscode.WorkspaceFolder): void {
		const plan = o.planFile ? vscode.Uri.file(o.planFile) : undefined;
		const run = o.runIds[o.runIds.length - 1];
		const text =
			o.outcome === 'planned'
				? `Plan saved, not run: ${plan ? vscode.workspace.asRelativePath(plan) : ''}`
				: `Goal ${o.outcome}${run ? ` (run ${run})` : ''}${o.message && o.outcome !== 'succeeded' ? ` — ${o.message}` : ''}`;
		const actions = o.outcome === 'planned' ? ['Open Plan', 'Run It'] : ['Show Board', 'Open Plan'];
		const calm = o.outcome === 'succeeded' || o.outcome === 'planned' || o.outcome === 'cancelled';
		void (calm ? vscode.window.showInformationMessage : vscode.window.showErrorMessage)(text, ...actions).then((choice) => {
			if (choice === 'Show Board') void vscode.commands.executeCommand('quantum.showBoard');
			else if (choice === 'Open Plan' && plan) void vscode.window.showTextDocument(plan);
			else if (choice === 'Run It' && plan) void vscode.commands.executeCommand('quantum.runWorkflowFile', plan);
		});
		this.orch.logger.log('info', 'orchestrate', `${o.id} ended ${o.outcome} in ${folder.name}${o.message ? `: ${o.message}` : ''}`);
	}

	private async remember(goal: string): Promise<void> {
		const recent = [goal, ...this.recentGoals().filter((g) => g !== goal)].slice(0, MAX_RECENT_GOALS);
		await this.state.update(RECENT_GOALS_KEY, recent);
	}

	dispose(): void {
		for (const abort of this.sessions.values()) abort.abort(new Error('VS Code is closing'));
	}
}

/** A notification's answer, or undefined as soon as the session is cancelled (the toast may stay; its answer is moot). */
function untilAborted<T>(thenable: Thenable<T | undefined>, signal: AbortSignal): Promise<T | undefined> {
	if (signal.aborted) return Promise.resolve(undefined);
	return new Promise((resolve) => {
		const onAbort = () => resolve(undefined);
		signal.addEventListener('abort', onAbort, { once: true });
		thenable.then(
			(v) => {
				signal.removeEventListener('abort', onAbort);
				resolve(v);
			},
			() => resolve(undefined),
		);
	});
}

function clip(text: string, max: number): string {
	return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
