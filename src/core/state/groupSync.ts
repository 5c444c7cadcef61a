// Coalesced durability: callers that need "everything up to now" synced share one in-flight sync, plus at most one queued.

/**
 * Runs `sync` so that every change marked before a wait() call is covered by a sync that started after it.
 * Concurrent waiters share syncs: n marks cost far fewer than n syncs.
 */
export class GroupSync {
	private marked = 0;
	private synced = 0;
	private inflight: Promise<void> | undefined;
	private inflightTarget = 0;
	private queued: Promise<void> | undefined;

	constructor(private readonly sync: () => Promise<void>) {}

	/** Record a change that a later wait() must make durable. */
	mark(): void {
		this.marked++;
	}

	/** Resolves once every change marked before this call is durable. */
	wait(): Promise<void> {
		const target = this.marked;
		if (this.synced >= target) return Promise.resolve();
		if (this.inflight) {
			if (this.inflightTarget >= target) return this.inflight;
			if (!this.queued) {
				const next = () => {
					this.queued = undefined;
					return this.start();
				};
				this.queued = this.inflight.then(next, next);
			}
			return this.queued;
		}
		return this.start();
	}

	private start(): Promise<void> {
		if (this.synced >= this.marked) return Promise.resolve();
		const target = this.marked;
		this.inflightTarget = target;
		const run = this.sync().then(() => {
			this.synced = Math.max(this.synced, target);
		});
		const tracked = run.finally(() => {
			if (this.inflight === tracked) this.inflight = undefined;
		});
		this.inflight = tracked;
		return tracked;
	}
}
