// The schedules as a background service of `qo serve` (and the extension): the scheduler started and stopped with
// the other services, its problems (bad cron, missing files) and missed runs said when it starts.
import type { Clock } from '../../ports';
import type { BackgroundService, ServiceContext } from '../service';
import { createScheduler, type Scheduler } from './scheduler';

export interface SchedulesServiceOptions {
	/** Schedules from the host's settings: `{ name, cron, workflow, timezone?, policy? }`. */
	schedules?: readonly unknown[];
	/** Workflow files or globs searched for `settings.schedule` (default `**\/*.workflow.json`). */
	files?: readonly string[];
	clock?: Clock;
	/** How the host's schedules are named in messages (`quantum.schedules.list` in the extension). */
	optionsLabel?: string;
}

export class SchedulesService implements BackgroundService {
	readonly name = 'schedules';
	readonly scheduler: Scheduler;

	constructor(ctx: ServiceContext, opts: SchedulesServiceOptions = {}) {
		this.scheduler = createScheduler({ engine: ctx.engine, dispatcher: ctx.dispatcher, logger: ctx.logger, ...opts });
	}

	async start(): Promise<string> {
		await this.scheduler.start();
		const all = this.scheduler.list();
		const problems = this.scheduler.problems();
		const missed = this.scheduler.missed();
		const parts = [`${all.length} schedule${all.length === 1 ? '' : 's'}`];
		const next = all.map((s) => s.next).filter((n): n is string => typeof n === 'string').sort()[0];
		if (next) parts.push(`next at ${next}`);
		if (problems.length) parts.push(`${problems.length} with problems (qo schedules shows them)`);
		if (missed.length) parts.push(`${missed.reduce((n, m) => n + m.count, 0)} run(s) missed while stopped, not replayed`);
		return `Schedules: ${parts.join('; ')}`;
	}

	stopAccepting(): void {
		void this.scheduler.stop();
	}

	async stop(): Promise<void> {
		await this.scheduler.stop();
	}
}
