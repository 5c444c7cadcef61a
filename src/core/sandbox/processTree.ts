// Child processes in their own process group, so a timeout or cancel stops the whole tree (TERM, then KILL).
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { StepError } from '../errors';

export interface RunProcessOptions {
	/** Executable (with `args`), or a shell line when `shell` is true. */
	command: string;
	args?: readonly string[];
	/** Run `command` as a line of `/bin/sh -c` (cmd.exe on Windows). */
	shell?: boolean;
	cwd: string;
	env: NodeJS.ProcessEnv;
	timeoutMs?: number;
	signal?: AbortSignal;
	/** Per stream; bytes beyond are counted and dropped. */
	maxOutputBytes: number;
	/** Time between TERM and KILL. */
	graceMs: number;
	/** Decoded output as it arrives (only the part that is kept). */
	onOutput?(stream: 'stdout' | 'stderr', text: string): void;
	/** Written to the process's stdin, which is then closed; without it stdin is /dev/null. */
	input?: string | Buffer;
}

export interface ProcessResult {
	exitCode: number | null;
	signal: NodeJS.Signals | null;
	stdout: string;
	stderr: string;
	truncated: { stdout: boolean; stderr: boolean };
	timedOut: boolean;
	cancelled: boolean;
	durationMs: number;
	/** Process id of the group leader (undefined when it never started). */
	pid: number | undefined;
}

export const DEFAULT_GRACE_MS = 2000;
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;

/** How long to wait for pipes held open by stray descendants once the group has been killed. */
const DRAIN_MS = 1000;
const REAP_POLL_MS = 20;

class Capture {
	private readonly chunks: Buffer[] = [];
	private kept = 0;
	private dropped = 0;
	private readonly decoder = new StringDecoder('utf8');

	constructor(
		private readonly stream: 'stdout' | 'stderr',
		private readonly max: number,
		private readonly onOutput: RunProcessOptions['onOutput'],
	) {}

	push(chunk: Buffer): void {
		if (this.dropped > 0 || this.kept >= this.max) {
			this.dropped += chunk.length;
			return;
		}
		let part = chunk;
		if (this.kept + chunk.length > this.max) {
			const end = utf8Boundary(chunk, this.max - this.kept);
			part = chunk.subarray(0, end);
			this.dropped += chunk.length - end;
		}
		this.chunks.push(part);
		this.kept += part.length;
		if (this.onOutput) {
			const text = this.decoder.write(part);
			if (text) this.onOutput(this.stream, text);
		}
	}

	finish(): { text: string; truncated: boolean } {
		let text = Buffer.concat(this.chunks, this.kept).toString('utf8');
		const tail = this.decoder.end();
		if (this.onOutput && tail) this.onOutput(this.stream, tail);
		if (this.dropped > 0) {
			const marker = `\n[output truncated: ${this.dropped} bytes dropped]`;
			text += marker;
			this.onOutput?.(this.stream, marker);
		}
		return { text, truncated: this.dropped > 0 };
	}
}

/** The largest cut ≤ limit that does not split a UTF-8 sequence of buf. */
function utf8Boundary(buf: Buffer, limit: number): number {
	if (limit >= buf.length) return buf.length;
	let i = limit;
	// Step back over continuation bytes (10xxxxxx) to the lead byte of the sequence the cut falls in.
	while (i > 0 && limit - i < 3 && (buf[i] & 0xc0) === 0x80) i--;
	return (buf[i] & 0xc0) === 0x80 ? limit : i;
}

function signalGroup(child: ChildProcess, sig: NodeJS.Signals): void {
	const pid = child.pid;
	if (pid === undefined) return;
	if (process.platform === 'win32') {
		spawnSync('taskkill', ['/pid', String(pid), '/T', '/F'], { stdio: 'ignore', windowsHide: true });
		return;
	}
	try {
		process.kill(-pid, sig);
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
	}
}

/** Whether any process of the child's group is still alive (zombies awaiting a reaper do not count). */
function groupAlive(child: ChildProcess): boolean {
	const pid = child.pid;
	if (pid === undefined || process.platform === 'win32') return child.exitCode === null && child.signalCode === null;
	try {
		process.kill(-pid, 0);
	} catch {
		return false;
	}
	return !onlyZombies(pid);
}

/** On Linux, a group whose members are all zombies is as good as gone (PID 1 in a container may never reap them). */
function onlyZombies(pgid: number): boolean {
	if (process.platform !== 'linux') return false;
	let entries: string[];
	try {
		entries = readdirSync('/proc');
	} catch {
		return false;
	}
	for (const name of entries) {
		if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
		let statLine: string;
		try {
			statLine = readFileSync(`/proc/${name}/stat`, 'utf8');
		} catch {
			continue;
		}
		// Fields after "(comm)": state ppid pgrp ...
		const fields = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
		if (Number(fields[2]) === pgid && fields[0] !== 'Z') return false;
	}
	return true;
}

function describeCommand(opts: RunProcessOptions): string {
	return opts.shell || !opts.args?.length ? opts.command : [opts.command, ...opts.args].join(' ');
}

async function spawnError(err: NodeJS.ErrnoException, opts: RunProcessOptions): Promise<Error> {
	if (err.code === 'ENOENT') {
		const cwdOk = await stat(opts.cwd).then(
			(s) => s.isDirectory(),
			() => false,
		);
		if (!cwdOk) return new StepError('not-found', `working directory not found: ${opts.cwd}`, { permanent: true });
		return new StepError('not-found', `command not found: ${opts.command}`, { permanent: true });
	}
	if (err.code === 'EACCES') return new StepError('failed', `command is not executable: ${opts.command}`, { permanent: true });
	return new StepError('failed', `cannot start ${describeCommand(opts)}: ${err.message}`);
}

