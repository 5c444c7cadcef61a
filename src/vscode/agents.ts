// Agents in the editor: "Show Agents" (every agent with its health, workload and metrics; open, create, reload),
// "New Agent…" (.quantum/agents/<name>.md from a template), a watcher that rereads agent files when they change,
// and their problems in the Problems panel at their line.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { AGENTS_DIR } from '../core/agents/definition';
import type { Engine } from '../core/engine';
import { describeError } from '../core/errors';
import { PREVIEW_SCHEME, type PreviewDocuments } from './decisionUi';
import { agentNameProblem, agentRow, agentTemplate, invalidAgentRow, problemRange, type AgentRow } from './model/agentsView';
import type { Orchestrator } from './orchestrator';

/** Agent files saved in quick succession (a formatter, a save-all) are reread once. */
const RELOAD_DELAY_MS = 250;

type PickItem = vscode.QuickPickItem & { row?: AgentRow; action?: 'new' | 'reload' };

const openButton = (): vscode.QuickInputButton => ({ iconPath: new vscode.ThemeIcon('go-to-file'), tooltip: 'Open its definition' });

export class AgentsUi implements vscode.Disposable {
	private readonly diagnostics = vscode.languages.createDiagnosticCollection('quantum-agents');
	/** Diagnostics per folder (each folder's engine reports its own agent files). */
	private readonly byFolder = new Map<string, Map<string, vscode.Diagnostic[]>>();
	private readonly engineSubs = new Map<string, { dispose(): void }>();
	private readonly watchers = new Map<string, vscode.Disposable>();
	private readonly timers = new Map<string, NodeJS.Timeout>();
	private readonly subs: vscode.Disposable[];

	constructor(
		private readonly orch: Orchestrator,
		private readonly previews: PreviewDocuments,
	) {
		this.subs = [
			this.diagnostics,
			orch.onDidCreateEngine(({ folder, engine }) => this.follow(folder, engine)),
			vscode.workspace.onDidChangeWorkspaceFolders(() => this.watchFolders()),
		];
		this.watchFolders();
	}

	/** Every agent of the folder, as the list shows them (also the API's view). */
	async rows(folder: vscode.WorkspaceFolder): Promise<AgentRow[]> {
		const engine = await this.orch.engineFor(folder);
		const registry = engine.agents;
		const healthAll = await registry.healthAll({ llmConfigured: this.orch.llm.configured, workspaceRoot: engine.workspace });
		const health = new Map(healthAll.map((h) => [h.agent, h]));
		const rows = registry.list().map((entry) => {
			const name = entry.definition.name;
			return agentRow(entry, health.get(name), registry.workload(name), registry.metrics(name));
		});
		for (const h of healthAll) if (!registry.has(h.agent)) rows.push(invalidAgentRow(h));
		return rows;
	}

	/**
	 * Shows the agents in a quick pick and resolves with the rows shown, leaving the list open: picking an agent opens
	 * its definition; "New Agent…" and "Reload Agents" do what they say.
	 */
	async show(folder = this.orch.folderFor()): Promise<AgentRow[] | undefined> {
		if (!folder) {
			void vscode.window.showInformationMessage('Open a folder first: agents are defined per workspace folder.');
			return undefined;
		}
		const pick = vscode.window.createQuickPick<PickItem>();
		pick.title = `Agents — ${folder.name}`;
		pick.placeholder = 'Pick an agent to open its definition';
		pick.matchOnDescription = true;
		pick.matchOnDetail = true;
		pick.busy = true;
		const load = async (): Promise<AgentRow[]> => {
			const rows = await this.rows(folder);
			const open = openButton();
			pick.items = [
				...rows.map((row) => ({ label: row.label, description: row.description, detail: row.detail, row, ...(row.file ? { buttons: [open] } : {}) })),
				{ label: '', kind: vscode.QuickPickItemKind.Separator },
				{ label: '$(add) New Agent…', description: `create ${AGENTS_DIR}/<name>.md from a template`, action: 'new' },
				{ label: '$(refresh) Reload Agents', description: `reread ${AGENTS_DIR}/*.md`, action: 'reload' },
			];
			pick.busy = false;
			return rows;
		};
		pick.onDidTriggerItemButton((e) => {
			if (e.item.row) void this.open(e.item.row);
			pick.hide();
		});
		pick.onDidAccept(async () => {
			const item = pick.selectedItems[0];
			if (!item) return;
			if (item.action === 'reload') {
				pick.busy = true;
				await this.reload(folder, true);
				await load();
				return;
			}
			pick.hide();
			if (item.action === 'new') await this.newAgent(undefined, folder);
			else if (item.row) await this.open(item.row);
		});
		pick.onDidHide(() => pick.dispose());
		pick.show();
		return load();
	}

