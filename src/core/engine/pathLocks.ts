// Steps that write the same path (or a folder holding it) never overlap: a read-modify-write such as `append`
// would otherwise lose an update. All-or-nothing acquisition, so waits cannot form a cycle.
import * as path from 'node:path';

export interface PathClaim {
	reads: readonly string[];
	writes: readonly string[];
}

interface Held {
	reads: string[];
	writes: string[];
}

export function normalizeClaimPath(p: string): string {
	const n = path.posix.normalize(p.replace(/\\/g, '/')).replace(/^\.\/+/, '').replace(/\/+$/, '');
	return n === '.' ? '' : n;
}

function overlaps(a: string, b: string): boolean {
	return a === b || a === '' || b === '' || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

function anyOverlap(xs: readonly string[], ys: readonly string[]): boolean {
	for (const x of xs) for (const y of ys) if (overlaps(x, y)) return true;
	return false;
}

function conflicts(a: Held, b: Held): boolean {
	return anyOverlap(a.writes, b.writes) || anyOverlap(a.writes, b.reads) || anyOverlap(a.reads, b.writes);
}

export class PathLocks {
	private readonly held = new Set<Held>();
	private waiting: { claim: Held; grant: () => void }[] = [];

	/** Resolves with a release function once no held claim conflicts with this one. */
	acquire(claim: PathClaim): Promise<() => void> {
		const mine: Held = { reads: claim.reads.map(normalizeClaimPath), writes: claim.writes.map(normalizeClaimPath) };
		const release = () => {
			this.held.delete(mine);
			this.wake();
		};
		if (this.free(mine)) {
			this.held.add(mine);
			return Promise.resolve(release);
		}
		return new Promise((resolve) => {
			this.waiting.push({
				claim: mine,
				grant: () => {
					this.held.add(mine);
					resolve(release);
				},
			});
		});
	}

	/** Steps waiting for a path right now. */
	get waiters(): number {
		return this.waiting.length;
	}

	private free(claim: Held): boolean {
		for (const h of this.held) if (conflicts(claim, h)) return false;
		return true;
	}

	private wake(): void {
		const still: typeof this.waiting = [];
		for (const w of this.waiting) {
			// In arrival order; a waiter also yields to earlier waiters it conflicts with, so none is starved.
			if (this.free(w.claim) && !still.some((s) => conflicts(s.claim, w.claim))) w.grant();
			else still.push(w);
		}
		this.waiting = still;
	}
}
