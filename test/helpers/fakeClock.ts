// A Clock tests drive by hand: `advance` lets time pass (sleepers wake, as real timers do), `jump` moves the wall
// clock only (as an NTP correction or a sleeping laptop does: timers already armed do not notice).
import type { Clock } from '../../src/core/ports';

interface Sleeper {
	/** Elapsed (monotonic) time at which it wakes. */
	at: number;
	resolve(): void;
}

export class FakeClock implements Clock {
	private elapsed = 0;
	private sleepers: Sleeper[] = [];
	/** The delays asked for, in order. */
	readonly sleeps: number[] = [];

	constructor(private wall: number) {}

	now(): number {
		return this.wall;
	}

	sleep(ms: number, signal?: AbortSignal): Promise<void> {
		this.sleeps.push(ms);
		return new Promise<void>((resolve, reject) => {
			if (signal?.aborted) return reject(signal.reason);
			const sleeper: Sleeper = {
				at: this.elapsed + Math.max(0, ms),
				resolve: () => {
					signal?.removeEventListener('abort', onAbort);
					resolve();
				},
			};
			const onAbort = () => {
				this.sleepers = this.sleepers.filter((s) => s !== sleeper);
				reject(signal?.reason);
			};
			signal?.addEventListener('abort', onAbort, { once: true });
			this.sleepers.push(sleeper);
		});
	}

	/** Time passes: wall and elapsed time move together, in steps so each sleeper wakes at its own time. */
	async advance(ms: number): Promise<void> {
		const end = this.elapsed + ms;
		for (;;) {
			const next = Math.min(...this.sleepers.map((s) => s.at));
			if (!(next <= end)) break;
			this.wall += next - this.elapsed;
			this.elapsed = next;
			const due = this.sleepers.filter((s) => s.at <= this.elapsed);
			this.sleepers = this.sleepers.filter((s) => s.at > this.elapsed);
			for (const s of due) s.resolve();
			await flush();
		}
		this.wall += end - this.elapsed;
		this.elapsed = end;
		await flush();
	}

	/** The wall clock moves (forward or back) with no time passing. */
	jump(ms: number): void {
		this.wall += ms;
	}

	get pending(): number {
		return this.sleepers.length;
	}
}

/** Lets pending promise callbacks and immediates run. */
export async function flush(): Promise<void> {
	for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
