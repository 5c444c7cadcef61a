// The board webview's entry: wire host ⇄ store ⇄ view, say `ready`, then follow snapshots and patches.
import './zodConfig';
import './styles/board.css';
import { parseHostMessage } from '../../src/protocol/messages';
import { Board } from './board/board';
import { FrameLoop } from './board/frame';
import { registerComponents } from './components/register';
import { createHost } from './host';
import { BoardStore } from './store';

/** The element the host's HTML provides; created when missing so a bare page still works. */
export const ROOT_ID = 'qo-board';

declare global {
	interface Window {
		/** Plain-browser test hooks (never set inside VS Code). */
		__qoTest?: {
			/** Handles a host message synchronously, exactly as a `message` event would. */
			receive(data: unknown): void;
			/** Renders pending changes now; `budgetMs` bounds chip drawing (the rest continues in later frames). */
			flush(budgetMs?: number): void;
		};
	}
}

registerComponents();
const host = createHost();
const root = document.getElementById(ROOT_ID) ?? document.body.appendChild(Object.assign(document.createElement('div'), { id: ROOT_ID }));

const loop = new FrameLoop((deadline) => {
	const changes = store.takeChanges();
	if (changes) board.render(changes);
	return board.pump(deadline);
});
const store = new BoardStore({ post: (message) => host.post(message), onChange: () => loop.request() });
const board = new Board(root, store, host, () => loop.request());

function receive(data: unknown): void {
	const parsed = parseHostMessage(data);
	if (!parsed.ok) {
		console.warn(`[board] dropped a message that is not part of the protocol: ${parsed.error}`);
		return;
	}
	const message = parsed.message;
	switch (message.type) {
		case 'snapshot':
			store.applySnapshot(message.snapshot);
			return;
		case 'patch':
			store.applyPatches(message.version, message.patches);
			return;
		case 'notice':
			board.notice(message.level, message.text);
			return;
		case 'focusDecision':
			board.focusDecision(message.decisionId);
			return;
		case 'metrics':
			board.metrics(message.metrics);
			return;
	}
}

host.onMessage(receive);
if (!host.inVsCode) window.__qoTest = { receive, flush: (budgetMs) => loop.run(budgetMs) };
host.post({ type: 'ready' });
