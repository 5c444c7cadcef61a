// The extension's settings (contributes.configuration), read in one place with their defaults.
import * as vscode from 'vscode';
import type { RunSettings } from '../../core/engine/plan';
import type { LogLevel } from '../../core/ports';
import { DEFAULT_ESCALATION_POLICY, type EscalationPolicy } from '../../core/policy/escalation';

export const SECTION = 'quantum';

export interface ExtensionSettings {
	/** Overrides for every run; absent fields keep the workflow's own settings. */
	run: Partial<RunSettings>;
	stateFolder: string;
	logLevel: LogLevel;
	escalation: EscalationPolicy;
	notifyDecisions: boolean;
}

export function readSettings(scope?: vscode.Uri): ExtensionSettings {
	const c = vscode.workspace.getConfiguration(SECTION, scope);
	const run: Partial<RunSettings> = {};
	const maxParallel = c.get<number>('maxParallel', 0);
	if (Number.isInteger(maxParallel) && maxParallel > 0) run.concurrency = maxParallel;
	const mode = c.get<string>('mode', 'workflow');
	if (mode === 'parallel' || mode === 'sequential' || mode === 'adaptive') run.mode = mode;
	const d = DEFAULT_ESCALATION_POLICY;
	return {
		run,
		stateFolder: c.get<string>('stateFolder', '.quantum') || '.quantum',
		logLevel: c.get<LogLevel>('logLevel', 'info'),
		escalation: {
			riskyCommands: strings(c.get('escalation.riskyCommands'), d.riskyCommands),
			allowedCommands: strings(c.get('escalation.allowedCommands'), d.allowedCommands),
			gitOperations: strings(c.get('escalation.gitOperations'), d.gitOperations),
			confirmDeletes: c.get<boolean>('escalation.confirmDeletes', d.confirmDeletes),
			allowedWritePaths: strings(c.get('escalation.allowedWritePaths'), d.allowedWritePaths),
		},
		notifyDecisions: c.get<boolean>('notifications.decisions', true),
	};
}

function strings(value: unknown, fallback: readonly string[]): string[] {
	return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [...fallback];
}

/** The background services of a folder (issue 5): what runs, and how trigger runs treat decisions. */
export interface ServiceSettings {
	api: { enabled: boolean; port: number };
	inbox: { enabled: boolean; folder?: string };
	schedules: { enabled: boolean; list: unknown[] };
	/** Unattended runs whose steps need approval wait in the decision queue instead of being refused. */
	waitForDecisions: boolean;
}

/** Settings whose change restarts a folder's services. (`quantum.schedules` cannot be both an array and the parent of
 * `quantum.schedules.enabled`, so the list is `quantum.schedules.list`.) */
export const SERVICE_SETTINGS = ['quantum.api', 'quantum.inbox', 'quantum.schedules', 'quantum.triggers'];

export function readServiceSettings(scope?: vscode.Uri): ServiceSettings {
	const c = vscode.workspace.getConfiguration(SECTION, scope);
	const port = c.get<number>('api.port', 0);
	const folder = c.get<string>('inbox.folder', '');
	const list = c.get<unknown>('schedules.list', []);
	return {
		api: { enabled: c.get<boolean>('api.enabled', false), port: Number.isInteger(port) && port >= 0 && port <= 65535 ? port : 0 },
		inbox: { enabled: c.get<boolean>('inbox.enabled', false), ...(folder ? { folder } : {}) },
		schedules: { enabled: c.get<boolean>('schedules.enabled', true), list: Array.isArray(list) ? list : [] },
		waitForDecisions: c.get<boolean>('triggers.waitForDecisions', false),
	};
}
