// Telemetry in the extension: a MetricsStore per folder engine (persisted in its state folder), summarised for the
// board's metrics section whenever a run finishes.
import * as vscode from 'vscode';
import type { Engine } from '../core/engine';
import { describeError } from '../core/errors';
import { MetricsStore } from '../core/services/metrics/store';
import type { MetricsView } from '../protocol/viewModels';
import { metricsView } from './model/metricsView';
import type { Orchestrator } from './orchestrator';

/** A finished run's last events reach the store first: the view is made this long after run-finished. */
const SETTLE_MS = 50;

export class MetricsFeed implements vscode.Disposable {
	private readonly stores = new Map<string, { engine: Engine; folder: vscode.WorkspaceFolder; store: Promise<MetricsStore | undefined> }>();
	private readonly changed = new vscode.EventEmitter<MetricsView>();
	/** A new summary (a run finished). */
	readonly onDidChange = this.changed.event;
	private readonly subs: vscode.Disposable[];
	private timer: NodeJS.Timeout | undefined;

	constructor(private readonly orchestrator: Orchestrator) {
		this.subs = [
			this.changed,
			orchestrator.onDidCreateEngine(({ folder, engine }) => this.follow(folder, engine)),
			orchestrator.onDidEngineEvent(({ event }) => {
				if (event.type === 'run-finished') this.timer ??= setTimeout(() => void this.publish(), SETTLE_MS);
			}),
		];
	}

	private follow(folder: vscode.WorkspaceFolder, engine: Engine): void {
		const key = folder.uri.fsPath;
		const old = this.stores.get(key);
		const store = (old ? old.store.then((s) => s?.close()).catch(() => undefined) : Promise.resolve())
			.then(() => MetricsStore.open(engine.stateDir, { logger: this.orchestrator.logger }))
			.then((s) => {
				s.subscribe(engine.events);
				return s;
			})
			.catch((err: unknown) => {
				this.orchestrator.logger.log('warn', 'metrics', `${folder.name}: no metrics: ${describeError(err)}`);
				return undefined;
			});
		this.stores.set(key, { engine, folder, store });
	}

	/** The board's metrics over every folder (undefined before any engine exists). */
	async view(): Promise<MetricsView | undefined> {
		const summaries = [];
		for (const { folder, store } of this.stores.values()) {
			const s = await store;
			if (s) summaries.push({ folder: folder.name, summary: s.summary() });
		}
		return summaries.length ? metricsView(summaries) : undefined;
	}

	/** The Prometheus text of a folder's store, for the API's GET /metrics. */
	async prometheusText(folder: vscode.WorkspaceFolder): Promise<string> {
		return (await this.stores.get(folder.uri.fsPath)?.store)?.prometheusText() ?? '';
	}

	private async publish(): Promise<void> {
		this.timer = undefined;
		const v = await this.view();
		if (v) this.changed.fire(v);
	}

	/** Writes every store's figures (deactivate awaits it). */
	async close(): Promise<void> {
		await Promise.all([...this.stores.values()].map((s) => s.store.then((x) => x?.close()).catch(() => undefined)));
	}

	dispose(): void {
		if (this.timer) clearTimeout(this.timer);
		void this.close();
		for (const s of this.subs) s.dispose();
	}
}
