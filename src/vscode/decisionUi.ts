// Pending decisions outside the board: a notification per decision, a real diff for file steps, quick picks to
// answer several at once from the palette or the tree.
import * as vscode from 'vscode';
import type { DecisionRequest, ProposedChange } from '../core/ports';
import type { DecisionView } from '../protocol/viewModels';
import type { DecisionReply } from './api';
import type { Orchestrator } from './orchestrator';

export const PREVIEW_SCHEME = 'quantum-preview';

/** Read-only documents for the before/after sides of a decision's diff. */
export class PreviewDocuments implements vscode.TextDocumentContentProvider {
	private readonly texts = new Map<string, string>();

	set(uri: vscode.Uri, text: string): void {
		this.texts.set(uri.toString(), text);
		if (this.texts.size > 200) this.texts.delete(this.texts.keys().next().value as string);
	}

	provideTextDocumentContent(uri: vscode.Uri): string {
		return this.texts.get(uri.toString()) ?? '';
	}
}

export class DecisionUi implements vscode.Disposable {
	/** Diff tabs opened for decisions, closed once the decision is answered (their "now" side would go stale). */
	private readonly diffs = new Map<string, string>();
	private readonly sub: { dispose(): void };

	constructor(
		private readonly orchestrator: Orchestrator,
		private readonly previews: PreviewDocuments,
		private readonly focusInBoard: (decisionId: string) => Promise<void>,
		private readonly boardVisible: () => boolean,
	) {
		this.sub = orchestrator.board.onChange((change) => {
			if (change.decisionsChanged && this.diffs.size) void this.closeAnsweredDiffs();
		});
	}

	private async closeAnsweredDiffs(): Promise<void> {
		const pending = new Set(this.orchestrator.board.snapshot().decisions.map((d) => d.id));
		const gone = new Set<string>();
		for (const [key, uri] of this.diffs) {
			if (pending.has(key.split('\u0000')[0])) continue;
			gone.add(uri);
			this.diffs.delete(key);
		}
		const shows = (t: vscode.Tab) =>
			(t.input instanceof vscode.TabInputTextDiff && gone.has(t.input.modified.toString())) || (t.input instanceof vscode.TabInputText && gone.has(t.input.uri.toString()));
		const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter(shows);
		if (tabs.length) await vscode.window.tabGroups.close(tabs, true);
	}

	dispose(): void {
		this.sub.dispose();
	}

	/** A decision arrived: offer it in a notification unless the board is already in view or the user turned it off. */
	notify(request: DecisionRequest, enabled: boolean): void {
		if (!enabled || this.boardVisible()) return;
		const what: Record<DecisionRequest['kind'], string> = {
			approval: 'needs your approval',
			'in-doubt': 'was interrupted and may have run already',
			proposal: `proposes a change${request.changes?.length ? ` to ${request.changes.length === 1 ? request.changes[0].path : `${request.changes.length} files`}` : ''}`,
			budget: 'reached a budget threshold',
			replan: 'failed; a revised plan waits for you',
		};
		const show = request.changes?.length ? 'Show Diff' : request.details ? 'Show Details' : 'Show';
		void vscode.window
			.showWarningMessage(`Quantum Orchestrator: ${request.stepId} ${what[request.kind]} — ${request.summary} (${request.reason})`, 'Approve', 'Reject…', show)
			.then(async (choice) => {
				if (choice === 'Approve') await this.answer([request.id], { approve: true });
				else if (choice === 'Reject…') await this.reject([request.id]);
				else if (choice === show) await this.show(request.id);
			});
	}

