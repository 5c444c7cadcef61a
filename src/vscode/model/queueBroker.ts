// The extension's decision broker: the prompter of each folder's engine. Runs started by a person (untracked) and
// trigger runs submitted with waitForDecisions go to the extension's one DecisionQueue (board, tree, notification);
// unattended runs that did not ask to wait are refused by the broker itself. The API lists and answers the forwarded
// decisions of trigger runs through the broker as in `qo serve`. No vscode import.
import type { DecisionAnswer, DecisionPrompter, DecisionRequest } from '../../core/ports';
import { DecisionBroker, type PendingDecision, type RunAttendance } from '../../core/services/triggers/decisionBroker';
import type { DecisionReply } from '../api';

/** What the broker needs of the extension's DecisionQueue. */
export interface ForwardQueue extends DecisionPrompter {
	get(id: string): DecisionRequest | undefined;
	answer(ids: readonly string[], reply: DecisionReply): Promise<unknown>;
}

export class QueueBroker extends DecisionBroker {
	/** Tracked runs whose decisions wait in the queue. */
	private readonly forwarded = new Set<string>();
	/** Forwarded decisions still waiting, with when they were asked. */
	private readonly waiting = new Map<string, number>();

	constructor(
		private readonly queue: ForwardQueue,
		private readonly clock: () => number = Date.now,
	) {
		super(clock, queue);
	}

	override track(runId: string, attendance: RunAttendance): void {
		super.track(runId, attendance);
		if (attendance.waitForDecisions) this.forwarded.add(runId);
		else this.forwarded.delete(runId);
	}

	override untrack(runId: string): void {
		this.forwarded.delete(runId);
		super.untrack(runId);
	}

	override async decide(request: DecisionRequest, signal: AbortSignal): Promise<DecisionAnswer> {
		if (!this.forwarded.has(request.runId)) return super.decide(request, signal);
		this.waiting.set(request.id, this.clock());
		try {
			return await this.queue.decide(request, signal);
		} finally {
			this.waiting.delete(request.id);
		}
	}

	override list(): PendingDecision[] {
		const forwarded = [...this.waiting].flatMap(([id, at]) => {
			const request = this.queue.get(id);
			return request ? [{ request, at }] : [];
		});
		return [...super.list(), ...forwarded];
	}

	override get(id: string): PendingDecision | undefined {
		const at = this.waiting.get(id);
		const request = at !== undefined ? this.queue.get(id) : undefined;
		return request && at !== undefined ? { request, at } : super.get(id);
	}

	override answer(id: string, answer: DecisionAnswer): boolean {
		if (!this.waiting.has(id) || !this.queue.get(id)) return super.answer(id, answer);
		void this.queue.answer([id], { approve: answer.approve, ...(answer.reason ? { reason: answer.reason } : {}) });
		return true;
	}
}
