// exec: run a command (an executable with args, or a shell line) inside the workspace, in its own process group.
import { z } from 'zod';
import { StepError } from '../errors';
import { DEFAULT_MAX_OUTPUT_BYTES } from '../sandbox/processTree';
import type { Handler } from './types';
import { defineOperation } from './types';
import { lastLines } from './shared';
import { commandLine, runInWorkspace } from './workspaceProcess';

export { commandLine } from './workspaceProcess';

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
		const shell = usesShell(p);
		const r = await runInWorkspace(ctx, {
			command: p.command,
			args: p.args,
			shell,
			cwd: p.cwd,
			env: p.env,
			envAllow: p.env_allow,
			timeoutMs: ctx.step.timeout_ms,
			maxOutputBytes: p.max_output_bytes ?? DEFAULT_MAX_OUTPUT_BYTES,
		});
		const line = r.line;
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
