// Saga compensation: on rollback, the `undo` commands of steps that ran are run in reverse order.
import { describeError } from '../errors';
import type { Logger } from '../ports';
import { DEFAULT_GRACE_MS, runProcess } from '../sandbox/processTree';
import type { Sandbox } from '../sandbox/types';
import type { JournalRecord } from '../state/records';
import type { UndoCommand } from '../workflow/schema';

export interface Compensation {
	step: string;
	undo: UndoCommand;
}

export interface CompensationOutcome {
	step: string;
	ok: boolean;
	error?: string;
}

const UNDO_OUTPUT_LIMIT = 64 * 1024;
const UNDO_TIMEOUT_MS = 10 * 60_000;

/** The `undo` command of each step that declares one, as recorded when the run started. */
export function undoCommands(records: readonly JournalRecord[]): Map<string, UndoCommand> {
	const first = records[0];
	const undo = new Map<string, UndoCommand>();
	if (!first || first.t !== 'run') return undo;
	for (const [id, command] of Object.entries(first.undo ?? {})) undo.set(id, command as UndoCommand);
	return undo;
}

export async function runCompensation(
	c: Compensation,
	deps: { sandbox: Sandbox; env: NodeJS.ProcessEnv; logger: Logger },
): Promise<CompensationOutcome> {
	try {
		const cwd = await deps.sandbox.resolveCwd(c.undo.cwd);
		const shell = c.undo.args === undefined;
		const r = await runProcess({
			command: c.undo.command,
			args: c.undo.args,
			shell,
			cwd,
			env: { ...deps.env, ...c.undo.env },
			timeoutMs: c.undo.timeout_ms ?? UNDO_TIMEOUT_MS,
			maxOutputBytes: UNDO_OUTPUT_LIMIT,
			graceMs: DEFAULT_GRACE_MS,
		});
		if (r.exitCode === 0) {
			deps.logger.log('info', 'rollback', `undo of ${c.step} ran: ${c.undo.command}`);
			return { step: c.step, ok: true };
		}
		const why = r.timedOut ? 'timed out' : `exited with code ${r.exitCode ?? r.signal}`;
		const error = `undo \`${c.undo.command}\` ${why}${r.stderr ? `: ${r.stderr.trim().split('\n').slice(-3).join(' / ')}` : ''}`;
		deps.logger.log('error', 'rollback', `${c.step}: ${error}`);
		return { step: c.step, ok: false, error };
	} catch (err) {
		const error = describeError(err);
		deps.logger.log('error', 'rollback', `${c.step}: ${error}`);
		return { step: c.step, ok: false, error };
	}
}
