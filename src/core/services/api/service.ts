// The API as a background service of `qo serve` (and the extension): started and stopped with the others.
import * as path from 'node:path';
import type { BackgroundService, ServiceContext } from '../service';
import { ApiServer, type ApiServerOptions } from './server';

export type ApiServiceOptions = Omit<ApiServerOptions, 'engine' | 'dispatcher' | 'broker'>;

export class ApiService implements BackgroundService {
	readonly name = 'api';
	private server: ApiServer | undefined;

	constructor(
		private readonly ctx: ServiceContext,
		private readonly opts: ApiServiceOptions = {},
	) {}

	/** The running server (its port, url and token), once started. */
	get current(): ApiServer | undefined {
		return this.server;
	}

	async start(): Promise<string> {
		this.server = await ApiServer.start({ logger: this.ctx.logger, ...this.opts, engine: this.ctx.engine, dispatcher: this.ctx.dispatcher, broker: this.ctx.broker });
		const file = this.server.apiFile ? path.relative(this.ctx.engine.workspace, this.server.apiFile) || this.server.apiFile : undefined;
		return `API listening on ${this.server.url}${file ? ` (port and token in ${file}, readable by you only)` : ''}`;
	}

	stopAccepting(): void {
		this.server?.stopAccepting();
	}

	/** Goals it started run their plans outside the dispatcher: shutting down waits for them like for runs. */
	async idle(): Promise<void> {
		await this.server?.goals.idle();
	}

	async stop(): Promise<void> {
		await this.server?.close();
	}

	stopNow(): void {
		this.server?.removeApiFileNow();
	}
}
