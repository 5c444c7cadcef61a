// The background services of issue 5 in-process, per workspace folder: the local API, the inbox watcher and the
// schedules, with one dispatcher each, as `qo serve` runs them. Started when the workspace is trusted and the settings
// allow, restarted when those settings (or the folder's engine) change, stopped on deactivate.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { describeError } from '../core/errors';
import type { Engine } from '../core/engine';
import { ApiService } from '../core/services/api/service';
import { InboxService } from '../core/services/inbox/service';
import type { ScheduleInfo } from '../core/services/schedules/scheduler';
import { SchedulesService } from '../core/services/schedules/service';
import type { BackgroundService, ServiceContext } from '../core/services/service';
import { Dispatcher } from '../core/services/triggers/dispatcher';
import { readServiceSettings, SERVICE_SETTINGS } from './adapters/settings';
import type { Orchestrator } from './orchestrator';

const TOKEN_KEY = 'quantum.api.token';

/** What one folder runs now. */
interface Running {
	folder: vscode.WorkspaceFolder;
	engine: Engine;
	dispatcher: Dispatcher;
	services: BackgroundService[];
	subs: { dispose(): void }[];
	waitForDecisions: boolean;
}

/** A folder's API as people may see it: never the token. */
export interface ApiAddress {
	folder: string;
	url: string;
	apiFile?: string;
}

export class WorkspaceServices implements vscode.Disposable {
	private readonly running = new Map<string, Running>();
	/** Per folder, the restart in progress: restarts of one folder never overlap. */
	private readonly chains = new Map<string, Promise<void>>();
	private readonly changed = new vscode.EventEmitter<void>();
	/** The schedules or the API address changed. */
	readonly onDidChange = this.changed.event;
	private readonly disposables: vscode.Disposable[] = [];
	private disposed = false;

	constructor(
		private readonly orchestrator: Orchestrator,
		private readonly secrets: vscode.SecretStorage,
		/** The telemetry store's figures for GET /metrics. */
		private readonly moreMetrics: (folder: vscode.WorkspaceFolder) => Promise<string> = async () => '',
	) {
		this.disposables.push(
			this.changed,
			vscode.workspace.onDidChangeConfiguration((e) => {
				for (const folder of vscode.workspace.workspaceFolders ?? []) {
					if (SERVICE_SETTINGS.some((k) => e.affectsConfiguration(k, folder.uri))) this.restart(folder);
				}
			}),
			vscode.workspace.onDidGrantWorkspaceTrust(() => this.startAll()),
			vscode.workspace.onDidChangeWorkspaceFolders((e) => {
				for (const f of e.removed) this.restart(f, true);
				for (const f of e.added) this.restart(f);
			}),
			// A new engine (a setting it captured changed): the services move to it.
			orchestrator.onDidCreateEngine(({ folder, engine }) => {
				const r = this.running.get(folder.uri.fsPath);
				if (r && r.engine !== engine) this.restart(folder);
			}),
		);
	}

	startAll(): void {
		for (const folder of vscode.workspace.workspaceFolders ?? []) this.restart(folder);
	}

	/** Every folder's schedules (folders whose schedules service runs). */
	schedules(): { folder: vscode.WorkspaceFolder; schedules: ScheduleInfo[] }[] {
		const out: { folder: vscode.WorkspaceFolder; schedules: ScheduleInfo[] }[] = [];
		for (const r of this.running.values()) {
			const s = r.services.find((x): x is SchedulesService => x instanceof SchedulesService);
			if (s) out.push({ folder: r.folder, schedules: s.scheduler.list() });
		}
		return out;
	}

	/** Where each folder's API listens (and where api.json is): never the token. */
	apiAddresses(): ApiAddress[] {
		const out: ApiAddress[] = [];
		for (const r of this.running.values()) {
			const api = r.services.find((x): x is ApiService => x instanceof ApiService)?.current;
			if (api) out.push({ folder: r.folder.name, url: api.url, ...(api.apiFile ? { apiFile: api.apiFile } : {}) });
		}
		return out;
	}

	/** Names of the services running per folder, and `waitForDecisions` when that is on (for tests and the log). */
	describe(): Record<string, string[]> {
		return Object.fromEntries([...this.running.values()].map((r) => [r.folder.name, [...r.services.map((s) => s.name), ...(r.waitForDecisions ? ['waitForDecisions'] : [])]]));
	}

	/** Waits for pending starts and stops (tests and commands that read the state). */
	async settled(): Promise<void> {
		await Promise.all([...this.chains.values()]);
	}

