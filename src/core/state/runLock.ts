// One process executes (or rolls back) a run at a time: a lock file naming its holder, reclaimed when the holder died.
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { link, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { StateError } from '../errors';
import { fsyncDir, ioError, tempNameFor } from './atomicFs';
import { errnoCode, isMissing } from './io';

/** Name of the lock file inside a run folder. */
export const RUN_LOCK_FILE = 'lock';

export interface LockOwner {
	pid: number;
	/** Process start time in clock ticks since boot (/proc/<pid>/stat field 22), when the platform has it. */
	startTime?: number;
	hostname: string;
	/** When the lock was taken (ms since epoch). */
	at: number;
	/** Unique per acquisition, so a reclaimer can tell a stale lock from a fresh one that replaced it. */
	nonce: string;
}

/** pid recorded for a lock whose content cannot be parsed; it is stale once older than the grace period. */
const UNREADABLE_PID = -1;
const UNREADABLE_GRACE_MS = 10_000;

/** Start time of a process from /proc (Linux), or undefined when /proc is unavailable or the process is gone. */
export async function processStartTime(pid: number): Promise<number | undefined> {
	let stat: string;
	try {
		stat = await readFile(`/proc/${pid}/stat`, 'utf8');
	} catch {
		return undefined;
	}
	return startTimeOf(stat);
}

/** This process's start time, read once (it cannot change). */
let ownStartTime: { value: number | undefined } | undefined;
function ownProcessStartTime(): number | undefined {
	if (!ownStartTime) {
		let stat: string | undefined;
		try {
			stat = readFileSync(`/proc/${process.pid}/stat`, 'utf8');
		} catch {
			// no /proc: undefined
		}
		ownStartTime = { value: stat === undefined ? undefined : startTimeOf(stat) };
	}
	return ownStartTime.value;
}

function startTimeOf(stat: string): number | undefined {
	// Field 2 (comm) is parenthesized and may hold spaces or parentheses, so count fields after the last ')'.
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	const value = Number(fields[22 - 3]);
	return Number.isFinite(value) ? value : undefined;
}

function pidAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (err) {
		return errnoCode(err) === 'EPERM'; // exists, owned by someone else
	}
}

/** Whether the lock's holder still runs: same host, same pid and (on Linux) the same process start time. */
export async function lockHolderAlive(owner: LockOwner): Promise<boolean> {
	if (owner.pid === UNREADABLE_PID) return Date.now() - owner.at < UNREADABLE_GRACE_MS;
	if (owner.hostname !== hostname()) return true; // cannot see another machine's processes: assume it is alive
	if (owner.startTime !== undefined && process.platform === 'linux') {
		const now = await processStartTime(owner.pid);
		return now === owner.startTime; // undefined: no such pid; different: the pid was reused
	}
	return pidAlive(owner.pid);
}

async function readOwner(file: string): Promise<LockOwner | undefined> {
	let text: string;
	try {
		text = await readFile(file, 'utf8');
	} catch (err) {
		if (isMissing(err)) return undefined;
		throw ioError('run lock', file, err);
	}
	try {
		const owner = JSON.parse(text) as LockOwner;
		if (typeof owner.pid === 'number' && typeof owner.nonce === 'string') return owner;
	} catch {
		// fall through: only the no-hard-link fallback can leave a half-written lock, and only for an instant
	}
	const at = await stat(file).then((st) => st.mtimeMs, () => 0);
	return { pid: UNREADABLE_PID, hostname: hostname(), at, nonce: `unreadable:${at}:${text.length}` };
}

function describeOwner(owner: LockOwner): string {
	const host = owner.hostname === hostname() ? '' : ` on ${owner.hostname}`;
	return `process ${owner.pid}${host} (since ${new Date(owner.at).toISOString()})`;
}

/** Release function returned by acquireRunLock; removes the lock only if it is still ours. */
export type ReleaseLock = () => Promise<void>;

/**
 * Take the lock of a run folder. The lock content is written to a temp file first and then hard-linked into place,
 * which, like O_EXCL, fails when a lock exists, and never shows a half-written lock. A lock whose holder is dead
 * (or whose pid was reused) is reclaimed; a live one is StateError 'locked' naming the pid. The lock's files are
 * tiny and written synchronously (see io.ts): taking a free lock waits for the disk only for the folder's fsync.
 */
