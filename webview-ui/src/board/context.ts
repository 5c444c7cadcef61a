// What the board's parts share: the store, a way to post, and a few board-wide operations.
import type { WebviewToHost } from '../../../src/protocol/messages';
import type { BoardStore } from '../store';

/** Where the host's answer to an action (a `notice`) is shown: next to what the user clicked. */
export interface NoticeAnchor {
	slot: HTMLElement;
	/** Called when the answer is an error (e.g. to re-enable the buttons that sent the action). */
	onError?(): void;
}

export interface BoardContext {
	readonly store: BoardStore;
	post(message: WebviewToHost, anchor?: NoticeAnchor): void;
	/** Scrolls to a pending decision and highlights it; false when it is not in the queue. */
	focusDecision(decisionId: string): boolean;
	trusted(): boolean;
	/** Asks for another animation frame (incremental drawing left work for later). */
	requestFrame(): void;
	/** The user expanded or collapsed a run: remembered while the view lives. */
	setExpanded(runId: string, expanded: boolean): void;
	/** Scrolls to a run's card, expanding it; false when it is not on the board. */
	revealRun(runId: string): boolean;
}
