// The Operations tree: runs → steps, live, then a "Schedules" node per folder whose schedules service runs.
// Refreshes only the runs that changed in each board flush.
import * as vscode from 'vscode';
import type { RunView } from '../../protocol/viewModels';
import type { TreeItemView } from '../api';
import { schedulesItem } from '../model/scheduleTree';
import { childItem, runItem, STATE_ICON, stepItem } from '../model/treeModel';
import type { Orchestrator } from '../orchestrator';
import type { WorkspaceServices } from '../services';

/** Runs, their steps, and the steps' tool calls (an agent's child steps); a folder's schedules. */
type RunNode = { kind: 'run'; runId: string } | { kind: 'step'; runId: string; stepId: string } | { kind: 'tool'; runId: string; stepId: string; parentId: string };
type ScheduleNode = { kind: 'schedules'; folder: string } | { kind: 'schedule'; folder: string; name: string };
type Node = RunNode | ScheduleNode;

/** Relative next-run times are refreshed this often. */
const SCHEDULE_REFRESH_MS = 30_000;

export class OperationsTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
	private readonly changed = new vscode.EventEmitter<Node | undefined>();
	readonly onDidChangeTreeData = this.changed.event;
	/** Stable node objects: VS Code refreshes an element by identity. */
	private readonly runNodes = new Map<string, Node>();
	/** Step and tool nodes by run, keyed by step id (tool ids are `parent.N`, never a planned step's id). */
	private readonly stepNodes = new Map<string, Map<string, Node>>();
	private readonly sub: vscode.Disposable;
	private knownRuns = '';
	/** Running runs' elapsed time moves even when no step changes (a run waiting for a decision). */
	private readonly ticker = setInterval(() => this.tick(), 1000);
	private readonly scheduleTicker = setInterval(() => this.changed.fire(undefined), SCHEDULE_REFRESH_MS);
	private readonly scheduleNodes = new Map<string, ScheduleNode>();
	private readonly servicesSub: vscode.Disposable | undefined;

	constructor(
		private readonly orchestrator: Orchestrator,
		private readonly services?: WorkspaceServices,
	) {
		this.servicesSub = services?.onDidChange(() => this.changed.fire(undefined));
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
		if (!node) return [...board.snapshot().runs.map((r) => this.runNode(r.runId)), ...this.scheduleRoots()];
		if (node.kind === 'schedules') return (this.folderSchedules(node.folder)?.children ?? []).map((c) => this.scheduleNode(node.folder, c.label));
		if (node.kind === 'tool' || node.kind === 'schedule') return [];
		if (node.kind === 'step') return (board.step(node.runId, node.stepId)?.children ?? []).map((c) => this.toolNode(node.runId, c.id, node.stepId));
		const run = board.run(node.runId);
		return run ? run.steps.map((s) => this.stepNode(run.runId, s.id)) : [];
	}

	getParent(node: Node): Node | undefined {
		if (node.kind === 'schedule') return this.scheduleNode(node.folder);
		if (node.kind === 'schedules') return undefined;
		if (node.kind === 'tool') return this.stepNode(node.runId, node.parentId);
		return node.kind === 'step' ? this.runNode(node.runId) : undefined;
	}

	getTreeItem(node: Node): vscode.TreeItem {
		if (node.kind === 'schedules' || node.kind === 'schedule') return this.scheduleTreeItem(node);
		const view = this.view(node);
		if (!view) return new vscode.TreeItem('(gone)');
		const board = this.orchestrator.board;
		const run = board.run(node.runId) as RunView;
		const step = node.kind === 'step' ? board.step(node.runId, node.stepId) : undefined;
		const expandable = node.kind === 'run' ? run.steps.length > 0 : (step?.children?.length ?? 0) > 0;
		// Open while there is something to watch: a running run, a step whose agent is still working.
		const open = node.kind === 'run' ? run.status === 'running' : step?.state === 'running' || step?.state === 'waiting';
		const item = new vscode.TreeItem(
			view.label,
			expandable ? (open ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed) : vscode.TreeItemCollapsibleState.None,
		);
		item.id = view.id;
		item.description = view.description;
		item.contextValue = view.contextValue;
		item.tooltip = new vscode.MarkdownString(view.tooltip ?? '');
		const state = node.kind === 'run' ? run.status : node.kind === 'step' ? (step?.state ?? 'pending') : (board.child(node.runId, node.stepId)?.child.state ?? 'pending');
		const color = STATE_ICON[state]?.color;
		item.iconPath = new vscode.ThemeIcon(view.icon ?? 'circle-large-outline', color ? new vscode.ThemeColor(color) : undefined);
		if (node.kind !== 'run') {
			const decisionId = board.decisionOfStep(node.runId, node.stepId);
			item.command = decisionId
				? { command: 'quantum.showDecision', title: 'Show Decision', arguments: [decisionId] }
				: { command: 'quantum.openStepOutput', title: 'Open Output', arguments: [{ runId: node.runId, stepId: node.stepId }] };
		}
		return item;
	}

	/** The tree as plain data (for the API and tests), fully expanded. */
	snapshot(): TreeItemView[] {
		const expand = (node: RunNode): TreeItemView => {
			const children = this.getChildren(node) as RunNode[];
			return children.length ? { ...this.view(node)!, children: children.map(expand) } : this.view(node)!;
		};
		return [
			...this.getChildren()
				.filter((n): n is RunNode => n.kind === 'run')
				.map((runNode) => ({ ...this.view(runNode)!, children: (this.getChildren(runNode) as RunNode[]).map(expand) })),
			...this.scheduleRoots().flatMap((n) => this.folderSchedules(n.folder) ?? []),
		];
	}

	/** Folders whose schedules service runs and has schedules (or problems) to show. */
	private scheduleRoots(): ScheduleNode[] {
		const all = this.services?.schedules() ?? [];
		return all.filter((f) => f.schedules.length > 0).map((f) => this.scheduleNode(f.folder.uri.fsPath));
	}

	private folderSchedules(folderKey: string): TreeItemView | undefined {
		const all = this.services?.schedules() ?? [];
		const found = all.find((f) => f.folder.uri.fsPath === folderKey);
		if (!found) return undefined;
		const many = (vscode.workspace.workspaceFolders?.length ?? 0) > 1;
		return schedulesItem(folderKey, many ? found.folder.name : undefined, found.schedules, Date.now());
	}

	private scheduleTreeItem(node: ScheduleNode): vscode.TreeItem {
		const folder = this.folderSchedules(node.folder);
		const view = node.kind === 'schedules' ? folder : folder?.children?.find((c) => c.label === node.name);
		if (!view) return new vscode.TreeItem('(gone)');
		const item = new vscode.TreeItem(view.label, node.kind === 'schedules' ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
		item.id = view.id;
		item.description = view.description;
		item.contextValue = view.contextValue;
		item.tooltip = new vscode.MarkdownString(view.tooltip ?? '');
		const warn = view.icon === 'warning';
		item.iconPath = new vscode.ThemeIcon(view.icon ?? 'calendar', warn ? new vscode.ThemeColor('list.warningForeground') : undefined);
		return item;
	}

	private scheduleNode(folder: string, name?: string): ScheduleNode {
		const key = name === undefined ? folder : `${folder}\u0000${name}`;
		let n = this.scheduleNodes.get(key);
		if (!n) this.scheduleNodes.set(key, (n = name === undefined ? { kind: 'schedules', folder } : { kind: 'schedule', folder, name }));
		return n;
	}

	private view(node: RunNode): TreeItemView | undefined {
		const board = this.orchestrator.board;
		const run = board.run(node.runId);
		if (!run) return undefined;
		if (node.kind === 'run') return runItem(run, Date.now(), run.orchestration ? board.orchestration(run.orchestration) : undefined);
		if (node.kind === 'tool') {
			const found = board.child(node.runId, node.stepId);
			if (!found) return undefined;
			return childItem(run, found.parent, found.child, found.child.decisionId ? board.decision(found.child.decisionId) : undefined);
		}
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
		return this.node(runId, stepId, () => ({ kind: 'step', runId, stepId }));
	}

	private toolNode(runId: string, stepId: string, parentId: string): Node {
		return this.node(runId, stepId, () => ({ kind: 'tool', runId, stepId, parentId }));
	}

	private node(runId: string, stepId: string, make: () => Node): Node {
		let m = this.stepNodes.get(runId);
		if (!m) this.stepNodes.set(runId, (m = new Map()));
		let n = m.get(stepId);
		if (!n) m.set(stepId, (n = make()));
		return n;
	}

	dispose(): void {
		clearInterval(this.ticker);
		clearInterval(this.scheduleTicker);
		this.servicesSub?.dispose();
		this.sub.dispose();
		this.changed.dispose();
	}
}
