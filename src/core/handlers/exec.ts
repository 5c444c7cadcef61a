// exec: run a command (an executable with args, or a shell line) inside the workspace, in its own process group.
import { z } from 'zod';
import { StepError } from '../errors';
import { scrubEnv } from '../sandbox/env';
import { DEFAULT_GRACE_MS, DEFAULT_MAX_OUTPUT_BYTES, runProcess } from '../sandbox/processTree';
import type { Handler } from './types';
import { defineOperation } from './types';
import { abortError, lastLines } from './shared';

const envValue = z.union([z.string(), z.number(), z.boolean()]);

const runParams = z
	.object({
		command: z
			.string()
			.min(1)
			.describe('With `args`: the executable (found on PATH), run without a shell. Without `args`: a shell line (/bin/sh -c).'),
		args: z.array(z.string()).optional().describe('Arguments passed as they are, never through a shell.'),
		shell: z
			.boolean()
			.optional()
			.describe('Run `command` as a shell line (default: true without `args`). false runs it as an executable without arguments.'),
		cwd: z.string().optional().describe('Working directory, workspace-relative (default: the workspace root).'),
		env: z.record(z.string(), envValue).optional().describe('Variables added to the (scrubbed) environment.'),
		env_allow: z
			.array(z.string())
			.optional()
			.describe('Secret-looking variables (e.g. NPM_TOKEN) to keep in the environment instead of scrubbing them.'),
		allow_failure: z.boolean().optional().describe('A non-zero exit code does not fail the step (default false).'),
		max_output_bytes: z
			.number()
			.int()
			.min(1)
			.max(64 * 1024 * 1024)
			.optional()
			.describe(`Cap per stream (stdout, stderr); the rest is dropped and marked (default ${DEFAULT_MAX_OUTPUT_BYTES}).`),
	})
	.strict()
	.refine((p) => !(p.shell === true && p.args !== undefined), {
		message: '`shell: true` cannot be combined with `args` (args never go through a shell)',
		path: ['shell'],
	});

type RunParams = z.output<typeof runParams>;

function usesShell(p: RunParams): boolean {
	return p.shell ?? p.args === undefined;
}

function quoteArg(arg: string): string {
	return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The command as a person would type it (args shell-quoted for display only). */
export function commandLine(p: { command: string; args?: readonly string[]; shell?: boolean }): string {
	if (p.shell ?? p.args === undefined) return p.command;
	return [p.command, ...(p.args ?? [])].map(quoteArg).join(' ');
}

/** What `exec run` outputs, for ${steps.ID.output.exit_code} and friends. */
export interface ExecOutput {
	exit_code: number | null;
	/** Set when the process was ended by a signal. */
	signal: string | null;
	stdout: string;
	stderr: string;
	truncated: { stdout: boolean; stderr: boolean };
}

const run = defineOperation({
	params: runParams,
	effect: 'external',
	summary: (p) => `run \`${commandLine(p)}\` in ${p.cwd ?? '.'}`,
	touches: (p) => ({ reads: [], writes: [], commands: [commandLine(p)] }),
	async run(p, ctx): Promise<ExecOutput> {
		const cwd = await ctx.sandbox.resolveCwd(p.cwd);
		// ctx.env is already scrubbed; scrubbing again is cheap and keeps a mis-wired host from leaking secrets.
		const env = scrubEnv(ctx.env, { patterns: ctx.secretPolicy.patterns, allow: p.env_allow }).env;
		// ctx.env was scrubbed for every step alike: a variable this step allows comes back from the host environment.
		for (const name of p.env_allow ?? []) {
			const value = ctx.hostEnv[name];
			if (env[name] === undefined && value !== undefined) env[name] = value;
		}
		// Shells and tools trust $PWD: it names the step's cwd, not the host's.
		env.PWD = cwd;
		if (p.env) for (const [name, value] of Object.entries(p.env)) env[name] = String(value);
		const line = commandLine(p);
		const shell = usesShell(p);
		const timeoutMs = ctx.step.timeout_ms;
		const r = await runProcess({
			command: p.command,
			args: shell ? undefined : (p.args ?? []),
			shell,
			cwd,
			env,
			timeoutMs,
			signal: ctx.signal,
			maxOutputBytes: p.max_output_bytes ?? DEFAULT_MAX_OUTPUT_BYTES,
			graceMs: DEFAULT_GRACE_MS,
			onOutput: (stream, text) => ctx.output(stream, text),
		});
		if (r.cancelled) throw abortError(ctx.signal, `\`${line}\``);
		if (r.timedOut) throw new StepError('timeout', `\`${line}\` timed out after ${timeoutMs} ms and was stopped`);
		const output: ExecOutput = {
			exit_code: r.exitCode,
			signal: r.signal,
			stdout: r.stdout,
			stderr: r.stderr,
			truncated: r.truncated,
		};
		if (r.exitCode === 0 || p.allow_failure) return output;
		const how =
			r.exitCode === null
				? `was killed by ${r.signal ?? 'a signal'}`
				: `exited with code ${r.exitCode}${shell && r.exitCode === 127 ? ' (command not found)' : ''}`;
		const tail = lastLines(r.stderr, 5) || lastLines(r.stdout, 5);
		throw new StepError('exit-code', `\`${line}\` ${how}${tail ? `:\n${tail}` : ''}`);
	},
});

/** Runs commands inside the workspace with a scrubbed environment; the whole process tree stops on cancel. */
export const execHandler: Handler = {
	type: 'exec',
	description: 'Run a command or a shell line in the workspace.',
	operations: { run },
};
