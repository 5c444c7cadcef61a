// The board webview view: strict CSP with a nonce, assets only from dist/webview, one validated message protocol.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { parseWebviewMessage, type HostToWebview, type WebviewHandlers, type WebviewToHost } from '../../protocol/messages';
import type { Logger } from '../../core/ports';
import type { MetricsView } from '../../protocol/viewModels';
import type { BoardModel } from '../model/boardModel';
import { renderBoardHtml } from './boardHtml';

/** Above this many patches in one flush, a snapshot is cheaper for the webview than replaying them. */
const SNAPSHOT_OVER_PATCHES = 500;

export class BoardViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
	private view: vscode.WebviewView | undefined;
	/** The webview said `ready`: patches may flow. Before that, they would be lost. */
	private ready = false;
	private readonly subs: vscode.Disposable[] = [];
	private pendingFocus: string | undefined;
	/** The latest metrics, sent on `ready` too. */
	private metrics: MetricsView | undefined;
	/** Asked for the metrics when the board becomes ready and none were sent yet. */
	metricsSource: (() => Promise<MetricsView | undefined>) | undefined;

	constructor(
		private readonly extensionUri: vscode.Uri,
		private readonly board: BoardModel,
		private readonly handlers: Omit<WebviewHandlers, 'ready' | 'resync'>,
		private readonly logger: Logger,
	) {
		const sub = board.onChange((change) => {
			if (!this.ready) return;
			if (change.patches.length > SNAPSHOT_OVER_PATCHES) this.post({ type: 'snapshot', snapshot: board.snapshot() });
			else this.post({ type: 'patch', version: change.version, patches: change.patches });
		});
		this.subs.push(new vscode.Disposable(() => sub.dispose()));
	}

	get visible(): boolean {
		return this.view?.visible ?? false;
	}

	resolveWebviewView(view: vscode.WebviewView): void {
		this.view = view;
		this.ready = false;
		const assets = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
		view.webview.options = { enableScripts: true, localResourceRoots: [assets] };
		view.webview.html = boardHtml(view.webview, assets);
		this.subs.push(
			view.webview.onDidReceiveMessage((data: unknown) => this.receive(data)),
			view.onDidDispose(() => {
				this.view = undefined;
				this.ready = false;
			}),
		);
	}

	/** Shows a decision in the board (opening the view if needed). */
	async focusDecision(decisionId: string): Promise<void> {
		this.pendingFocus = decisionId;
		await vscode.commands.executeCommand('quantum.board.focus');
		if (this.ready) this.post({ type: 'focusDecision', decisionId });
	}

	/** Shows new metrics (a run finished). */
	showMetrics(metrics: MetricsView): void {
		this.metrics = metrics;
		if (this.ready) this.post({ type: 'metrics', metrics });
	}

	notice(level: 'info' | 'error', text: string): void {
		if (this.ready) this.post({ type: 'notice', level, text });
	}

	private async receive(data: unknown): Promise<void> {
		const parsed = parseWebviewMessage(data);
		if (!parsed.ok) {
			this.logger.log('warn', 'board', `dropped a bad message from the board webview: ${parsed.error}`);
			return;
		}
		const msg: WebviewToHost = parsed.message;
		if (msg.type === 'ready' || msg.type === 'resync') {
			this.ready = true;
			this.post({ type: 'snapshot', snapshot: this.board.snapshot() });
			if (this.pendingFocus) this.post({ type: 'focusDecision', decisionId: this.pendingFocus });
			this.pendingFocus = undefined;
			if (this.metrics) this.post({ type: 'metrics', metrics: this.metrics });
			else void this.metricsSource?.().then((m) => m && this.showMetrics(m));
			return;
		}
		try {
			await (this.handlers[msg.type] as (m: WebviewToHost) => void | Promise<void>)(msg);
		} catch (err) {
			this.logger.log('error', 'board', `${msg.type} failed: ${err instanceof Error ? err.message : String(err)}`);
			this.notice('error', err instanceof Error ? err.message : String(err));
		}
	}

	private post(message: HostToWebview): void {
		void this.view?.webview.postMessage(message);
	}

	dispose(): void {
		for (const s of this.subs) s.dispose();
	}
}

export function boardHtml(webview: vscode.Webview, assets: vscode.Uri): string {
	return renderBoardHtml({
		cspSource: webview.cspSource,
		nonce: randomBytes(16).toString('base64'),
		scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(assets, 'main.js')).toString(),
		styleUri: webview.asWebviewUri(vscode.Uri.joinPath(assets, 'main.css')).toString(),
	});
}
