// One error class per area, each with a stable `code` and an `is` guard; messages say what and where, never a stack.

export interface ErrorLocation {
	file?: string;
	/** JSON path such as `instructions[3].dependencies[0]`. */
	path?: string;
	line?: number;
	column?: number;
}

export function formatLocation(loc: ErrorLocation): string {
	const parts: string[] = [];
	if (loc.file) parts.push(loc.line ? `${loc.file}:${loc.line}:${loc.column ?? 1}` : loc.file);
	if (loc.path) parts.push(loc.path);
	return parts.join(' ');
}

export abstract class QoErrorBase<C extends string> extends Error {
	constructor(
		readonly code: C,
		message: string,
		readonly location: ErrorLocation = {},
	) {
		super(message);
	}

	/** The message with its location, as a user should read it. */
	describe(): string {
		const where = formatLocation(this.location);
		return where ? `${where}: ${this.message}` : this.message;
	}
}

export type WorkflowErrorCode =
	| 'json'
	| 'schema'
	| 'unknown-type'
	| 'unknown-operation'
	| 'parameters'
	| 'duplicate-id'
	| 'missing-dependency'
	| 'cycle'
	| 'reference'
	| 'io';

/** Invalid workflow input; carries every problem found, not only the first. */
export class WorkflowError extends QoErrorBase<WorkflowErrorCode> {
	override readonly name = 'WorkflowError';
	constructor(
		code: WorkflowErrorCode,
		message: string,
		location: ErrorLocation = {},
		readonly problems: WorkflowError[] = [],
	) {
		super(code, message, location);
	}
	static is(err: unknown, code?: WorkflowErrorCode): err is WorkflowError {
		return err instanceof WorkflowError && (code === undefined || err.code === code);
	}
}

export type SandboxErrorCode = 'outside' | 'symlink' | 'protected' | 'hardlink' | 'absolute' | 'cwd';

/** A step tried to reach outside the workspace or into a protected place. */
export class SandboxError extends QoErrorBase<SandboxErrorCode> {
	override readonly name = 'SandboxError';
	static is(err: unknown, code?: SandboxErrorCode): err is SandboxError {
		return err instanceof SandboxError && (code === undefined || err.code === code);
	}
}

export type StepErrorCode =
	| 'failed'
	| 'timeout'
	| 'cancelled'
	| 'exit-code'
	| 'rejected'
	| 'not-found'
	| 'exists'
	| 'parameters'
	| 'disk-full'
	| 'budget'
	| 'io';

/** A step's operation failed; the scheduler records it and applies retry / on_failure. */
export class StepError extends QoErrorBase<StepErrorCode> {
	override readonly name = 'StepError';
	/** Retrying cannot help (bad parameters, sandbox, rejection). */
	readonly permanent: boolean;
	constructor(code: StepErrorCode, message: string, opts: { permanent?: boolean; location?: ErrorLocation } = {}) {
		super(code, message, opts.location);
		this.permanent = opts.permanent ?? (code === 'parameters' || code === 'rejected' || code === 'budget');
	}
	static is(err: unknown, code?: StepErrorCode): err is StepError {
		return err instanceof StepError && (code === undefined || err.code === code);
	}
}

export type StateErrorCode = 'corrupt' | 'locked' | 'not-found' | 'changed' | 'conflict' | 'io' | 'disk-full';

/** Journals, checkpoints, locks and resume. */
export class StateError extends QoErrorBase<StateErrorCode> {
	override readonly name = 'StateError';
	static is(err: unknown, code?: StateErrorCode): err is StateError {
		return err instanceof StateError && (code === undefined || err.code === code);
	}
}

export type ScheduleErrorCode = 'cron' | 'timezone' | 'definition' | 'duplicate' | 'workflow';

/** A schedule that cannot run: a bad cron expression or time zone, a clashing name, a missing workflow; located. */
export class ScheduleError extends QoErrorBase<ScheduleErrorCode> {
	override readonly name = 'ScheduleError';
	constructor(
		code: ScheduleErrorCode,
		message: string,
		location: ErrorLocation = {},
		/** The schedule concerned. */
		readonly schedule?: string,
	) {
		super(code, message, location);
	}
	static is(err: unknown, code?: ScheduleErrorCode): err is ScheduleError {
		return err instanceof ScheduleError && (code === undefined || err.code === code);
	}
}

/** A user-readable one-liner for any error, with no stack trace. */
export function describeError(err: unknown): string {
	if (err instanceof QoErrorBase) return err.describe();
	if (err instanceof Error) {
		const code = (err as NodeJS.ErrnoException).code;
		if (code === 'ENOSPC') return `no space left on device: ${err.message}`;
		return err.message;
	}
	return String(err);
}

export type AgentErrorCode =
	| 'front-matter'
	| 'definition'
	| 'duplicate'
	| 'io'
	| 'unknown-agent'
	| 'no-capable-agent'
	| 'render';

/** Agent definitions (`.quantum/agents/*.md`), the registry and allocation. */
export class AgentError extends QoErrorBase<AgentErrorCode> {
	override readonly name = 'AgentError';
	constructor(
		code: AgentErrorCode,
		message: string,
		location: ErrorLocation = {},
		/** The agent concerned, when known (a bad file may not even have a readable name). */
		readonly agent?: string,
	) {
		super(code, message, location);
	}
	static is(err: unknown, code?: AgentErrorCode): err is AgentError {
		return err instanceof AgentError && (code === undefined || err.code === code);
	}
}
