// Process liveness checks for tests that assert a process tree is gone.
import { readFileSync } from 'node:fs';

/** Whether pid names a live process (a zombie waiting to be reaped counts as dead). */
export function isAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
	} catch {
		return false;
	}
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
	} catch {
		return process.platform === 'linux' ? false : true;
	}
}

/** Waits until none of the pids is alive, or fails after timeoutMs naming the survivors. */
export async function waitUntilDead(pids: number[], timeoutMs = 3000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const alive = pids.filter(isAlive);
		if (alive.length === 0) return;
		if (Date.now() > deadline) throw new Error(`still alive after ${timeoutMs} ms: ${alive.join(', ')}`);
		await new Promise((r) => setTimeout(r, 20));
	}
}

/** Kill leftovers so a failing test does not leak processes. */
export function killQuietly(pids: number[]): void {
	for (const pid of pids) {
		try {
			process.kill(pid, 'SIGKILL');
		} catch {
			// already gone
		}
	}
}
