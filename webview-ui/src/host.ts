// The webview's only door to the extension: the one acquireVsCodeApi() call, with a plain-browser fallback for tests.
import type { WebviewToHost } from '../../src/protocol/messages';

/** What VS Code injects into a webview (only what we use). */
interface VsCodeApi {
	postMessage(message: unknown): void;
	getState(): unknown;
	setState(state: unknown): void;
}

declare global {
	interface Window {
		acquireVsCodeApi?: () => VsCodeApi;
		/** Plain-browser fallback: every message the board posted, oldest first (tests read it). */
		__qoSent?: WebviewToHost[];
	}
}

export interface Host {
	/** False in a plain browser (tests, previews): messages go to `window.__qoSent` and a parent frame, if any. */
	readonly inVsCode: boolean;
	post(message: WebviewToHost): void;
	/** Every `message` event's data, unvalidated; returns a function that stops listening. */
	onMessage(listener: (data: unknown) => void): () => void;
	/** Small UI state VS Code keeps while the view is hidden (which runs are collapsed...). */
	getState<T>(): T | undefined;
	setState(state: unknown): void;
}

export function createHost(win: Window = window): Host {
	const onMessage = (listener: (data: unknown) => void): (() => void) => {
		const handler = (event: MessageEvent): void => listener(event.data);
		win.addEventListener('message', handler);
		return () => win.removeEventListener('message', handler);
	};
	if (typeof win.acquireVsCodeApi === 'function') {
		// VS Code throws if this is called twice, so it is called here and only here.
		const api = win.acquireVsCodeApi();
		return {
			inVsCode: true,
			post: (message) => api.postMessage(message),
			onMessage,
			getState: <T>() => (api.getState() ?? undefined) as T | undefined,
			setState: (state) => api.setState(state),
		};
	}
	const sent: WebviewToHost[] = (win.__qoSent ??= []);
	let state: unknown;
	return {
		inVsCode: false,
		post(message) {
			sent.push(message);
			// In a test harness that frames the board, the parent plays the extension host.
			if (win.parent && win.parent !== win) win.parent.postMessage(message, '*');
		},
		onMessage,
		getState: <T>() => state as T | undefined,
		setState(next) {
			state = next;
		},
	};
}
