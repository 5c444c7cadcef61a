// `qo`: the engine headless, for terminals, CI and scripts. Exit codes: 0 ok, 1 a step failed, 2 invalid input,
// 3 rejected / needs approval, 130 cancelled.
import { Command, CommanderError, Option } from 'commander';
import { planJson, printPlan } from '../core/engine/planReport';
import { describeError, WorkflowError } from '../core/errors';
import { rejectAll } from '../core/ports';
import { EXECUTION_MODES, ON_FAILURE } from '../core/workflow/schema';
import { Cli, EXIT, parseIntOption, parseVars, type GlobalOptions, type Io } from './cli';
import { RunDisplay, plural } from './display';
import { addAgentsCommand } from './agentsCommand';
import { addHooksCommand } from './hooksCommand';
import { addInboxCommand } from './inboxCommand';
import { addOrchestrateCommand } from './orchestrateCommand';
import { addSchedulesCommand } from './schedulesCommand';
import { addStatsCommand } from './statsCommand';
import { addServeCommand } from './serveCommand';
import { printRuns } from './runsView';
import { version } from '../../package.json';

/** A number in (0, max] for an option. */
function parseFraction(name: string, max: number): (value: string) => number {
	return (value) => {
		const n = Number(value);
		if (!Number.isFinite(n) || n <= 0 || n > max) throw new CommanderError(EXIT.invalid, 'qo.invalidOption', `${name} must be a number above 0 and at most ${max}, got "${value}"`);
		return n;
	};
}