	/**
	 * Opens what the step will do: a diff per file for proposed changes and file steps, the text to read (a plan's diff,
	 * budget figures) for decisions that carry one, else the board entry (command line and cwd).
	 */
	async show(decisionId: string): Promise<void> {
		const d = this.orchestrator.board.decision(decisionId);
		if (!d) {
			void vscode.window.showInformationMessage('That decision is no longer pending.');
			return;
		}
		const request = this.orchestrator.decisions.get(decisionId);
		if (request?.changes?.length) return this.showChanges(d, request.changes);
		if (d.details !== undefined && d.type !== 'file') return this.showDetails(d);
		if (d.type === 'file' && d.file) {
			const folder = this.orchestrator.folderOfRun(d.runId);
			const engine = folder && (await this.orchestrator.engineFor(folder));
			const preview = engine && (await engine.previewFileChange(d.operation, d.parameters));
			if (preview) {
				const base = `/${encodeURIComponent(d.id)}`;
				const before = vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: `${base}/current/${preview.path}` });
				const after = vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: `${base}/after/${preview.path}` });
				this.previews.set(before, preview.before);
				const deleted = d.operation === 'delete';
				this.previews.set(after, deleted ? '' : (preview.after ?? `(${preview.note ?? 'the result is known only when the step runs'})`));
				this.diffs.set(d.id, after.toString());
				const title = deleted ? `${preview.path}: now ↔ deleted by ${d.stepId} (waiting for approval)` : `${preview.path}: now ↔ after ${d.stepId} (waiting for approval)`;
				await vscode.commands.executeCommand('vscode.diff', before, after, title, { preview: true });
				if (preview.note) void vscode.window.showInformationMessage(`${d.stepId}: ${preview.note}`);
				return;
			}
		}
		await this.focusInBoard(decisionId);
	}

	/** One `vscode.diff` per file a proposal would change (before ↔ after), closed once the decision is answered. */
	private async showChanges(d: DecisionView, changes: readonly ProposedChange[]): Promise<void> {
		const base = `/${encodeURIComponent(d.id)}`;
		for (const change of changes) {
			const before = vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: `${base}/current/${change.path}` });
			const after = vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: `${base}/proposed/${change.path}` });
			this.previews.set(before, change.before ?? '');
			this.previews.set(after, change.after ?? '');
			const verb = change.before === null ? 'created' : change.after === null ? 'deleted' : 'changed';
			await vscode.commands.executeCommand('vscode.diff', before, after, `${change.path}: now ↔ ${verb} by ${d.stepId} (proposed, waiting for you)`, { preview: changes.length === 1 });
			this.diffs.set(`${d.id}\u0000${change.path}`, after.toString());
		}
	}

	/** The text a decision carries (a revised plan's diff, budget figures), in a read-only editor. */
	private async showDetails(d: DecisionView): Promise<void> {
		const diff = d.kind === 'replan';
		const uri = vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: `/decision/${encodeURIComponent(d.id)}${diff ? '.diff' : '.txt'}` });
		this.previews.set(uri, `${d.summary}\n${d.reason}\n\n${d.details ?? ''}\n`);
		this.diffs.set(d.id, uri.toString());
		const doc = await vscode.workspace.openTextDocument(uri);
		await vscode.window.showTextDocument(doc, { preview: true });
	}

	async answer(ids: string[], reply: DecisionReply): Promise<void> {
		const { stale } = await this.orchestrator.decisions.answer(ids, reply);
		if (stale.length === ids.length) void vscode.window.showInformationMessage('Already answered: that decision is no longer pending.');
	}

	async reject(ids: string[]): Promise<void> {
		const reason = await vscode.window.showInputBox({
			title: `Reject ${ids.length === 1 ? 'this step' : `${ids.length} steps`}`,
			prompt: 'Why? (shown in the run log; optional)',
			placeHolder: 'reason',
		});
		if (reason === undefined) return;
		await this.answer(ids, { approve: false, reason: reason || undefined });
	}

	/** Lets the user pick one or more pending decisions (all preselected when `preselect` is empty). */
	async pick(title: string, preselect: string[] = []): Promise<string[]> {
		const pending = this.orchestrator.board.snapshot().decisions;
		if (pending.length === 0) {
			void vscode.window.showInformationMessage('No decisions are waiting.');
			return [];
		}
		if (pending.length === 1) return [pending[0].id];
		const items = pending.map((d) => ({ label: d.stepId, description: d.summary, detail: d.reason, picked: preselect.includes(d.id), id: d.id }));
		const chosen = await vscode.window.showQuickPick(items, { title, canPickMany: true, matchOnDescription: true, matchOnDetail: true });
		return chosen?.map((c) => c.id) ?? [];
	}
}

/** Decision ids from a command's argument: an id, a tree step node, a list, or nothing (ask). */
export function decisionIdsOf(arg: unknown, board: { decisionOfStep(runId: string, stepId: string): string | undefined }): string[] | undefined {
	if (typeof arg === 'string') return [arg];
	if (Array.isArray(arg)) return arg.flatMap((a) => decisionIdsOf(a, board) ?? []);
	if (arg && typeof arg === 'object' && 'stepId' in arg && 'runId' in arg) {
		const id = board.decisionOfStep(String((arg as { runId: unknown }).runId), String((arg as { stepId: unknown }).stepId));
		return id ? [id] : [];
	}
	return undefined;
}

export type { DecisionView };
