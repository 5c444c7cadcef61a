// `qo serve`: the workspace's background services headless — the local API, the schedules and the inbox watcher, one
// line each in SERVICES. One engine (the decision broker as its prompter), one dispatcher, until
// SIGINT/SIGTERM: then no new work, queued runs cancelled, running ones awaited (a second Ctrl-C exits at once).
import { CommanderError, type Command } from 'commander';
import { ApiService } from '../core/services/api/service';
import { InboxService } from '../core/services/inbox/service';
import { SchedulesService } from '../core/services/schedules/service';
import { llmClientFromEnv } from '../core/services/llm/settings';
import type { BackgroundService, ServiceContext } from '../core/services/service';
import { DecisionBroker } from '../core/services/triggers/decisionBroker';
import { Dispatcher, type DispatchedRun } from '../core/services/triggers/dispatcher';
import { EXIT, parseIntOption, type Cli, type GlobalOptions } from './cli';
import { shippedSchema } from './orchestrateCommand';

export interface ServeOptions {
	port?: number;
	/** false with --no-api. */
	api: boolean;
	/** false with --no-schedules. */
	schedules: boolean;
	/** false with --no-inbox. */
	inbox: boolean;
	maxRuns?: number;
}

/**
 * The services `qo serve` runs, started in this order and stopped in reverse; each gives undefined when switched
 * off. The inbox watcher and the schedules are added here, one line each (with their own --no-… option).
 */
const SERVICES: ((ctx: ServiceContext, o: ServeOptions, cli: Cli) => BackgroundService | Promise<BackgroundService | undefined> | undefined)[] = [
	async (ctx, o, cli) =>
		o.api
			? new ApiService(ctx, { port: o.port, llm: await llmClientFromEnv(process.env), planSchema: shippedSchema(), moreMetrics: () => cli.metrics?.prometheusText() ?? '' })
			: undefined,
	(ctx, o) => (o.schedules ? new SchedulesService(ctx) : undefined),
	(ctx, o) => (o.inbox ? new InboxService(ctx) : undefined),
];

function parsePort(value: string): number {
	const n = Number(value);
	if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CommanderError(EXIT.invalid, 'qo.invalidOption', `--port must be a whole number from 0 to 65535 (0: any free port), got "${value}"`);
	return n;
}

export function addServeCommand(program: Command, cli: Cli, globals: () => GlobalOptions): void {
	program
		.command('serve')
		.description('run the local API (and the other background services) for the workspace until Ctrl-C')
		.option('--port <n>', 'API port on 127.0.0.1 (default: a free one; the port and token are written to .quantum/api.json)', parsePort)
		.option('--no-api', 'do not start the local API')
		.option('--no-inbox', 'do not watch the inbox folder (.quantum/inbox)')
		.option('--no-schedules', 'do not run the cron schedules (workflow files\' settings.schedule)')
		.option('--max-runs <n>', 'runs executing at once (default 8); more wait their turn', parseIntOption('--max-runs'))
		.action((o: ServeOptions) => serve(cli, globals(), o));
}

async function serve(cli: Cli, g: GlobalOptions, o: ServeOptions): Promise<void> {
	const broker = new DecisionBroker();
	const engine = await cli.engine(g, broker, 'plain');
	const dispatcher = new Dispatcher({ engine, broker, ...(o.maxRuns ? { maxConcurrentRuns: o.maxRuns } : {}) });
	for (const w of await dispatcher.open()) cli.err(`warning: ${w}`);
	const ctx: ServiceContext = { engine, dispatcher, broker, logger: cli.logger(g.verbose ?? false, 'plain') };
	const services: BackgroundService[] = [];
	for (const make of SERVICES) {
		const s = await make(ctx, o, cli);
		if (s) services.push(s);
	}
	if (services.length === 0) {
		cli.err('qo serve: nothing to serve: every service is switched off (drop --no-api, --no-inbox or --no-schedules)');
		cli.exitCode = EXIT.invalid;
		return;
	}
	const started: BackgroundService[] = [];
	try {
		for (const s of services) {
			cli.out(await s.start());
			started.push(s);
		}
	} catch (err) {
		for (const s of started.reverse()) await s.stop().catch(() => undefined);
		await dispatcher.dispose();
		throw err;
	}
	const watching = follow(cli, dispatcher, broker);
	cli.out(`Serving ${engine.workspace}; Ctrl-C to stop.`);

	await stopSignal(cli, started, dispatcher);
	watching.dispose();
	for (const s of [...started].reverse()) await s.stop();
	await dispatcher.dispose();
	engine.dispose();
	cli.out('Stopped.');
}

/** Resolves on the first SIGINT/SIGTERM once the work is drained; a second signal exits at once. */
function stopSignal(cli: Cli, services: BackgroundService[], dispatcher: Dispatcher): Promise<void> {
	return new Promise((resolve) => {
		let stopping = false;
		const onSignal = () => {
			if (stopping) {
				cli.err('Exiting now; interrupted runs can be resumed (qo resume) or rolled back (qo rollback).');
				for (const s of services) s.stopNow?.();
				process.exit(EXIT.cancelled);
			}
			stopping = true;
			for (const s of services) s.stopAccepting?.();
			const open = dispatcher.list().filter((r) => r.state !== 'finished');
			const queued = open.filter((r) => r.state === 'queued');
			for (const r of queued) dispatcher.cancel(r.runId, 'qo serve stopped before it started');
			const running = open.length - queued.length;
			cli.err(`\nStopping: no new work${queued.length ? `, ${queued.length} queued run(s) cancelled` : ''}${running ? `, waiting for ${running} running run(s)` : ''} (Ctrl-C again to exit now)…`);
			void Promise.all([dispatcher.idle(), ...services.map((s) => s.idle?.())]).then(() => {
				process.off('SIGINT', onSignal);
				process.off('SIGTERM', onSignal);
				resolve();
			});
		};
		process.on('SIGINT', onSignal);
		process.on('SIGTERM', onSignal);
	});
}

/** One line per run state change and per decision that starts waiting, so a person watching the terminal can follow. */
function follow(cli: Cli, dispatcher: Dispatcher, broker: DecisionBroker): { dispose(): void } {
	const runLine = (r: DispatchedRun) => {
		const from = r.origin ? `${r.source}, ${r.origin}` : r.source;
		const what = r.state === 'finished' ? `${r.status}${r.message && r.status !== 'succeeded' ? `: ${r.message.split('\n')[0]}` : ''}` : r.state === 'running' ? 'started' : 'queued';
		cli.out(`run ${r.runId} ${r.workflow} (${from}): ${what}`);
	};
	const announced = new Set<string>();
	const runs = dispatcher.onDidChange(runLine);
	const decisions = broker.onDidChange(() => {
		const pending = broker.list();
		for (const d of pending) {
			if (announced.has(d.request.id)) continue;
			announced.add(d.request.id);
			cli.out(`decision ${d.request.id} waits (run ${d.request.runId}, step ${d.request.stepId}): ${d.request.reason} — answer with POST /v1/decisions/${d.request.id}`);
		}
		for (const id of announced) if (!pending.some((d) => d.request.id === id)) announced.delete(id);
	});
	return {
		dispose() {
			runs.dispose();
			decisions.dispose();
		},
	};
}
