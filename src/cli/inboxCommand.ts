// `qo inbox`: watch the inbox folder and run each workflow dropped there once, one line per thing that happens;
// `--once` processes what is there, waits for those runs and exits.
import * as path from 'node:path';
import { CommanderError, Option, type Command } from 'commander';
import { Inbox, type InboxEvent } from '../core/services/inbox/inbox';
import { describeProblem, type InboxResult } from '../core/services/inbox/inboxResult';
import { DecisionBroker } from '../core/services/triggers/decisionBroker';
import { CONCURRENCY_POLICIES, Dispatcher } from '../core/services/triggers/dispatcher';
import { EXIT, type Cli, type GlobalOptions } from './cli';

/** The lines `qo inbox` prints for an event (empty: nothing to say). */
export function describeInboxEvent(e: InboxEvent): string[] {
	switch (e.type) {
		case 'picked-up':
			return [`· ${e.file}: picked up${e.alreadyThere ? ' (it was already in the inbox)' : ''}`];
		case 'waiting':
			return [`… ${e.file}: not complete JSON yet; waiting for the writer to finish`];
		case 'decided':
			return decided(e.file, e.result);
		case 'run-ended': {
			const run = e.result.run!;
			const ok = run.status === 'succeeded';
			return [`${ok ? '✔' : '✖'} ${e.file}: run ${e.result.runId} ${run.status}${!ok && run.message ? `: ${firstLine(run.message)}` : ''}`];
		}
		case 'reload':
			if (e.status === 'unchanged') return [`↻ ${e.file}: saved without changes; not run again`];
			if (e.status === 'started' || e.status === 'queued') return [`↻ ${e.file} changed: run ${e.runId} ${e.status}`];
			if (e.status === 'invalid') return [`✖ ${e.file} changed but is invalid; not run`, ...(e.problems ?? []).map((p) => `    ${describeProblem(p)}`)];
			if (e.status === 'duplicate') return [`↻ ${e.file}: already run as ${e.runId ?? 'an earlier run'}`];
			return [`✖ ${e.file} changed: ${e.status}: ${e.reason ?? ''}`];
		case 'reload-ended':
			return [`${e.status === 'succeeded' ? '✔' : '✖'} ${e.file}: run ${e.runId} ${e.status}${e.status !== 'succeeded' && e.message ? `: ${firstLine(e.message)}` : ''}`];
		case 'error':
			return [];
	}
}

function decided(file: string, r: InboxResult): string[] {
	const to = r.movedTo ? ` → ${r.movedTo}` : '';
	switch (r.status) {
		case 'started':
			return [`▶ ${file}: run ${r.runId} started${to}`];
		case 'queued':
			return [`▶ ${file}: run ${r.runId} queued${r.position ? ` (position ${r.position})` : ''}${to}`];
		case 'duplicate':
			return [`= ${file}: same content as run ${r.runId ?? '(forgotten)'}; not run again${to}`];
		case 'invalid':
			return [`✖ ${file}: invalid${to}`, ...(r.problems ?? []).map((p) => `    ${describeProblem(p)}`)];
		case 'refused':
		case 'skipped':
			return [`✖ ${file}: ${r.status}: ${r.reason}${to}`];
	}
}

const firstLine = (s: string) => s.split('\n')[0];

/** Resolves on the first Ctrl-C (or SIGTERM); a second one exits at once. */
function untilStopped(cli: Cli): Promise<void> {
	return new Promise((resolve) => {
		const stop = () => {
			process.off('SIGINT', stop);
			process.off('SIGTERM', stop);
			const again = () => process.exit(EXIT.cancelled);
			process.once('SIGINT', again);
			cli.err('\nStopping: no new files are picked up; running runs are cancelled (Ctrl-C again to exit now)…');
			resolve();
		};
		process.on('SIGINT', stop);
		process.on('SIGTERM', stop);
	});
}

export function addInboxCommand(program: Command, cli: Cli, globals: () => GlobalOptions): void {
	program
		.command('inbox')
		.description('watch the inbox folder and run each workflow file dropped there once; files move to done/ or failed/ with a result file')
		.option('--once', 'process the files in the inbox now, wait for their runs to end, and exit')
		.option('--folder <dir>', 'the folder to watch (default: .quantum/inbox in the workspace)')
		.addOption(new Option('--policy <policy>', 'when a run of the same workflow is still going').choices([...CONCURRENCY_POLICIES]).default('queue'))
		.option('--watch <file...>', 'hot reload: run these workflow files again whenever their content changes')
		.action(async (o: { once?: boolean; folder?: string; policy: (typeof CONCURRENCY_POLICIES)[number]; watch?: string[] }) => {
			if (o.once && o.watch?.length) throw new CommanderError(EXIT.invalid, 'qo.invalidOption', '--watch needs the watcher: leave out --once');
			const broker = new DecisionBroker();
			const engine = await cli.engine(globals(), broker);
			const dispatcher = new Dispatcher({ engine, broker });
			for (const w of await dispatcher.open()) cli.err(`warning: ${w}`);
			const inbox = new Inbox({
				engine,
				dispatcher,
				...(o.folder ? { folder: path.resolve(o.folder) } : {}),
				policy: o.policy,
				...(o.watch?.length ? { watch: o.watch.map((w) => path.resolve(w)) } : {}),
			});
			const shown = path.relative(process.cwd(), inbox.folder) || '.';
			let failures = 0;
			inbox.onEvent((e) => {
				if (e.type === 'error') cli.err(`warning: ${e.file ? `${e.file}: ` : ''}${e.message}`);
				if ((e.type === 'decided' && !['started', 'queued', 'duplicate'].includes(e.result.status)) || (e.type === 'run-ended' && e.result.run?.status !== 'succeeded')) failures++;
				for (const line of describeInboxEvent(e)) cli.out(line);
			});
			const stop = async () => {
				await inbox.close();
				await dispatcher.dispose();
				await inbox.dispose();
			};
			if (o.once) {
				try {
					const results = await inbox.runOnce();
					cli.out(results.length ? `${results.length} file${results.length === 1 ? '' : 's'} processed from ${shown}${failures ? `; ${failures} did not succeed` : ''}` : `Nothing to do: no workflow files in ${shown}`);
				} finally {
					await stop();
				}
				cli.exitCode = failures ? EXIT.failed : EXIT.ok;
				return;
			}
			const existing = await inbox.start();
			cli.out(`Watching ${shown} for workflow files${existing.length ? ` (${existing.length} already there)` : ''}. Ctrl-C to stop.`);
			for (const w of o.watch ?? []) cli.out(`Hot reload: ${path.relative(process.cwd(), path.resolve(w)) || w} runs again whenever its content changes.`);
			await untilStopped(cli);
			await stop();
		});
}
