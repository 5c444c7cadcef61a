// The one queue of pending decisions: the engine's DecisionPrompter in the extension. The board, the tree, the
// notification and the API all answer through it. No vscode import.
import type { DecisionAnswer, DecisionPrompter, DecisionRequest } from '../../core/ports';
import type { DecisionReply } from '../api';

interface Pending {
	request: DecisionRequest;
	resolve(answer: DecisionAnswer): void;
}

export interface DecisionQueueHooks {
	/** A new decision waits (show a notification). */
	onRequested?(request: DecisionRequest): void;
	/** The user chose "always allow" for this rule: persist it. */
	onAlwaysAllow?(rule: string): void | Promise<void>;
	/** A person answered this decision (not a policy, not an always-allow sweep): learning hears of it. */
	onAnswered?(request: DecisionRequest, reply: DecisionReply): void;
}

export class DecisionQueue implements DecisionPrompter {
	private readonly pending = new Map<string, Pending>();

	constructor(private readonly hooks: DecisionQueueHooks = {}) {}

	decide(request: DecisionRequest, signal: AbortSignal): Promise<DecisionAnswer> {
		return new Promise<DecisionAnswer>((resolve) => {
			const onAbort = () => {
				this.pending.delete(request.id);
				resolve({ approve: false, by: 'policy', reason: 'the run was cancelled' });
			};
			if (signal.aborted) return onAbort();
			signal.addEventListener('abort', onAbort, { once: true });
			this.pending.set(request.id, {
				request,
				resolve: (answer) => {
					signal.removeEventListener('abort', onAbort);
					this.pending.delete(request.id);
					resolve(answer);
				},
			});
			this.hooks.onRequested?.(request);
		});
	}

	list(): DecisionRequest[] {
		return [...this.pending.values()].map((p) => p.request);
	}

	get(id: string): DecisionRequest | undefined {
		return this.pending.get(id)?.request;
	}

	/**
	 * Answers several decisions at once. Ids no longer pending (answered elsewhere a moment ago) are returned in
	 * `stale`, not treated as errors. "Always allow" also approves the other pending decisions raised by the same rules.
	 */
	async answer(ids: readonly string[], reply: DecisionReply): Promise<{ answered: string[]; stale: string[] }> {
		const answered: string[] = [];
		const stale: string[] = [];
		const rules = new Set<string>();
		for (const id of ids) {
			const p = this.pending.get(id);
			if (!p) {
				stale.push(id);
				continue;
			}
			if (reply.approve && reply.alwaysAllow && p.request.rule) rules.add(p.request.rule);
			p.resolve({
				approve: reply.approve,
				by: 'user',
				reason: reply.reason || undefined,
				parameters: reply.approve ? reply.parameters : undefined,
			});
			answered.push(id);
			this.hooks.onAnswered?.(p.request, reply);
		}
		for (const rule of rules) {
			await this.hooks.onAlwaysAllow?.(rule);
			for (const p of [...this.pending.values()]) {
				if (p.request.rule !== rule) continue;
				p.resolve({ approve: true, by: 'user', reason: `rule always allowed: ${rule}` });
				answered.push(p.request.id);
			}
		}
		return { answered, stale };
	}

	/** Rejects every pending decision of a run (the run is being cancelled or the window closes). */
	rejectRun(runId: string | undefined, reason: string): void {
		for (const p of [...this.pending.values()]) {
			if (runId === undefined || p.request.runId === runId) p.resolve({ approve: false, by: 'policy', reason });
		}
	}
}
