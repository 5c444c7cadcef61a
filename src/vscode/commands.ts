// Every command's handler, in one Record<CommandId, …>: adding an id without a handler is a compile error.
import * as vscode from 'vscode';
import { printPlan } from '../core/engine/planReport';
import { describeError } from '../core/errors';
import { plural } from '../core/format';
import { describeRule } from '../core/policy/escalation';
import type { RunOutcome } from './api';
import type { CommandId } from './commandIds';
import { decisionIdsOf, PREVIEW_SCHEME, type DecisionUi, type PreviewDocuments } from './decisionUi';
import type { AgentsUi } from './agents';
import type { LlmService } from './llm';
import type { GoalOrchestrations } from './orchestrateGoal';
import type { Orchestrator } from './orchestrator';
import { pickRun, pickWorkflowFile, runIdOf } from './pickers';
import type { WorkspaceServices } from './services';
import { createTriggerCommands } from './triggerCommands';

export interface CommandDeps {
	orchestrator: Orchestrator;
	decisionUi: DecisionUi;
	previews: PreviewDocuments;
	llm: LlmService;
	goals: GoalOrchestrations;
	agents: AgentsUi;
	services: WorkspaceServices;
	refresh(): Promise<void>;
}

type Handler = (...args: unknown[]) => unknown;

/** Runs nothing in an untrusted workspace, and says why and how to change it. */
function trusted(): boolean {
	if (vscode.workspace.isTrusted) return true;
	void vscode.window
		.showWarningMessage(
			'Quantum Orchestrator runs nothing in an untrusted workspace: workflows run commands and change files. Trust this folder to run workflows.',
			'Manage Workspace Trust',
		)
		.then((c) => c && vscode.commands.executeCommand('workbench.trust.manage'));
	return false;
}

function reportOutcome(outcome: RunOutcome | undefined, name?: string): RunOutcome | undefined {
	if (!outcome || outcome.status === 'error') return outcome;
	const text = `${name ?? 'Run'} ${outcome.status.replace('_', ' ')}${outcome.message ? ` — ${outcome.message}` : ''} (run ${outcome.runId})`;
	const actions = outcome.status === 'succeeded' ? ['Show Board'] : ['Show Board', 'Open Run Log'];
	// A run the user cancelled is no error; a failed or rejected one is.
	const calm = outcome.status === 'succeeded' || outcome.status === 'cancelled';
	const show = calm ? vscode.window.showInformationMessage : vscode.window.showErrorMessage;
	void show(text, ...actions).then((choice) => {
		if (choice === 'Show Board') void vscode.commands.executeCommand('quantum.showBoard');
		if (choice === 'Open Run Log') void vscode.commands.executeCommand('quantum.openRunLog', outcome.runId);
	});
	return outcome;
}

function activeJsonUri(): vscode.Uri | undefined {
	const doc = vscode.window.activeTextEditor?.document;
	return doc && (doc.languageId === 'json' || doc.languageId === 'jsonc' || doc.fileName.endsWith('.json')) ? doc.uri : undefined;
}

async function openVirtual(previews: PreviewDocuments, path: string, text: string): Promise<void> {
	const uri = vscode.Uri.from({ scheme: PREVIEW_SCHEME, path });
	previews.set(uri, text);
	const doc = await vscode.workspace.openTextDocument(uri);
	await vscode.window.showTextDocument(doc, { preview: true });
}

