// Running a child process for a step: cwd inside the workspace, the scrubbed environment, the step's signal and
// timeout, capped output streamed to the step. exec and quality both run their commands through here.
import { StepError } from '../errors';
import { scrubEnv } from '../sandbox/env';
import { DEFAULT_GRACE_MS, DEFAULT_MAX_OUTPUT_BYTES, runProcess, type ProcessResult } from '../sandbox/processTree';
import { abortError } from './shared';
import type { StepContext } from './types';

export interface WorkspaceCommand {
	/** With `args`: an executable run without a shell; with `shell`: a `/bin/sh -c` line. */
	command: string;
	args?: readonly string[];
	shell?: boolean;
	/** Workspace-relative working directory (default: the root); the sandbox refuses anything outside. */
	cwd?: string;
	/** Variables added to the scrubbed environment. */
	env?: Readonly<Record<string, string | number | boolean>>;
	/** Secret-looking variables to take from the host environment instead of scrubbing them. */
	envAllow?: readonly string[];
	/** Per process; default: none (the engine's step timeout still applies). */
	timeoutMs?: number;
	/** Per stream (default 1 MiB). */
	maxOutputBytes?: number;
	/** Written to stdin, which is then closed. */
	input?: string | Buffer;
	/** Stream the output to the step as it arrives (default true). */
	stream?: boolean;
}

export interface WorkspaceProcessResult extends ProcessResult {
	/** The command as a person would type it. */
	line: string;
	/** Absolute working directory it ran in. */
	cwd: string;
}

function quoteArg(arg: string): string {
	return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The command as a person would type it (args shell-quoted for display only). */
export function commandLine(p: { command: string; args?: readonly string[]; shell?: boolean }): string {
	if (p.shell ?? p.args === undefined) return p.command;
	return [p.command, ...(p.args ?? [])].map(quoteArg).join(' ');
}

/**
 * Runs a command to completion for a step. Cancellation and timeouts become StepErrors naming the command; exit
 * codes are the caller's to judge. Rejects with StepError/SandboxError when it cannot start.
 */
export async function runInWorkspace(ctx: StepContext, cmd: WorkspaceCommand): Promise<WorkspaceProcessResult> {
	const cwd = await ctx.sandbox.resolveCwd(cmd.cwd);
	// ctx.env is already scrubbed; scrubbing again is cheap and keeps a mis-wired host from leaking secrets.
	const env = scrubEnv(ctx.env, { patterns: ctx.secretPolicy.patterns, allow: cmd.envAllow }).env;
	// ctx.env was scrubbed for every step alike: a variable this step allows comes back from the host environment.
	for (const name of cmd.envAllow ?? []) {
		const value = ctx.hostEnv[name];
		if (env[name] === undefined && value !== undefined) env[name] = value;
	}
	// Shells and tools trust $PWD: it names the step's cwd, not the host's.
	env.PWD = cwd;
	if (cmd.env) for (const [name, value] of Object.entries(cmd.env)) env[name] = String(value);
	const shell = cmd.shell ?? cmd.args === undefined;
	const line = commandLine({ command: cmd.command, args: cmd.args, shell });
	const r = await runProcess({
		command: cmd.command,
		args: shell ? undefined : (cmd.args ?? []),
		shell,
		cwd,
		env,
		timeoutMs: cmd.timeoutMs,
		signal: ctx.signal,
		maxOutputBytes: cmd.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
		graceMs: DEFAULT_GRACE_MS,
		input: cmd.input,
		onOutput: cmd.stream === false ? undefined : (stream, text) => ctx.output(stream, text),
	});
	if (r.cancelled) throw abortError(ctx.signal, `\`${line}\``);
	if (r.timedOut) throw new StepError('timeout', `\`${line}\` timed out after ${cmd.timeoutMs} ms and was stopped`);
	return { ...r, line, cwd };
}
