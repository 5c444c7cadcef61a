// Commands for the triggers of issue 5: git hooks that submit a workflow, and the local API's address (never its token).
import * as path from 'node:path';
import * as vscode from 'vscode';
import { describeError } from '../core/errors';
import { plural } from '../core/format';
import { installHooks, removeHooks } from '../core/services/hooks/gitHooks';
import { HOOK_EVENT_IDS, HOOK_NAMES } from '../core/services/hooks/hookScript';
import { readServiceSettings, readSettings } from './adapters/settings';
import type { Orchestrator } from './orchestrator';
import type { WorkspaceServices } from './services';

type Handler = (...args: unknown[]) => unknown;

async function pickFolder(title: string): Promise<vscode.WorkspaceFolder | undefined> {
	const folders = vscode.workspace.workspaceFolders ?? [];
	if (folders.length === 0) {
		void vscode.window.showErrorMessage('Open a folder first: git hooks go into the repository of a workspace folder.');
		return undefined;
	}
	if (folders.length === 1) return folders[0];
	return vscode.window.showWorkspaceFolderPick({ placeHolder: title });
}

export function createTriggerCommands(orchestrator: Orchestrator, services: WorkspaceServices): Record<'quantum.installGitHook' | 'quantum.removeGitHooks' | 'quantum.copyApiAddress', Handler> {
	return {
		'quantum.installGitHook': async () => {
			if (!vscode.workspace.isTrusted) {
				void vscode.window.showWarningMessage('Git hooks run commands on every commit: trust this workspace first.');
				return undefined;
			}
			const folder = await pickFolder('Install hooks in the repository of which folder?');
			if (!folder) return undefined;
			const hooks = await vscode.window.showQuickPick(
				HOOK_NAMES.map((h) => ({ label: h, description: `key: ${HOOK_EVENT_IDS[h]}`, picked: h === 'post-commit' })),
				{ title: 'Quantum: Install Git Hook — which hooks?', canPickMany: true, placeHolder: 'Each hook submits the workflow to the running orchestrator (the API), or drops it into the inbox' },
			);
			if (!hooks?.length) return undefined;
			const files = await vscode.workspace.findFiles(new vscode.RelativePattern(folder, '**/*.workflow.json'), '**/{node_modules,.git,.quantum}/**', 500);
			const picked = await vscode.window.showQuickPick(
				files.sort((a, b) => a.fsPath.localeCompare(b.fsPath)).map((uri) => ({ label: path.relative(folder.uri.fsPath, uri.fsPath).split(path.sep).join('/'), uri })),
				{ title: 'Quantum: Install Git Hook — which workflow do the hooks submit?', placeHolder: files.length ? 'a *.workflow.json file' : 'no *.workflow.json file in this folder' },
			);
			if (!picked) return undefined;
			const stateDir = path.resolve(folder.uri.fsPath, readSettings(folder.uri).stateFolder);
			const inbox = readServiceSettings(folder.uri).inbox.folder;
			try {
				const changes = await installHooks({
					workspace: folder.uri.fsPath,
					hooks: hooks.map((h) => h.label),
					workflow: picked.label,
					stateDir,
					...(inbox ? { inbox: path.resolve(folder.uri.fsPath, inbox) } : {}),
				});
				const text = changes.map((c) => `${c.hook} ${c.action}${c.keptExisting ? ' (its own content kept)' : ''}`).join(', ');
				orchestrator.logger.log('info', 'hooks', `${folder.name}: ${text} → ${picked.label}`);
				const on = readServiceSettings(folder.uri);
				const hint = on.api.enabled || on.inbox.enabled ? '' : ' Turn on quantum.api.enabled or quantum.inbox.enabled (or run qo serve) so something receives them.';
				void vscode.window.showInformationMessage(`Git hooks: ${text}; they submit ${picked.label}.${hint}`);
				return changes;
			} catch (err) {
				void vscode.window.showErrorMessage(`Could not install the git hooks: ${describeError(err)}`);
				return undefined;
			}
		},
		'quantum.removeGitHooks': async () => {
			const folder = await pickFolder('Remove the hooks of which folder\'s repository?');
			if (!folder) return undefined;
			try {
				const changes = await removeHooks({ workspace: folder.uri.fsPath });
				const removed = changes.filter((c) => c.action === 'removed');
				void vscode.window.showInformationMessage(removed.length ? `Removed ${plural(removed.length, 'Quantum Orchestrator git hook')}: ${removed.map((c) => c.hook).join(', ')}.` : 'No Quantum Orchestrator git hooks were installed.');
				return changes;
			} catch (err) {
				void vscode.window.showErrorMessage(`Could not remove the git hooks: ${describeError(err)}`);
				return undefined;
			}
		},
		'quantum.copyApiAddress': async () => {
			await services.settled();
			const all = services.apiAddresses();
			if (all.length === 0) {
				const choice = await vscode.window.showInformationMessage('The local API is not running: turn on quantum.api.enabled (in a trusted workspace).', 'Open Settings');
				if (choice) void vscode.commands.executeCommand('workbench.action.openSettings', 'quantum.api');
				return undefined;
			}
			const chosen =
				all.length === 1 ? all[0] : (await vscode.window.showQuickPick(all.map((a) => ({ label: a.folder, description: a.url, a })), { title: 'Copy the API address of which folder?' }))?.a;
			if (!chosen) return undefined;
			await vscode.env.clipboard.writeText(chosen.url);
			// The token stays in api.json (readable by you only) and SecretStorage: it is never copied or shown.
			void vscode.window.showInformationMessage(`Copied ${chosen.url}. The bearer token is in ${chosen.apiFile ?? 'api.json in the state folder'} (readable by you only).`);
			return { url: chosen.url, apiFile: chosen.apiFile };
		},
	};
}
