// Starts and stops a private code-server (the real VS Code server + web workbench) for one test run.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { installation, type Installation } from './installation';

export interface CodeServerOptions {
	/** Keep workspace trust on (the default disables it so no trust prompt blocks the tests). */
	workspaceTrust?: boolean;
	/** Honour the `payload` URL parameter (extensionDevelopmentPath / extensionTestsPath). */
	smokeTestDriver?: boolean;
	/** .vsix files installed into this instance's private extensions folder before it starts. */
	vsix?: string[];
	/** Extra environment for the server and so for the extension host (and the tests inside it). */
	env?: Record<string, string>;
	/** User settings on top of QUIET_SETTINGS. */
	settings?: Record<string, unknown>;
	/** Keep the instance's folder (logs, user data) after stop(). */
	keep?: boolean;
}

/** A plain workbench: no welcome page, no chat side bar, no update or telemetry traffic. */
const QUIET_SETTINGS: Record<string, unknown> = {
	'workbench.startupEditor': 'none',
	'workbench.secondarySideBar.defaultVisibility': 'hidden',
	'workbench.tips.enabled': false,
	'chat.disableAIFeatures': true,
	'extensions.autoCheckUpdates': false,
	'extensions.autoUpdate': false,
	'telemetry.telemetryLevel': 'off',
	'update.mode': 'none',
};

export interface CodeServer {
	url: string;
	port: number;
	/** This instance's private folder: user data, extensions, logs, server.log. */
	dir: string;
	/** A `vscode-remote://` URI for an absolute path on this server (how the workbench names server files). */
	remoteUri(path: string): string;
	/** Stops the server and every process it started; safe to call twice. */
	stop(): Promise<void>;
}

const HEALTH_TIMEOUT_MS = 60_000;
const TERM_GRACE_MS = 5_000;

export async function startCodeServer(options: CodeServerOptions = {}): Promise<CodeServer> {
	const inst = installation();
	const runs = join(inst.dir, 'runs');
	mkdirSync(runs, { recursive: true });
	const dir = mkdtempSync(join(runs, 'cs-'));
	const env = serverEnv(inst, dir, options.env);
	mkdirSync(join(dir, 'data', 'User'), { recursive: true });
	writeFileSync(join(dir, 'data', 'User', 'settings.json'), JSON.stringify({ ...QUIET_SETTINGS, ...options.settings }, null, '\t'));
	for (const vsix of options.vsix ?? []) installExtension(inst, dir, env, vsix);

	const port = await freePort();
	const args = [
		inst.entry,
		'--config', join(dir, 'config.yaml'),
		'--bind-addr', `127.0.0.1:${port}`,
		'--auth', 'none',
		'--disable-telemetry',
		'--disable-update-check',
		'--user-data-dir', join(dir, 'data'),
		'--extensions-dir', join(dir, 'extensions'),
		...(options.workspaceTrust ? [] : ['--disable-workspace-trust']),
		...(options.smokeTestDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
	];
	const log = openSync(join(dir, 'server.log'), 'a');
	// detached = setsid: the server, its extension host and their children share one process group we can stop.
	const child = spawn(inst.node, args, { cwd: dir, env, detached: true, stdio: ['ignore', log, log] });
	closeSync(log);
	const pgid = child.pid;
	if (pgid === undefined) throw new Error('code-server did not start');
	const exited = new Promise<void>((r) => child.once('exit', () => r()));

	let stopped = false;
	const stop = async (): Promise<void> => {
		if (stopped) return;
		stopped = true;
		process.off('exit', killOnExit);
		await stopGroup(pgid, dir, exited);
		if (!options.keep) rmSync(dir, { recursive: true, force: true });
	};
	const killOnExit = (): void => {
		killGroup(pgid, 'SIGKILL');
		if (!options.keep) rmSync(dir, { recursive: true, force: true });
	};
	process.on('exit', killOnExit);
	stopOnSignals();

	const url = `http://127.0.0.1:${port}/`;
	try {
		await waitForHealth(url, exited);
	} catch (err) {
		const tail = readTail(join(dir, 'server.log'));
		await stop();
		throw new Error(`${(err as Error).message}\n--- code-server log ---\n${tail}`);
	}
	return { url, port, dir, remoteUri: (path) => `vscode-remote://127.0.0.1:${port}${path}`, stop };
}

/** The server runs in its own session, so Ctrl-C does not reach it: end the test process, and so the server, ourselves. */
function stopOnSignals(): void {
	if (signalsHandled) return;
	signalsHandled = true;
	for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
		process.once(signal, () => process.exit(signal === 'SIGINT' ? 130 : 143));
	}
}
let signalsHandled = false;