export function createCommands(deps: CommandDeps): Record<CommandId, Handler> {
	const { orchestrator: orch, decisionUi, previews } = deps;

	const report = (outcome: RunOutcome | undefined) => reportOutcome(outcome, outcome && orch.board.run(outcome.runId)?.workflow);
	const runUri = async (uri: vscode.Uri | undefined) => (uri && trusted() ? report(await orch.runFile(uri)) : undefined);

	const withRun =
		(statuses: readonly string[] | undefined, title: string, fn: (runId: string, options?: unknown) => Promise<unknown>) =>
		async (arg?: unknown, options?: unknown) => {
			const runId = runIdOf(arg) ?? (await pickRun(orch, statuses, title));
			return runId ? fn(runId, options) : undefined;
		};

	const rollback = async (runId: string, options?: unknown) => {
		const confirm = !(options && typeof options === 'object' && (options as { confirm?: unknown }).confirm === false);
		if (!trusted()) return undefined;
		if (orch.isActive(runId)) {
			void vscode.window.showWarningMessage(`Run ${runId} is still running: cancel it first, then roll it back.`);
			return undefined;
		}
		const ok = !confirm
			? 'Roll Back'
			: await vscode.window.showWarningMessage(
			`Roll back "${orch.board.run(runId)?.workflow ?? runId}" (run ${runId})?`,
			{ modal: true, detail: 'Every file it changed is put back byte for byte, files it created are removed, and its undo steps run.' },
			'Roll Back',
		);
		if (ok !== 'Roll Back') return undefined;
		const folder = orch.folderOfRun(runId) ?? orch.folderFor();
		if (!folder) return undefined;
		const engine = await orch.engineFor(folder);
		try {
			let r = await engine.rollback(runId);
			if (r.conflicts.length) {
				const list = r.conflicts.slice(0, 5).map((c) => `${c.path}: ${c.reason}`).join('\n');
				const force = await vscode.window.showWarningMessage(
					`${plural(r.conflicts.length, 'path')} changed after run ${runId} and were left alone.`,
					{ modal: true, detail: `${list}\n\nForce overwrites those later changes with the content from before the run.` },
					'Force Roll Back',
				);
				if (force !== 'Force Roll Back') return r;
				r = await engine.rollback(runId, { force: true });
			}
			void vscode.window.showInformationMessage(`Rolled back ${runId}: ${plural(r.restored, 'file')} restored, ${r.removed} removed.`);
			return r;
		} catch (err) {
			void vscode.window.showErrorMessage(`Roll back failed: ${describeError(err)}`);
			return undefined;
		}
	};

	const engineOfRun = async (runId: string) => {
		const folder = orch.folderOfRun(runId) ?? orch.folderFor();
		return folder ? orch.engineFor(folder) : undefined;
	};

	return {
		...createTriggerCommands(deps.orchestrator, deps.services),
		'quantum.runWorkflowFile': async (arg?: unknown) => runUri(arg instanceof vscode.Uri ? arg : await pickWorkflowFile()),
		'quantum.runCurrentFile': async () => {
			const uri = activeJsonUri();
			if (!uri) {
				void vscode.window.showWarningMessage('Open a workflow JSON file in the editor first.');
				return undefined;
			}
			return runUri(uri);
		},
		'quantum.runAsWorkflow': async (arg?: unknown) => runUri(arg instanceof vscode.Uri ? arg : activeJsonUri()),
		'quantum.validateWorkflow': async (arg?: unknown) => {
			const uri = arg instanceof vscode.Uri ? arg : (activeJsonUri() ?? (await pickWorkflowFile()));
			if (!uri) return undefined;
			const loaded = await orch.load(uri);
			if (!loaded) return { valid: false };
			const plan = await loaded.engine.plan(loaded.workflow);
			void vscode.window.showInformationMessage(
				`${vscode.workspace.asRelativePath(uri)} is a valid workflow: ${plural(plan.steps.length, 'step')} in ${plural(plan.graph.levelCount, 'level')}.`,
			);
			return { valid: true, steps: plan.steps.length };
		},
		'quantum.planWorkflow': async (arg?: unknown) => {
			const uri = arg instanceof vscode.Uri ? arg : (activeJsonUri() ?? (await pickWorkflowFile()));
			if (!uri) return undefined;
			const loaded = await orch.load(uri);
			if (!loaded) return undefined;
			const plan = await loaded.engine.plan(loaded.workflow);
			const lines: string[] = [];
			printPlan(plan, (l) => lines.push(l), loaded.engine.planLookups());
			await openVirtual(previews, `/plan/${vscode.workspace.asRelativePath(uri)}.plan.txt`, lines.join('\n') + '\n');
			return plan.steps.length;
		},
		'quantum.cancelRun': async (arg?: unknown) => {
			const runId = runIdOf(arg) ?? (await pickRun(orch, ['running'], 'Cancel which run?', true));
			if (runId && !orch.cancel(runId)) void vscode.window.showInformationMessage(`Run ${runId} is not running in this window.`);
			return runId;
		},
		'quantum.retryFailedStep': withRun(['failed', 'cancelled', 'rejected', 'interrupted'], 'Retry the failed steps of which run?', async (runId) =>
			trusted() ? report(await orch.resume(runId)) : undefined,
		),
		'quantum.resumeRun': withRun(['interrupted', 'failed', 'cancelled', 'rejected'], 'Resume which run?', async (runId) =>
			trusted() ? report(await orch.resume(runId)) : undefined,
		),
		'quantum.rollbackRun': withRun(['succeeded', 'failed', 'cancelled', 'rejected', 'interrupted'], 'Roll back which run?', rollback),
		'quantum.commitRun': withRun(['succeeded', 'failed', 'cancelled', 'rejected'], 'Commit which run? (it can no longer be rolled back)', async (runId) => {
			const engine = await engineOfRun(runId);
			if (!engine) return undefined;
			try {
				await engine.commit(runId);
				orch.board.setCommitted(runId);
				orch.scheduleFlush();
				void vscode.window.showInformationMessage(`Committed ${runId}: its changes are final and its before-images are released.`);
				return runId;
			} catch (err) {
				void vscode.window.showErrorMessage(`Commit failed: ${describeError(err)}`);
				return undefined;
			}
		}),
		'quantum.createCheckpoint': async (arg?: unknown) => {
			if (!trusted()) return undefined;
			const folder = orch.folderFor();
			if (!folder) return undefined;
			const name =
				typeof arg === 'string'
					? arg
					: await vscode.window.showInputBox({
							title: 'Create Checkpoint',
							prompt: 'Name (letters, digits, - _ .)',
							validateInput: (v) => (/^[\w.-]{1,64}$/.test(v) ? undefined : 'Use 1–64 letters, digits, -, _ or .'),
						});
			if (!name) return undefined;
			try {
				const info = await (await orch.engineFor(folder)).checkpoints.create(name);
				void vscode.window.showInformationMessage(`Checkpoint ${info.name} saved (${plural(info.files, 'file')}).`);
				return info;
			} catch (err) {
				void vscode.window.showErrorMessage(`Checkpoint failed: ${describeError(err)}`);
				return undefined;
			}
		},
		'quantum.restoreCheckpoint': async (arg?: unknown) => {
			if (!trusted()) return undefined;
			const folder = orch.folderFor();
			if (!folder) return undefined;
			const engine = await orch.engineFor(folder);
			let name = typeof arg === 'string' ? arg : undefined;
			if (!name) {
				const list = await engine.checkpoints.list();
				if (!list.length) {
					void vscode.window.showInformationMessage('No checkpoints yet: create one with "Create Checkpoint".');
					return undefined;
				}
				const pick = await vscode.window.showQuickPick(
					list.map((c) => ({ label: c.name, description: `${plural(c.files, 'file')} · ${new Date(c.createdAt).toLocaleString()}` })),
					{ title: 'Restore which checkpoint? (the restore is itself a run you can roll back)' },
				);
				name = pick?.label;
			}
			if (!name) return undefined;
			try {
				const r = await engine.checkpoints.restore(name);
				void vscode.window.showInformationMessage(`Restored checkpoint ${name} as run ${r.runId}: ${plural(r.restored, 'file')} restored.`);
				await deps.refresh();
				return r;
			} catch (err) {
				void vscode.window.showErrorMessage(`Restore failed: ${describeError(err)}`);
				return undefined;
			}
		},
		'quantum.showBoard': () => vscode.commands.executeCommand('quantum.board.focus'),
		'quantum.openRunLog': withRun(undefined, 'Open the log of which run?', async (runId) => {
			if (!orch.log.has(runId)) {
				// Not driven by this window (the CLI, another window, before a reload): tell it from the journal.
				const engine = await engineOfRun(runId);
				const lines = engine ? await engine.runLog(runId).catch((err: unknown) => [`could not read the run's journal: ${describeError(err)}`]) : [];
				return openVirtual(previews, `/log/${runId}.log`, `${lines.join('\n')}\n`);
			}
			return openVirtual(previews, `/log/${runId}.log`, orch.log.text(runId));
		}),
		'quantum.openStepOutput': async (arg?: unknown) => {
			const a = arg as { runId?: string; stepId?: string } | undefined;
			if (!a?.runId || !a.stepId) return undefined;
			return openVirtual(previews, `/output/${a.runId}/${a.stepId}.log`, orch.log.stepText(a.runId, a.stepId));
		},
		'quantum.showDecision': async (arg?: unknown) => {
			const ids = decisionIdsOf(arg, orch.board) ?? (await decisionUi.pick('Show which decision?'));
			if (ids[0]) await decisionUi.show(ids[0]);
		},
		'quantum.approveDecision': async (arg?: unknown) => {
			const ids = decisionIdsOf(arg, orch.board) ?? (await decisionUi.pick('Approve which steps?'));
			if (ids.length) await decisionUi.answer(ids, { approve: true });
		},
		'quantum.rejectDecision': async (arg?: unknown) => {
			const ids = decisionIdsOf(arg, orch.board) ?? (await decisionUi.pick('Reject which steps?'));
			if (ids.length) await decisionUi.reject(ids);
		},
		'quantum.refreshRuns': () => deps.refresh(),
		'quantum.manageAllowedRules': async () => {
			const rules = orch.allowedRules();
			if (rules.length === 0) {
				void vscode.window.showInformationMessage('No rules are always allowed in this workspace: every escalation asks.');
				return [];
			}
			const picked = await vscode.window.showQuickPick(
				rules.map((rule) => ({ label: describeRule(rule), description: rule, rule })),
				{ title: 'Always-allowed rules in this workspace: select the ones to revoke', canPickMany: true },
			);
			if (!picked?.length) return [];
			await orch.revokeRules(picked.map((p) => p.rule));
			void vscode.window.showInformationMessage(`Revoked ${plural(picked.length, 'rule')}: those steps ask again.`);
			return picked.map((p) => p.rule);
		},
		'quantum.orchestrateGoal': async (arg?: unknown) => {
			if (!trusted()) return undefined;
			const a = typeof arg === 'string' ? { goal: arg } : (arg as { goal?: unknown; autonomous?: unknown } | undefined);
			const goal = typeof a?.goal === 'string' ? a.goal : await deps.goals.pickGoal();
			if (!goal?.trim()) return undefined;
			return deps.goals.run({ goal, ...(typeof a?.autonomous === 'boolean' ? { autonomous: a.autonomous } : {}) });
		},
		'quantum.showAgents': () => deps.agents.show(),
		'quantum.newAgent': (arg?: unknown) => deps.agents.newAgent(typeof arg === 'string' ? arg : undefined),
		'quantum.setApiKey': async (arg?: unknown) => {
			// A string argument is for scripts and tests; people type the key into a password box.
			const key =
				typeof arg === 'string'
					? arg
					: await vscode.window.showInputBox({
							title: 'Quantum: Set API Key',
							prompt: 'The key of your OpenAI-compatible endpoint. It is kept in VS Code\'s secret storage, never in settings or logs.',
							placeHolder: 'sk-…',
							password: true,
							ignoreFocusOut: true,
							validateInput: (v) => (v.trim() && !/\s/.test(v.trim()) ? undefined : 'A key is one word without spaces'),
						});
			if (!key?.trim()) return false;
			await deps.llm.setKey(key.trim());
			const endpoint = deps.llm.configured ? '' : ' Set the endpoint too: quantum.llm.baseUrl.';
			void vscode.window.showInformationMessage(`API key saved in VS Code's secret storage.${endpoint}`, ...(endpoint ? ['Open Settings'] : [])).then((c) => {
				if (c) void vscode.commands.executeCommand('workbench.action.openSettings', 'quantum.llm');
			});
			return true;
		},
		'quantum.clearApiKey': async () => {
			const had = await deps.llm.clearKey();
			void vscode.window.showInformationMessage(had ? 'API key removed from secret storage.' : 'No API key was stored (an OPENAI_API_KEY in the environment, if any, still applies).');
			return had;
		},
	};
}
