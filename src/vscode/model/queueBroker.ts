// The extension's decision broker: the prompter of each folder's engine. Runs started by a person (untracked) and
// trigger runs submitted with waitForDecisions go to the extension's one DecisionQueue (board, tree, notification);
// unattended runs that did not ask to wait are refused by the broker itself. No vscode import.
import type { DecisionAnswer, DecisionPrompter, DecisionRequest } from '../../core/ports';
import { DecisionBroker, type RunAttendance } from '../../core/services/triggers/decisionBroker';

export class QueueBroker extends DecisionBroker {
	/** Tracked runs whose decisions wait in the queue. */
	private readonly forwarded = new Set<string>();

	constructor(
		private readonly queue: DecisionPrompter,
		now: () => number = Date.now,
	) {
		super(now, queue);
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

	override decide(request: DecisionRequest, signal: AbortSignal): Promise<DecisionAnswer> {
		return this.forwarded.has(request.runId) ? this.queue.decide(request, signal) : super.decide(request, signal);
	}
}
