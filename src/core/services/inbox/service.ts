// The watched inbox as a background service of `qo serve` (and the extension): started and stopped with the others.
import * as path from 'node:path';
import type { BackgroundService, ServiceContext } from '../service';
import { Inbox, type InboxOptions } from './inbox';

export type InboxServiceOptions = Omit<InboxOptions, 'engine' | 'dispatcher'>;

export class InboxService implements BackgroundService {
	readonly name = 'inbox';
	readonly inbox: Inbox;

	constructor(
		private readonly ctx: ServiceContext,
		opts: InboxServiceOptions = {},
	) {
		this.inbox = new Inbox({ logger: ctx.logger, ...opts, engine: ctx.engine, dispatcher: ctx.dispatcher });
	}

	async start(): Promise<string> {
		const existing = await this.inbox.start();
		const folder = path.relative(this.ctx.engine.workspace, this.inbox.folder) || this.inbox.folder;
		return `Inbox: watching ${folder}${existing.length ? ` (${existing.length} file(s) already there, being run)` : ''}`;
	}

	stopAccepting(): void {
		void this.inbox.close();
	}

	/** For good: also gives the folder's lock back (the extension restarts the service in the same process). */
	async stop(): Promise<void> {
		await this.inbox.dispose();
	}
}