export async function acquireRunLock(runDir: string, what = 'run', opts: { syncFolder?: boolean } = {}): Promise<ReleaseLock> {
	const file = path.join(runDir, RUN_LOCK_FILE);
	const owner: LockOwner = {
		pid: process.pid,
		startTime: ownProcessStartTime(),
		hostname: hostname(),
		at: Date.now(),
		nonce: randomBytes(8).toString('hex'),
	};
	const temp = tempNameFor(file);
	try {
		writeFileSync(temp, JSON.stringify(owner), { flag: 'wx', mode: 0o644 });
	} catch (err) {
		throw ioError('run lock', file, err);
	}
	try {
		for (let attempt = 0; attempt < 50; attempt++) {
			try {
				await placeLock(temp, file, owner);
				// syncFolder false: the caller syncs the run folder once for the lock and the files it creates there.
				if (opts.syncFolder !== false) await fsyncDir(runDir);
				return () => releaseLock(file, owner.nonce);
			} catch (err) {
				if (errnoCode(err) !== 'EEXIST') throw ioError('run lock', file, err);
			}
			const holder = await readOwner(file);
			if (!holder) continue; // released meanwhile
			if (await lockHolderAlive(holder)) {
				throw new StateError('locked', `${what} ${path.basename(runDir)} is in use by ${describeOwner(holder)}`);
			}
			await reclaim(file, holder, temp, owner);
		}
		throw new StateError('locked', `${what} ${path.basename(runDir)}: could not take its lock (it keeps changing hands)`);
	} finally {
		try {
			unlinkSync(temp);
		} catch {
			// already gone
		}
	}
}

/** Link the complete temp file into place; where hard links are unsupported, create the lock with O_EXCL instead. */
async function placeLock(temp: string, file: string, owner: LockOwner): Promise<void> {
	try {
		linkSync(temp, file);
	} catch (err) {
		const code = errnoCode(err);
		if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
		writeFileSync(file, JSON.stringify(owner), { flag: 'wx', mode: 0o644 });
	}
}

/**
 * Remove a stale lock without ever removing a fresh one. Only the holder of the gate file `<lock>.reclaim` (taken
 * with the same exclusive link) may delete a lock, and only after re-reading it under the gate: while a stale lock
 * exists nobody can take a fresh one, so the lock it checked is the lock it deletes. A gate left by a process that
 * died while reclaiming (a microsecond window) is cleared the same way once its holder is seen dead.
 */
async function reclaim(file: string, stale: LockOwner, mine: string, owner: LockOwner): Promise<void> {
	const gate = `${file}.reclaim`;
	try {
		await placeLock(mine, gate, owner);
	} catch (err) {
		if (errnoCode(err) !== 'EEXIST') throw ioError('run lock', gate, err);
		const holder = await readOwner(gate);
		if (holder && !(await lockHolderAlive(holder))) await clearDeadGate(gate, holder);
		else await new Promise((r) => setTimeout(r, 2 + Math.random() * 8));
		return; // the caller tries again
	}
	try {
		const current = await readOwner(file);
		if (current?.nonce === stale.nonce) {
			await unlink(file).catch((err: unknown) => {
				if (!isMissing(err)) throw ioError('run lock', file, err);
			});
		}
	} finally {
		await unlink(gate).catch(() => undefined);
	}
}

/** Move a dead reclaimer's gate aside, and put it back if it turns out to be a live one that replaced it. */
async function clearDeadGate(gate: string, dead: LockOwner): Promise<void> {
	const aside = `${gate}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
	try {
		await rename(gate, aside);
	} catch (err) {
		if (isMissing(err)) return;
		throw ioError('run lock', gate, err);
	}
	const moved = await readOwner(aside);
	if (moved && moved.nonce !== dead.nonce) await link(aside, gate).catch(() => undefined);
	await unlink(aside).catch(() => undefined);
}

async function releaseLock(file: string, nonce: string): Promise<void> {
	// Synchronous, like taking it: a few hundred bytes read and one unlink.
	let text: string | undefined;
	try {
		text = readFileSync(file, 'utf8');
	} catch {
		return;
	}
	const mine = (() => {
		try {
			return (JSON.parse(text) as LockOwner).nonce === nonce;
		} catch {
			return false;
		}
	})();
	if (!mine) return;
	try {
		unlinkSync(file);
	} catch (err) {
		if (!isMissing(err)) throw ioError('run lock', file, err);
	}
}

/** The current holder of a run's lock, if it is held by a live process (for `qo runs` and gc). */
export async function runLockHolder(runDir: string): Promise<LockOwner | undefined> {
	const holder = await readOwner(path.join(runDir, RUN_LOCK_FILE));
	if (!holder) return undefined;
	return (await lockHolderAlive(holder)) ? holder : undefined;
}
