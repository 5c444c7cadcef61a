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
