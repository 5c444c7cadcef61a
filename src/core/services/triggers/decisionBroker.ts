// Decisions for runs nobody drives from a terminal (inbox, API, hooks, schedules): held until someone answers
// through the API or the extension, or — for an unattended run that did not ask to wait — refused at once, so such a
// run never "succeeds" by skipping the steps that needed a person.
import type { DecisionAnswer, DecisionPrompter, DecisionRequest } from '../../ports';

export interface PendingDecision {
	request: DecisionRequest;
	/** When it was asked (ms since the epoch). */
	at: number;
}

/** How a run's decisions are handled. */
export interface RunAttendance {
	/** Nobody is watching this run. */
	unattended: boolean;
	/** An unattended run whose decisions wait for an answer (through the API) instead of being refused. */
	waitForDecisions: boolean;
	/** Where the run came from, for the refusal's wording ("inbox", "schedule nightly"). */
	source: string;
}

interface Waiting extends PendingDecision {
	resolve(answer: DecisionAnswer): void;
}

export class DecisionBroker implements DecisionPrompter {
	private readonly pending = new Map<string, Waiting>();
	private readonly attendance = new Map<string, RunAttendance>();
	private readonly listeners = new Set<() => void>();

	constructor(
		private readonly now: () => number = Date.now,
		/** Runs the broker knows nothing about (started elsewhere): who decides for them. */
		private readonly fallback?: DecisionPrompter,
	) {}

	/** Says how a run's decisions are to be handled; call before the run starts (from the engine's onStart). */
	track(runId: string, attendance: RunAttendance): void {
		this.attendance.set(runId, attendance);
	}

	/** Forgets a finished run; its still-pending decisions (none, normally) are refused. */
	untrack(runId: string): void {
		this.attendance.delete(runId);
		for (const [id, w] of this.pending) if (w.request.runId === runId) this.settle(id, { approve: false, by: 'policy', reason: 'the run ended' });
	}

	async decide(request: DecisionRequest, signal: AbortSignal): Promise<DecisionAnswer> {
		const who = this.attendance.get(request.runId);
		if (!who) {
			if (this.fallback) return this.fallback.decide(request, signal);
			return { approve: false, by: 'policy', reason: 'no one is watching this run' };
		}
		if (who.unattended && !who.waitForDecisions) {
			return {
				approve: false,
				by: 'policy',
				reason: `no one is watching this ${who.source} run: approve the step ahead of time (requires_approval: false, an allowed rule), or submit it with wait_for_decisions to answer through the API`,
			};
		}
		if (signal.aborted) return { approve: false, by: 'policy', reason: 'the run was cancelled' };
		return new Promise<DecisionAnswer>((resolve) => {
			const onAbort = () => this.settle(request.id, { approve: false, by: 'policy', reason: 'the run was cancelled' });
			signal.addEventListener('abort', onAbort, { once: true });
			this.pending.set(request.id, {
				request,
				at: this.now(),
				resolve: (answer) => {
					signal.removeEventListener('abort', onAbort);
					resolve(answer);
				},
			});
			this.changed();
		});
	}

	/** Decisions waiting for an answer, oldest first. */
	list(): PendingDecision[] {
		return [...this.pending.values()].map(({ request, at }) => ({ request, at }));
	}

	get(id: string): PendingDecision | undefined {
		const w = this.pending.get(id);
		return w && { request: w.request, at: w.at };
	}

	/** Answers a pending decision; false when there is none by that id (answered already, or the run ended). */
	answer(id: string, answer: DecisionAnswer): boolean {
		return this.settle(id, answer);
	}

	onDidChange(listener: () => void): { dispose(): void } {
		this.listeners.add(listener);
		return { dispose: () => this.listeners.delete(listener) };
	}

	private settle(id: string, answer: DecisionAnswer): boolean {
		const w = this.pending.get(id);
		if (!w) return false;
		this.pending.delete(id);
		w.resolve(answer);
		this.changed();
		return true;
	}

	private changed(): void {
		for (const l of this.listeners) {
			try {
				l();
			} catch {
				// a broken listener must not stop decisions
			}
		}
	}
}