export function buildProgram(cli: Cli): Command {
	const program = new Command('qo')
		.description('Quantum Orchestrator: run JSON workflows as a parallel, journaled, undoable transaction.')
		.version(version, '-V, --version')
		.option('-w, --workspace <dir>', 'workspace folder: the sandbox root and home of .quantum/ (default: current directory)')
		.option('-v, --verbose', 'show info logs and command output')
		.option('--no-color', 'plain text without colours')
		.option('--no-policy', 'skip the escalation policy (risky commands such as rm -r or git push, deletions): only requires_approval and protected paths ask')
		.option('--max-load <n>', 'hold new steps back while the 1-minute load average per core is above n (e.g. 0.9)', parseFraction('--max-load', 64))
		.option('--max-memory <n>', 'hold new steps back while more than this share of memory is in use (0-1, e.g. 0.9)', parseFraction('--max-memory', 1))
		.addOption(new Option('--conflict-order <order>', 'when steps want the same path: the earliest waiter, or the lowest priority number').choices(['arrival', 'priority']))
		.option('--allow <rule...>', 'let steps an escalation rule would pause go ahead (rule ids as qo plan and the prompts show them, e.g. exec:risky:rm-r)')
		.showHelpAfterError('(run qo --help for usage)')
		.addHelpText(
			'after',
			'\nExit codes: 0 success, 1 a step failed, 2 invalid input, 3 a step was rejected or needs approval (use --yes), 130 cancelled.\nQuick start: qo run examples/hello.workflow.json, then qo rollback to undo it. From a goal: qo orchestrate "run the tests" --plan-only',
		)
		.exitOverride()
		.configureOutput({ writeOut: (s) => cli.out(s.trimEnd()), writeErr: (s) => cli.err(s.trimEnd()) });
	const globals = () => program.opts<GlobalOptions>();

	program
		.command('run')
		.description('validate and run a workflow file')
		.argument('<file>', 'workflow JSON file')
		.option('-c, --concurrency <n>', 'steps running at once (default: settings.max_parallel or 4)', parseIntOption('--concurrency'))
		.addOption(new Option('-m, --mode <mode>', 'scheduling mode').choices([...EXECUTION_MODES]))
		.addOption(new Option('--on-failure <what>', 'after a failed step').choices([...ON_FAILURE]))
		.option('--var <name=value...>', 'set a workflow variable (repeatable)')
		.option('--dry-run', 'show the plan and exit without running')
		.option('-y, --yes', 'approve every step that needs approval')
		.option('--json', 'one JSON event per line on stdout')
		.option('-q, --quiet', 'print only the summary')
		.action(async (file: string, o) => {
			const mode = cli.displayMode(o.json, o.quiet);
			const display = new RunDisplay(mode, cli.io.stdout, (globals().color ?? true) && mode === 'tty', globals().verbose);
			const engine = await cli.engine(globals(), cli.prompter(o.yes ?? false, display), mode);
			const workflow = await engine.load(file, { variables: parseVars(o.var) });
			const settings = { concurrency: o.concurrency, mode: o.mode, onFailure: o.onFailure };
			if (o.dryRun) {
				const plan = await engine.plan(workflow, settings);
				if (o.json) cli.out(JSON.stringify(planJson(plan, engine.planLookups())));
				else printPlan(plan, (l) => cli.out(l), engine.planLookups());
				return;
			}
			engine.events.on(display.handle);
			const result = await cli.withSigint((signal) => engine.run(workflow, { settings, signal }));
			cli.reportRun(result, display, mode);
		});

	program
		.command('validate')
		.description('check workflow files without running them')
		.argument('<files...>', 'workflow JSON files')
		.option('--json', 'machine-readable result')
		.action(async (files: string[], o) => {
			const engine = await cli.engine(globals(), rejectAll);
			const results: { file: string; ok: boolean; steps?: number; problems?: string[] }[] = [];
			for (const file of files) {
				try {
					const wf = await engine.load(file);
					await engine.plan(wf);
					results.push({ file, ok: true, steps: wf.instructions.length });
				} catch (err) {
					const problems = WorkflowError.is(err) ? (err.problems.length ? err.problems : [err]).map((p) => p.describe()) : [describeError(err)];
					results.push({ file, ok: false, problems });
				}
			}
			if (o.json) cli.out(JSON.stringify(results));
			else {
				for (const r of results) {
					if (r.ok) cli.out(`✔ ${r.file}: valid, ${r.steps} steps`);
					else {
						cli.out(`✖ ${r.file}: ${r.problems!.length} problem${r.problems!.length > 1 ? 's' : ''}`);
						for (const p of r.problems!) cli.out(`    ${p}`);
					}
				}
			}
			cli.exitCode = results.every((r) => r.ok) ? EXIT.ok : EXIT.invalid;
		});

	program
		.command('plan')
		.description('show the DAG, its levels and critical path, and what each step will touch, without running')
		.argument('<file>', 'workflow JSON file')
		.option('-c, --concurrency <n>', 'steps running at once', parseIntOption('--concurrency'))
		.addOption(new Option('-m, --mode <mode>', 'scheduling mode').choices([...EXECUTION_MODES]))
		.option('--var <name=value...>', 'set a workflow variable (repeatable)')
		.option('--json', 'machine-readable plan')
		.action(async (file: string, o) => {
			const engine = await cli.engine(globals(), rejectAll);
			const workflow = await engine.load(file, { variables: parseVars(o.var) });
			const plan = await engine.plan(workflow, { concurrency: o.concurrency, mode: o.mode });
			if (o.json) cli.out(JSON.stringify(planJson(plan, engine.planLookups())));
			else printPlan(plan, (l) => cli.out(l), engine.planLookups());
		});

	addOrchestrateCommand(program, cli, globals);

	program
		.command('resume')
		.description('continue an interrupted or failed run (default: the newest run)')
		.argument('[run]', 'run id or a unique prefix')
		.option('-f, --force', 'resume even though the workflow file changed (runs the new version)')
		.option('-y, --yes', 'approve every step that needs approval, including steps in doubt')
		.option('--json', 'one JSON event per line on stdout')
		.option('-q, --quiet', 'print only the summary')
		.action(async (run: string | undefined, o) => {
			const mode = cli.displayMode(o.json, o.quiet);
			const display = new RunDisplay(mode, cli.io.stdout, (globals().color ?? true) && mode === 'tty', globals().verbose);
			const engine = await cli.engine(globals(), cli.prompter(o.yes ?? false, display), mode);
			engine.events.on(display.handle);
			const result = await cli.withSigint((signal) => engine.resume(run, { force: o.force, signal }));
			cli.reportRun(result, display, mode);
		});

	program
		.command('rollback')
		.description("restore every file a run touched to its exact prior bytes, and run its steps' undo commands")
		.argument('[run]', 'run id or a unique prefix (default: the newest run)')
		.option('-f, --force', 'also restore files changed since the run (overwrites those changes)')
		.option('--json', 'machine-readable result')
		.action(async (run: string | undefined, o) => {
			const engine = await cli.engine(globals(), rejectAll);
			const runId = await engine.resolveRun(run);
			const previous = (await engine.runs()).find((r) => r.runId === runId);
			if (previous?.status === 'rolled_back' && !o.force && !o.json) {
				cli.out(`Run ${previous.runId} (${previous.workflow}) is already rolled back: nothing to do.`);
				return;
			}
			const r = await engine.rollback(runId, { force: o.force });
			if (o.json) {
				cli.out(JSON.stringify(r));
			} else {
				cli.out(`Rolled back ${r.runId}: ${r.restored} restored, ${r.removed} removed, ${r.unchanged} already as before`);
				for (const c of r.compensations) cli.out(`  undo ${c.step}: ${c.ok ? 'ok' : c.error}`);
				for (const c of r.conflicts) cli.out(`  conflict, left alone: ${c.path}: ${c.reason}`);
				if (r.conflicts.length) cli.out('  Those files changed after the run. Keep your changes, or run again with --force to overwrite them.');
			}
			cli.exitCode = r.conflicts.length || r.compensations.some((c) => !c.ok) ? EXIT.failed : EXIT.ok;
		});

	program
		.command('commit')
		.description("accept a run's changes for good (it can no longer be rolled back)")
		.argument('[run]', 'run id or a unique prefix (default: the newest run that can still be committed)')
		.action(async (run: string | undefined) => {
			const engine = await cli.engine(globals(), rejectAll);
			// Without a run id: the newest run that is neither rolled back nor committed already.
			const target = run ?? (await engine.runs()).find((r) => r.status !== 'rolled_back' && r.status !== 'running' && !r.committed)?.runId;
			if (!target) {
				cli.out('No run to commit: every run is already committed, rolled back or still running.');
				return;
			}
			cli.out(`Committed ${await engine.commit(target)}`);
		});

	program
		.command('runs')
		.description('run history with status and durations')
		.option('-n, --limit <n>', 'show at most n runs', parseIntOption('--limit'), 20)
		.option('--json', 'machine-readable list')
		.action(async (o) => {
			const engine = await cli.engine(globals(), rejectAll);
			const runs = (await engine.runs()).slice(0, o.limit);
			if (o.json) cli.out(JSON.stringify(runs));
			else printRuns(runs, (l) => cli.out(l));
		});

	program
		.command('log')
		.description("what a run did, step by step, from its journal (default: the newest run)")
		.argument('[run]', 'run id, or a unique prefix of one')
		.action(async (run: string | undefined) => {
			const engine = await cli.engine(globals(), rejectAll);
			for (const line of await engine.runLog(run as string)) cli.out(line);
		});

	addAgentsCommand(program, cli, globals);
	addStatsCommand(program, cli, globals);
	addSchedulesCommand(program, cli, globals);
	addServeCommand(program, cli, globals);
	addInboxCommand(program, cli, globals);
	addHooksCommand(program, cli, globals);

	const checkpoint = program.command('checkpoint').description('save and restore the files runs touched');
	checkpoint
		.command('create')
		.description('save the current content of every file runs have touched')
		.argument('<name>', 'checkpoint name')
		.option('--replace', 'replace an existing checkpoint of that name')
		.option('--path <path...>', 'save these paths instead (directories included)')
		.action(async (name: string, o) => {
			const engine = await cli.engine(globals(), rejectAll);
			const info = await engine.checkpoints.create(name, { replace: o.replace, paths: o.path });
			cli.out(`Checkpoint ${info.name}: ${plural(info.files, 'file')}, ${plural(info.dirs, 'folder')}, ${info.bytes} bytes`);
			for (const s of info.skipped) cli.out(`  not saved: ${s.path}: ${s.reason}`);
		});
	checkpoint
		.command('list')
		.description('list checkpoints')
		.option('--json', 'machine-readable list')
		.action(async (o) => {
			const engine = await cli.engine(globals(), rejectAll);
			const list = await engine.checkpoints.list();
			if (o.json) return cli.out(JSON.stringify(list));
			if (list.length === 0) return cli.out('No checkpoints. Make one with: qo checkpoint create NAME');
			for (const c of list) {
				cli.out(`${c.name}  ${new Date(c.createdAt).toISOString().replace('T', ' ').slice(0, 19)}  ${plural(c.files, 'file')}, ${c.bytes} bytes`);
			}
		});
	checkpoint
		.command('restore')
		.description('put a checkpoint back (itself a run you can roll back)')
		.argument('<name>', 'checkpoint name')
		.option('-f, --force', 'also overwrite files changed outside any run')
		.action(async (name: string, o) => {
			const engine = await cli.engine(globals(), rejectAll);
			const r = await engine.checkpoints.restore(name, { force: o.force });
			cli.out(`Restored ${name}: ${r.restored} restored, ${r.removed} removed, ${r.unchanged} unchanged (run ${r.runId}; undo with qo rollback ${r.runId})`);
			for (const c of r.conflicts) cli.out(`  conflict, left alone: ${c.path}: ${c.reason}`);
			cli.exitCode = r.conflicts.length ? EXIT.failed : EXIT.ok;
		});
	checkpoint
		.command('delete')
		.description('delete a checkpoint')
		.argument('<name>', 'checkpoint name')
		.action(async (name: string) => {
			const engine = await cli.engine(globals(), rejectAll);
			await engine.checkpoints.delete(name);
			cli.out(`Deleted checkpoint ${name}`);
		});

	return program;
}

/** Runs the CLI; resolves with the exit code (bin/qo.js sets it). */
export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }): Promise<number> {
	// A closed pipe (`qo run … | head`) must not kill a run half way: the journal keeps it safe, output just stops.
	for (const stream of [io.stdout, io.stderr]) if (stream.listenerCount('error') === 0) stream.on('error', () => undefined);
	const cli = new Cli(io);
	const program = buildProgram(cli);
	try {
		await program.parseAsync(argv, { from: 'user' });
	} catch (err) {
		if (err instanceof CommanderError) {
			if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
			if (err.code === 'qo.invalidOption') cli.err(`qo: ${err.message}`);
			return EXIT.invalid;
		}
		cli.fail(err);
	} finally {
		await cli.metrics?.close();
	}
	return cli.exitCode;
}
