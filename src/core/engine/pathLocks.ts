// Steps that write the same path (or a folder holding it), or read what another writes, never overlap — within a
// run and, the locks being the engine's, across the runs it executes side by side. Acquisition is all-or-nothing
// (a step waits holding nothing), so waits cannot form a cycle; each wait is reported as a conflict.
import * as path from 'node:path';

export interface PathClaim {
	reads: readonly string[];
	writes: readonly string[];
}

/** Who holds or wants a claim: a step of a run, with its priority (lower runs first, as in the workflow). */
export interface LockOwner {
	runId: string;
	stepId: string;
	priority?: number;
}

/** A step that must wait: for which paths, and who holds them. */
export interface LockConflict {
	waiter: LockOwner;
	holders: LockOwner[];
	paths: string[];
}

/** Waiting steps get a freed path in arrival order, or the lowest priority number first. */
export type LockOrder = 'arrival' | 'priority';

interface Held {
	reads: string[];
	writes: string[];
	owner?: LockOwner;
}

interface Waiter {
	claim: Held;
	seq: number;
	grant: () => void;
}

/** A named resource (a database, a port) as a claim path no workspace path can equal. */
export function resourceClaim(name: string): string {
	return `\u0000resource/${name}`;
}

export function normalizeClaimPath(p: string): string {
	if (p.startsWith('\u0000')) return p;
	const n = path.posix.normalize(p.replace(/\\/g, '/')).replace(/^\.\/+/, '').replace(/\/+$/, '');
	return n === '.' ? '' : n;
}

function overlaps(a: string, b: string): boolean {
	if (a.startsWith('\u0000') || b.startsWith('\u0000')) return a === b;
	return a === b || a === '' || b === '' || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

function overlapping(xs: readonly string[], ys: readonly string[]): string[] {
	const out: string[] = [];
	for (const x of xs) for (const y of ys) if (overlaps(x, y)) out.push(x.length >= y.length ? x : y);
	return out;
}

function anyOverlap(xs: readonly string[], ys: readonly string[]): boolean {
	for (const x of xs) for (const y of ys) if (overlaps(x, y)) return true;
	return false;
}

function conflicts(a: Held, b: Held): boolean {
	return anyOverlap(a.writes, b.writes) || anyOverlap(a.writes, b.reads) || anyOverlap(a.reads, b.writes);
}

function shown(p: string): string {
	return p.startsWith('\u0000resource/') ? `resource ${p.slice('\u0000resource/'.length)}` : p || '(the whole workspace)';
}

export class PathLocks {
	private readonly held = new Set<Held>();
	private waiting: Waiter[] = [];
	private seq = 0;
	private active = 0;
	/** Waits so far (each a conflict between two steps). */
	conflicts = 0;

	constructor(private readonly order: LockOrder = 'arrival') {}

	/** Runs executing now with these locks; above one, reads are claimed too (another run may be writing). */
	get activeRuns(): number {
		return this.active;
	}

	runStarted(): void {
		this.active++;
	}

	runEnded(): void {
		this.active = Math.max(0, this.active - 1);
	}

	/**
	 * Resolves with a release function once no held claim conflicts with this one; `onWait` hears about the wait
	 * first (who holds what), so the host can show why the step waits and count the conflict.
	 */
	acquire(claim: PathClaim, owner?: LockOwner, onWait?: (conflict: LockConflict) => void): Promise<() => void> {
		const mine: Held = { reads: claim.reads.map(normalizeClaimPath), writes: claim.writes.map(normalizeClaimPath), ...(owner ? { owner } : {}) };
		const release = () => {
			this.held.delete(mine);
			this.wake();
		};
		if (this.free(mine) && !this.waiting.some((w) => conflicts(w.claim, mine))) {
			this.held.add(mine);
			return Promise.resolve(release);
		}
		this.conflicts++;
		if (onWait && owner) onWait(this.describe(mine, owner));
		return new Promise((resolve) => {
			this.waiting.push({
				claim: mine,
				seq: this.seq++,
				grant: () => {
					this.held.add(mine);
					resolve(release);
				},
			});
			// A claim may be free but queued behind an earlier conflicting waiter: let wake() decide in order.
			this.wake();
		});
	}

	/** Steps waiting for a path right now. */
	get waiters(): number {
		return this.waiting.length;
	}

	/** One line for a conflict: "waits for src/a.ts, written by step build of run 20261125-…". */
	static describe(c: LockConflict): string {
		const by = c.holders.map((h) => `step ${h.stepId}${h.runId !== c.waiter.runId ? ` of run ${h.runId}` : ''}`);
		return `waits for ${[...new Set(c.paths)].map(shown).join(', ')}, in use by ${by.length ? [...new Set(by)].join(', ') : 'an earlier waiting step'}`;
	}

	private describe(mine: Held, waiter: LockOwner): LockConflict {
		const holders: LockOwner[] = [];
		const paths: string[] = [];
		for (const h of [...this.held, ...this.waiting.map((w) => w.claim)]) {
			if (!conflicts(mine, h)) continue;
			if (h.owner) holders.push(h.owner);
			paths.push(...overlapping(mine.writes, h.writes), ...overlapping(mine.writes, h.reads), ...overlapping(mine.reads, h.writes));
		}
		return { waiter, holders, paths };
	}

	private free(claim: Held): boolean {
		for (const h of this.held) if (conflicts(claim, h)) return false;
		return true;
	}

	private wake(): void {
		if (this.order === 'priority') this.waiting.sort((a, b) => (a.claim.owner?.priority ?? 0) - (b.claim.owner?.priority ?? 0) || a.seq - b.seq);
		const still: Waiter[] = [];
		for (const w of this.waiting) {
			// In order; a waiter also yields to earlier waiters it conflicts with, so none is starved.
			if (this.free(w.claim) && !still.some((s) => conflicts(s.claim, w.claim))) w.grant();
			else still.push(w);
		}
		this.waiting = still;
	}
}
