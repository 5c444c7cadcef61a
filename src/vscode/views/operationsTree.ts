// The Operations tree: runs → steps, live. Refreshes only the runs that changed in each board flush.
import * as vscode from 'vscode';
import type { RunView } from '../../protocol/viewModels';
import type { TreeItemView } from '../api';
import { runItem, STATE_ICON, stepItem } from '../model/treeModel';
import type { Orchestrator } from '../orchestrator';

type Node = { kind: 'run'; runId: string } | { kind: 'step'; runId: string; stepId: string };

export class OperationsTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
	private readonly changed = new vscode.EventEmitter<Node | undefined>();
	readonly onDidChangeTreeData = this.changed.event;
	/** Stable node objects: VS Code refreshes an element by identity. */
	private readonly runNodes = new Map<string, Node>();
	private readonly stepNodes = new Map<string, Map<string, Node>>();
	private readonly sub: vscode.Disposable;
	private knownRuns = '';
	/** Running runs' elapsed time moves even when no step changes (a run waiting for a decision). */
	private readonly ticker = setInterval(() => this.tick(), 1000);

	constructor(private readonly orchestrator: Orchestrator) {
		this.sub = orchestrator.board.onChange((change) => {
			const order = orchestrator.board
				.snapshot()
				.runs.map((r) => r.runId)
				.join(',');
			if (order !== this.knownRuns) {
				this.knownRuns = order;
				const present = new Set(order.split(','));
				for (const id of [...this.runNodes.keys()]) {
					if (present.has(id)) continue;
					this.runNodes.delete(id);
					this.stepNodes.delete(id);
				}
				return this.changed.fire(undefined);
			}
			for (const runId of change.runs) this.changed.fire(this.runNode(runId));
		});
	}

	private tick(): void {
		for (const run of this.orchestrator.board.snapshot().runs) {
			if (run.status === 'running' && run.live) this.changed.fire(this.runNode(run.runId));
		}
	}

	getChildren(node?: Node): Node[] {
		const board = this.orchestrator.board;
		if (!node) return board.snapshot().runs.map((r) => this.runNode(r.runId));
		if (node.kind === 'step') return [];
		const run = board.run(node.runId);
		return run ? run.steps.map((s) => this.stepNode(run.runId, s.id)) : [];
	}

	getParent(node: Node): Node | undefined {
		return node.kind === 'step' ? this.runNode(node.runId) : undefined;
	}

	getTreeItem(node: Node): vscode.TreeItem {
		const view = this.view(node);
		if (!view) return new vscode.TreeItem('(gone)');
		const run = this.orchestrator.board.run(node.runId) as RunView;
		const expandable = node.kind === 'run' && run.steps.length > 0;
		const item = new vscode.TreeItem(
			view.label,
			expandable ? (run.status === 'running' ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed) : vscode.TreeItemCollapsibleState.None,
		);
		item.id = view.id;
		item.description = view.description;
		item.contextValue = view.contextValue;
		item.tooltip = new vscode.MarkdownString(view.tooltip ?? '');
		const state = node.kind === 'run' ? run.status : (this.orchestrator.board.step(node.runId, node.stepId)?.state ?? 'pending');
		const color = STATE_ICON[state]?.color;
		item.iconPath = new vscode.ThemeIcon(view.icon ?? 'circle-large-outline', color ? new vscode.ThemeColor(color) : undefined);
		if (node.kind === 'step') {
			const step = this.orchestrator.board.step(node.runId, node.stepId);
			item.command = step?.decisionId
				? { command: 'quantum.showDecision', title: 'Show Decision', arguments: [step.decisionId] }
				: { command: 'quantum.openStepOutput', title: 'Open Output', arguments: [{ runId: node.runId, stepId: node.stepId }] };
		}
		return item;
	}

	/** The tree as plain data (for the API and tests), fully expanded. */
	snapshot(): TreeItemView[] {
		return this.getChildren().map((runNode) => ({
			...this.view(runNode)!,
			children: this.getChildren(runNode).map((s) => this.view(s)!),
		}));
	}

	private view(node: Node): TreeItemView | undefined {
		const board = this.orchestrator.board;
		const run = board.run(node.runId);
		if (!run) return undefined;
		if (node.kind === 'run') return runItem(run);
		const step = board.step(node.runId, node.stepId);
		if (!step) return undefined;
		const decision = step.decisionId ? board.decision(step.decisionId) : undefined;
		return stepItem(run, step, this.orchestrator.stepParameters(node.runId, node.stepId), decision);
	}

	private runNode(runId: string): Node {
		let n = this.runNodes.get(runId);
		if (!n) this.runNodes.set(runId, (n = { kind: 'run', runId }));
		return n;
	}

	private stepNode(runId: string, stepId: string): Node {
		let m = this.stepNodes.get(runId);
		if (!m) this.stepNodes.set(runId, (m = new Map()));
		let n = m.get(stepId);
		if (!n) m.set(stepId, (n = { kind: 'step', runId, stepId }));
		return n;
	}

	dispose(): void {
		clearInterval(this.ticker);
		this.sub.dispose();
		this.changed.dispose();
	}
}
