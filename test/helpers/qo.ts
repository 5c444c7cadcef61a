// The built `qo` binary run as a real child process, as tests of the command line use it: whatever happens, a user
// never sees a stack trace.
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
export const QO = join(ROOT, 'bin', 'qo.js');

/** The environment without an LLM endpoint (so nothing reaches a model), colours off, plus `extra`. */
export function offlineEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
	const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extra };
	for (const k of ['QO_LLM_BASE_URL', 'OPENAI_BASE_URL', 'QO_LLM_MODEL', 'OPENAI_MODEL', 'QO_LLM_ROLE_MODELS']) if (!(k in extra)) delete env[k];
	return env;
}

export function assertNoStackTrace(out: string): void {
	assert.doesNotMatch(out, /\n\s+at .+:\d+:\d+\)?\n/, `stack trace printed:\n${out}`);
}

/** `qo ARGS...` in `cwd`, synchronously, with `env` (default: offlineEnv()). */
export function runQo(cwd: string, args: string[], env: NodeJS.ProcessEnv = offlineEnv()): SpawnSyncReturns<string> {
	const r = spawnSync(process.execPath, [QO, ...args], { cwd, encoding: 'utf8', env });
	assertNoStackTrace(r.stderr + r.stdout);
	return r;
}