	private restart(folder: vscode.WorkspaceFolder, removed = false): void {
		const key = folder.uri.fsPath;
		const next = (this.chains.get(key) ?? Promise.resolve())
			.then(async () => {
				await this.stop(key);
				if (!removed && !this.disposed && vscode.workspace.isTrusted) await this.start(folder);
			})
			.catch((err: unknown) => {
				const message = `could not start the background services of ${folder.name}: ${describeError(err)}`;
				this.orchestrator.logger.log('error', 'services', message);
				void vscode.window.showErrorMessage(`Quantum Orchestrator: ${message}`);
			})
			.finally(() => this.changed.fire());
		this.chains.set(key, next);
	}

	private async start(folder: vscode.WorkspaceFolder): Promise<void> {
		const settings = readServiceSettings(folder.uri);
		if (!settings.api.enabled && !settings.inbox.enabled && !settings.schedules.enabled) return;
		const logger = this.orchestrator.logger;
		const engine = await this.orchestrator.engineFor(folder);
		const broker = this.orchestrator.brokerFor(folder);
		const dispatcher = new Dispatcher({ engine, broker });
		for (const w of await dispatcher.open()) logger.log('warn', 'services', w);
		const ctx: ServiceContext = { engine, dispatcher, broker, logger };
		const wait = settings.waitForDecisions;
		const services: BackgroundService[] = [];
		if (settings.api.enabled) services.push(new ApiService(ctx, { port: settings.api.port, token: await this.token(), llm: this.orchestrator.llm.current(), moreMetrics: () => this.moreMetrics(folder) }));
		if (settings.schedules.enabled) services.push(new SchedulesService(ctx, { schedules: settings.schedules.list, optionsLabel: 'quantum.schedules.list' }));
		if (settings.inbox.enabled) services.push(new InboxService(ctx, { ...(settings.inbox.folder ? { folder: settings.inbox.folder } : {}), waitForDecisions: wait }));
		const run: Running = { folder, engine, dispatcher, services: [], subs: [], waitForDecisions: wait };
		this.running.set(folder.uri.fsPath, run);
		run.subs.push(this.follow(folder, dispatcher));
		for (const s of services) {
			try {
				logger.log('info', 'services', `${folder.name}: ${await s.start()}`);
				run.services.push(s);
				if (s instanceof SchedulesService) run.subs.push(s.scheduler.onEvent(() => this.changed.fire()));
			} catch (err) {
				const message = `${folder.name}: the ${s.name} service did not start: ${describeError(err)}`;
				logger.log('error', 'services', message);
				void vscode.window.showErrorMessage(`Quantum Orchestrator: ${message}`);
			}
		}
	}

	/** Trigger runs are live in this window: cancellable from the tree and the board like any run. */
	private follow(folder: vscode.WorkspaceFolder, dispatcher: Dispatcher): { dispose(): void } {
		const adopted = new Set<string>();
		return dispatcher.onDidChange((r) => {
			if (r.state === 'running' && !adopted.has(r.runId)) {
				adopted.add(r.runId);
				const abort = new AbortController();
				abort.signal.addEventListener('abort', () => dispatcher.cancel(r.runId, 'cancelled in VS Code'), { once: true });
				this.orchestrator.adoptRun(r.runId, folder, abort);
			} else if (r.state === 'finished' && adopted.delete(r.runId)) {
				this.orchestrator.releaseRun(r.runId);
			}
		});
	}

	private async stop(key: string): Promise<void> {
		const r = this.running.get(key);
		if (!r) return;
		this.running.delete(key);
		for (const s of [...r.services].reverse()) await s.stop().catch(() => undefined);
		// Queued trigger runs are cancelled, running ones stopped (they can be resumed or rolled back like any run).
		await r.dispatcher.dispose().catch(() => undefined);
		for (const sub of r.subs) sub.dispose();
	}

	/** The API's bearer token: made once (256 random bits), kept in SecretStorage. */
	private async token(): Promise<string> {
		const kept = await this.secrets.get(TOKEN_KEY);
		if (kept) return kept;
		const token = randomBytes(32).toString('base64url');
		await this.secrets.store(TOKEN_KEY, token);
		return token;
	}

	/** Stops every folder's services (deactivate awaits this). */
	async stopAll(): Promise<void> {
		this.disposed = true;
		await this.settled();
		for (const key of [...this.running.keys()]) {
			for (const s of this.running.get(key)?.services ?? []) s.stopNow?.();
		}
		await Promise.all([...this.running.keys()].map((k) => this.stop(k)));
	}

	dispose(): void {
		void this.stopAll();
		for (const d of this.disposables) d.dispose();
	}
}