function serverEnv(inst: Installation, dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
	const env: NodeJS.ProcessEnv = {};
	// Nothing from a surrounding VS Code (IPC hooks, extension host flags) may leak into this one.
	for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('VSCODE_') && !k.startsWith('ELECTRON_')) env[k] = v;
	return {
		...env,
		PATH: `${join(inst.node, '..')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
		// code-server writes ~/.config/code-server, ~/.local/share/code-server: keep them in this run's folder.
		XDG_CONFIG_HOME: join(dir, 'xdg', 'config'),
		XDG_DATA_HOME: join(dir, 'xdg', 'data'),
		XDG_CACHE_HOME: join(dir, 'xdg', 'cache'),
		...extra,
	};
}

function installExtension(inst: Installation, dir: string, env: NodeJS.ProcessEnv, vsix: string): void {
	const args = ['--config', join(dir, 'config.yaml'), '--user-data-dir', join(dir, 'data'), '--extensions-dir', join(dir, 'extensions')];
	const res = spawnSync(inst.node, [inst.entry, ...args, '--install-extension', vsix, '--force'], { env, encoding: 'utf8', timeout: 120_000 });
	if (res.status !== 0) throw new Error(`installing ${vsix} failed (exit ${res.status}):\n${res.stdout}\n${res.stderr}`);
}

function freePort(): Promise<number> {
	return new Promise((resolvePort, reject) => {
		const srv = createServer();
		srv.once('error', reject);
		srv.listen(0, '127.0.0.1', () => {
			const addr = srv.address();
			srv.close(() => (typeof addr === 'object' && addr ? resolvePort(addr.port) : reject(new Error('no port'))));
		});
	});
}

async function waitForHealth(url: string, exited: Promise<void>): Promise<void> {
	let gone = false;
	void exited.then(() => (gone = true));
	const deadline = Date.now() + HEALTH_TIMEOUT_MS;
	while (Date.now() < deadline) {
		if (gone) throw new Error('code-server exited before it was healthy');
		try {
			const res = await fetch(new URL('healthz', url), { signal: AbortSignal.timeout(2_000) });
			if (res.ok) return;
		} catch {
			// not listening yet
		}
		await sleep(250);
	}
	throw new Error(`code-server not healthy at ${url} after ${HEALTH_TIMEOUT_MS} ms`);
}

/** TERM the whole group, KILL what is left after a grace period, then make sure nothing of this instance survives. */
async function stopGroup(pgid: number, dir: string, exited: Promise<void>): Promise<void> {
	killGroup(pgid, 'SIGTERM');
	const deadline = Date.now() + TERM_GRACE_MS;
	while (Date.now() < deadline && groupAlive(pgid)) await sleep(100);
	killGroup(pgid, 'SIGKILL');
	await Promise.race([exited, sleep(2_000)]);
	// A child that left the group (its own setsid) still carries our private folder in its command line or environment.
	for (const pid of processesMentioning(dir)) {
		try {
			process.kill(pid, 'SIGKILL');
		} catch {
			// already gone
		}
	}
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
	try {
		process.kill(-pgid, signal);
	} catch {
		// the group is gone
	}
}

function groupAlive(pgid: number): boolean {
	try {
		process.kill(-pgid, 0);
		return true;
	} catch {
		return false;
	}
}

function processesMentioning(text: string): number[] {
	const pids: number[] = [];
	for (const entry of readdirSync('/proc')) {
		if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
		try {
			const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
			if (cmdline.includes(text) || readFileSync(`/proc/${entry}/environ`, 'utf8').includes(text)) pids.push(Number(entry));
		} catch {
			// exited meanwhile
		}
	}
	return pids;
}

function readTail(file: string, lines = 40): string {
	try {
		return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
	} catch {
		return '(no log)';
	}
}

export function sleep(ms: number): Promise<void> {
	return new Promise((r) => setTimeout(r, ms));
}