	/** Opens a workspace agent's file, or a read-only view of a built-in or registered agent. */
	private async open(row: AgentRow): Promise<void> {
		if (row.file) {
			await vscode.window.showTextDocument(vscode.Uri.file(row.file), { preview: true });
			return;
		}
		const folder = this.orch.folderFor();
		const def = folder && (await this.orch.engineFor(folder)).agents.get(row.name);
		if (!def) return;
		const { system_prompt, source: _source, ...keys } = def;
		const text = `${Object.entries(keys)
			.map(([k, v]) => `${k}: ${Array.isArray(v) ? `[${v.join(', ')}]` : String(v)}`)
			.join('\n')}\n\n${system_prompt}\n\n(${def.source.kind === 'builtin' ? 'a built-in agent: create .quantum/agents/' + def.name + '.md to replace it in this workspace' : 'registered by an extension through the API'})\n`;
		const uri = vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: `/agents/${def.name}.md` });
		this.previews.set(uri, text);
		await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri), { preview: true });
	}

	/** Creates `.quantum/agents/<name>.md` from the template and opens it; resolves with its uri. */
	async newAgent(name?: string, folder = this.orch.folderFor()): Promise<vscode.Uri | undefined> {
		if (!folder) return undefined;
		const dir = vscode.Uri.joinPath(folder.uri, ...AGENTS_DIR.split('/'));
		const taken = (await vscode.workspace.fs.readDirectory(dir).then(
			(entries) => entries.filter(([n]) => n.endsWith('.md')).map(([n]) => n.slice(0, -3)),
			() => [] as string[],
		)) as string[];
		const chosen =
			name ??
			(await vscode.window.showInputBox({
				title: 'New Agent',
				prompt: `A name for the agent (its file is ${AGENTS_DIR}/<name>.md)`,
				placeHolder: 'e.g. docs-writer',
				validateInput: (v) => agentNameProblem(v.trim(), taken),
			}));
		if (!chosen) return undefined;
		const problem = agentNameProblem(chosen.trim(), taken);
		if (problem) {
			void vscode.window.showErrorMessage(`Cannot create the agent: ${problem}.`);
			return undefined;
		}
		const uri = vscode.Uri.joinPath(dir, `${chosen.trim()}.md`);
		await vscode.workspace.fs.writeFile(uri, Buffer.from(agentTemplate(chosen.trim()), 'utf8'));
		await vscode.window.showTextDocument(uri, { preview: false });
		await this.reload(folder);
		return uri;
	}

	/** Rereads the folder's agent files (their problems reach the Problems panel through the registry's change event). */
	async reload(folder: vscode.WorkspaceFolder, tell = false): Promise<string[]> {
		try {
			const engine = await this.orch.engineFor(folder);
			const lines = await engine.reloadAgents();
			const problems = engine.agents.problems().length;
			if (tell) void vscode.window.showInformationMessage(`Agents reread: ${engine.agents.names().length} agents${problems ? `, ${problems} problem${problems === 1 ? '' : 's'} in the Problems panel` : ''}.`);
			return lines;
		} catch (err) {
			this.orch.logger.log('error', 'agents', `could not reread the agents of ${folder.name}: ${describeError(err)}`);
			return [];
		}
	}

	/** Follows a folder's (new) engine: its agent problems become diagnostics now and whenever its files are reread. */
	private follow(folder: vscode.WorkspaceFolder, engine: Engine): void {
		const key = folder.uri.fsPath;
		this.engineSubs.get(key)?.dispose();
		this.engineSubs.set(
			key,
			engine.agents.onDidChange((change) => {
				if (change.kind === 'workspace') this.publish(folder, engine);
			}),
		);
		this.publish(folder, engine);
	}

	private publish(folder: vscode.WorkspaceFolder, engine: Engine): void {
		const files = new Map<string, vscode.Diagnostic[]>();
		for (const p of engine.agents.problems()) {
			const file = p.location.file ? path.resolve(engine.workspace, p.location.file) : path.join(engine.workspace, AGENTS_DIR);
			const { line, column } = problemRange(p.location);
			const d = new vscode.Diagnostic(new vscode.Range(line, column, line, column + 1), p.location.path ? `${p.message} (at ${p.location.path})` : p.message, vscode.DiagnosticSeverity.Error);
			d.source = 'Quantum Orchestrator';
			d.code = `agent:${p.code}`;
			files.set(file, [...(files.get(file) ?? []), d]);
		}
		this.byFolder.set(folder.uri.fsPath, files);
		this.diagnostics.clear();
		for (const perFolder of this.byFolder.values()) for (const [file, list] of perFolder) this.diagnostics.set(vscode.Uri.file(file), list);
	}

	private watchFolders(): void {
		const folders = vscode.workspace.workspaceFolders ?? [];
		const present = new Set(folders.map((f) => f.uri.fsPath));
		for (const [key, watcher] of this.watchers) {
			if (present.has(key)) continue;
			watcher.dispose();
			this.watchers.delete(key);
			this.byFolder.delete(key);
		}
		for (const folder of folders) {
			if (this.watchers.has(folder.uri.fsPath)) continue;
			const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, `${AGENTS_DIR}/*.md`));
			const changed = () => this.scheduleReload(folder);
			this.watchers.set(folder.uri.fsPath, vscode.Disposable.from(watcher, watcher.onDidCreate(changed), watcher.onDidChange(changed), watcher.onDidDelete(changed)));
		}
	}

	private scheduleReload(folder: vscode.WorkspaceFolder): void {
		const key = folder.uri.fsPath;
		clearTimeout(this.timers.get(key));
		this.timers.set(
			key,
			setTimeout(() => {
				this.timers.delete(key);
				void this.reload(folder);
			}, RELOAD_DELAY_MS),
		);
	}

	dispose(): void {
		for (const t of this.timers.values()) clearTimeout(t);
		for (const s of this.engineSubs.values()) s.dispose();
		for (const w of this.watchers.values()) w.dispose();
		for (const s of this.subs) s.dispose();
	}
}