/**
 * Run a process to completion in its own process group. Never throws for exit codes, timeouts or cancellation
 * (see the result's flags); rejects with StepError when the process cannot start.
 */
export function runProcess(opts: RunProcessOptions): Promise<ProcessResult> {
	const started = Date.now();
	const stdout = new Capture('stdout', opts.maxOutputBytes, opts.onOutput);
	const stderr = new Capture('stderr', opts.maxOutputBytes, opts.onOutput);
	const result = (
		exitCode: number | null,
		sig: NodeJS.Signals | null,
		pid: number | undefined,
		flags: { timedOut: boolean; cancelled: boolean },
	): ProcessResult => {
		const out = stdout.finish();
		const err = stderr.finish();
		return {
			exitCode,
			signal: sig,
			stdout: out.text,
			stderr: err.text,
			truncated: { stdout: out.truncated, stderr: err.truncated },
			timedOut: flags.timedOut,
			cancelled: flags.cancelled,
			durationMs: Date.now() - started,
			pid,
		};
	};
	if (opts.signal?.aborted) {
		return Promise.resolve(result(null, null, undefined, { timedOut: false, cancelled: true }));
	}

	return new Promise<ProcessResult>((resolve, reject) => {
		const isWin = process.platform === 'win32';
		let child: ChildProcess;
		const stdin = opts.input === undefined ? 'ignore' : 'pipe';
		try {
			child = opts.shell
				? spawn(isWin ? (process.env.ComSpec ?? 'cmd.exe') : '/bin/sh', isWin ? ['/d', '/s', '/c', opts.command] : ['-c', opts.command], {
						cwd: opts.cwd,
						env: opts.env,
						detached: !isWin,
						stdio: [stdin, 'pipe', 'pipe'],
						windowsHide: true,
						windowsVerbatimArguments: isWin,
					})
				: spawn(opts.command, opts.args ?? [], {
						cwd: opts.cwd,
						env: opts.env,
						detached: !isWin,
						stdio: [stdin, 'pipe', 'pipe'],
						windowsHide: true,
					});
		} catch (err) {
			// Invalid arguments (a NUL byte, a bad env value) throw synchronously.
			reject(new StepError('failed', `cannot start ${describeCommand(opts)}: ${(err as Error).message}`, { permanent: true }));
			return;
		}

		const flags = { timedOut: false, cancelled: false };
		let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
		let closed = false;
		let groupDone = false;
		let settled = false;
		let terminating = false;
		let reaper: NodeJS.Timeout | undefined;
		let drainTimer: NodeJS.Timeout | undefined;
		let timeoutTimer: NodeJS.Timeout | undefined;

		const cleanup = () => {
			if (timeoutTimer) clearTimeout(timeoutTimer);
			if (drainTimer) clearTimeout(drainTimer);
			if (reaper) clearInterval(reaper);
			opts.signal?.removeEventListener('abort', onAbort);
		};
		const maybeFinish = () => {
			if (settled || !exit) return;
			if (groupDone && !closed && !drainTimer) {
				// Pipes still open with the group gone: a descendant left the group (setsid); do not wait for it.
				drainTimer = setTimeout(() => {
					child.stdout?.destroy();
					child.stderr?.destroy();
					closed = true;
					maybeFinish();
				}, DRAIN_MS);
			}
			if (!closed || !groupDone) return;
			settled = true;
			cleanup();
			resolve(result(exit.code, exit.signal, child.pid, flags));
		};
		const markGroupDone = () => {
			groupDone = true;
			if (reaper) clearInterval(reaper);
			reaper = undefined;
			maybeFinish();
		};
		// TERM the group, then KILL it after the grace period; the leader may be gone while descendants linger.
		const terminate = () => {
			if (terminating) return;
			terminating = true;
			if (!groupAlive(child)) return markGroupDone();
			signalGroup(child, 'SIGTERM');
			if (isWin) return markGroupDone();
			const termAt = Date.now();
			reaper = setInterval(() => {
				if (!groupAlive(child)) return markGroupDone();
				if (Date.now() - termAt >= opts.graceMs) {
					signalGroup(child, 'SIGKILL');
					markGroupDone();
				}
			}, REAP_POLL_MS);
		};
		const onAbort = () => {
			if (!flags.timedOut) flags.cancelled = true;
			terminate();
		};

		if (opts.input !== undefined && child.stdin) {
			// A process that exits without reading its input closes the pipe: EPIPE is expected then, not a failure.
			child.stdin.on('error', () => undefined);
			child.stdin.end(opts.input);
		}
		child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
		child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));

		child.once('error', (err: NodeJS.ErrnoException) => {
			// With a pid the process started: a later error (a failed kill) is followed by exit and close anyway.
			if (exit || settled || child.pid !== undefined) return;
			settled = true;
			cleanup();
			spawnError(err, opts).then(reject, reject);
		});

		child.once('exit', (code, sig) => {
			exit = { code, signal: sig };
			// A step's processes do not outlive it: whatever is left in its group is stopped too.
			terminate();
			maybeFinish();
		});

		child.once('close', () => {
			closed = true;
			maybeFinish();
		});

		if (child.pid !== undefined) {
			if (opts.timeoutMs !== undefined && opts.timeoutMs > 0) {
				timeoutTimer = setTimeout(() => {
					if (!flags.cancelled) flags.timedOut = true;
					terminate();
				}, opts.timeoutMs);
			}
			opts.signal?.addEventListener('abort', onAbort, { once: true });
		}
	});
}
