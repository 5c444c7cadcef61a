// `qo orchestrate "GOAL"`: analyse the goal, plan it as a workflow saved under .quantum/plans/, show it, and run it
// once approved (a terminal asks; --yes runs at once; without a terminal the plan is saved and exit code 3 says
// it needs approval). With the model when QO_LLM_BASE_URL/OPENAI_BASE_URL is set, else the offline fallback.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { pathToFileURL } from 'node:url';
import { CommanderError, type Command } from 'commander';
import type { Engine } from '../core/engine';
import { planJson, printPlan } from '../core/engine/planReport';
import { WorkflowError } from '../core/errors';
import { orchestrate, type OrchestrationEvent, type OrchestrationResult, type PreparedPlan } from '../core/orchestrate/session';
import { llmClientFromEnv } from '../core/services/llm/settings';
import { EXIT, EXIT_FOR_STATUS, type Cli, type GlobalOptions } from './cli';
import { RunDisplay } from './display';
import { printAnalysis, transitionLine } from './orchestrateView';

interface OrchestrateOptions {
	planOnly?: boolean;
	yes?: boolean;
	maxReplans: number;
	json?: boolean;
}

function parseCount(value: string): number {
	const n = Number(value);
	if (!Number.isInteger(n) || n < 0) throw new CommanderError(EXIT.invalid, 'qo.invalidOption', `--max-replans must be a whole number ≥ 0, got "${value}"`);
	return n;
}

export function addOrchestrateCommand(program: Command, cli: Cli, globals: () => GlobalOptions): void {
	program
		.command('orchestrate')
		.description('analyse a goal, plan it as a workflow (saved in .quantum/plans/), show it, and run it once approved')
		.argument('<goal>', 'what you want done, in words (quote it)')
		.option('--plan-only', 'analyse, plan and save the plan; do not run it')
		.option('-y, --yes', 'autonomous: run the plan without asking, approving every step and revised plan that asks')
		.option('--max-replans <n>', 'revised plans tried after a failed run (0: none)', parseCount, 1)
		.option('--json', 'one JSON document on stdout at the end: analysis, plan, states, runs')
		.action((goal: string, o: OrchestrateOptions) => runOrchestrate(cli, globals(), goal, o));
}

async function runOrchestrate(cli: Cli, g: GlobalOptions, goal: string, o: OrchestrateOptions): Promise<void> {
	const json = o.json ?? false;
	const mode = cli.displayMode(json, false);
	const print = (line: string) => (json ? undefined : cli.out(line));
	const llm = await llmClientFromEnv(process.env);
	if (!llm) {
		const note = 'no LLM configured: using the offline rule-based planner (set QO_LLM_BASE_URL or OPENAI_BASE_URL, QO_LLM_MODEL and OPENAI_API_KEY to plan with a model)';
		if (json) cli.err(note);
		else cli.out(note);
	}
	const display = json ? undefined : new RunDisplay(mode, cli.io.stdout, (g.color ?? true) && mode === 'tty', g.verbose);
	const prompter = cli.prompter(o.yes ?? false, display);
	const engine = await cli.engine(g, prompter, mode);
	if (display) engine.events.on(display.handle);
	const interactive = Boolean(cli.io.stdin.isTTY && cli.io.stderr.isTTY);
	const states: OrchestrationEvent[] = [];
	let planned: PreparedPlan | undefined;
	let plan: ReturnType<typeof planJson> | undefined;
	let needsApproval = false;
	const runHint = (file: string) => `qo${g.workspace ? ` -w ${g.workspace}` : ''} run ${shown(file)}`;

	const review = async (prepared: PreparedPlan): Promise<boolean> => {
		planned = prepared;
		const { file, analysisFile } = prepared.saved;
		const workflow = await engine.load(file);
		const thePlan = await engine.plan(workflow);
		plan = planJson(thePlan, engine.planLookups());
		if (!json) {
			print('');
			printAnalysis(prepared.analysis, print);
			print('');
			printPlan(thePlan, print, engine.planLookups());
			print('');
			print(`Plan saved: ${shown(file)} (analysis: ${shown(analysisFile)})`);
		}
		if (o.planOnly) {
			print(`Edit it if you like, then run it: ${runHint(file)}`);
			return false;
		}
		if (o.yes) return true;
		if (interactive) return askToRun(cli, engine, file);
		needsApproval = true;
		print(`Not run: no terminal to approve it. Run it with: ${runHint(file)} (or orchestrate with --yes to run it without asking)`);
		return false;
	};

	const result = await cli.withSigint((signal) =>
		orchestrate(goal, {
			engine,
			prompter,
			llm,
			agents: engine.agents.list().map(({ definition: d }) => ({ name: d.name, description: d.description, capabilities: d.capabilities })),
			maxReplans: o.maxReplans,
			review,
			signal,
			schema: shippedSchema(),
			onEvent: (e) => {
				states.push(e);
				if (!json) (display ? (l: string) => display.line(l) : print)(transitionLine(e));
			},
		}),
	);
	const exit = exitCode(result, needsApproval);
	if (json) {
		cli.out(JSON.stringify(resultJson(result, { offline: !llm, plan, states, planned })));
	} else {
		report(cli, result, display as RunDisplay, mode);
	}
	cli.exitCode = exit;
}

function exitCode(result: OrchestrationResult, needsApproval: boolean): number {
	if (result.outcome === 'planned') return needsApproval ? EXIT.rejected : EXIT.ok;
	if (result.outcome === 'succeeded') return EXIT.ok;
	if (result.outcome === 'cancelled') return EXIT.cancelled;
	if (result.outcome === 'rejected') return EXIT.rejected;
	const last = result.runs[result.runs.length - 1];
	return (last && EXIT_FOR_STATUS[last.status]) || EXIT.failed;
}

function report(cli: Cli, result: OrchestrationResult, display: RunDisplay, mode: ReturnType<Cli['displayMode']>): void {
	const last = result.runs[result.runs.length - 1];
	if (last) cli.reportRun(last, display, mode);
	const earlier = result.runs.slice(0, -1).map((r) => r.runId);
	if (earlier.length) cli.out(`  Earlier runs for this goal: ${earlier.join(', ')} (to undo everything, roll back the newest first)`);
	if (result.outcome !== 'succeeded' && result.outcome !== 'planned' && result.message) cli.out(`Orchestration ${result.outcome}: ${result.message}`);
	if (result.replans) cli.out(`Revised plan: ${shown(result.plans[result.plans.length - 1].file)}`);
}

function resultJson(result: OrchestrationResult, extra: { offline: boolean; plan: unknown; states: OrchestrationEvent[]; planned: PreparedPlan | undefined }) {
	return {
		type: 'orchestration-result',
		id: result.id,
		goal: result.goal,
		outcome: result.outcome,
		message: result.message,
		offline: extra.offline,
		planner: extra.planned?.planned.planner,
		template: extra.planned?.planned.template,
		model: extra.planned?.planned.model,
		analysis: result.analysis,
		planFile: result.plans[0]?.file,
		analysisFile: result.plans[0]?.analysisFile,
		plans: result.plans.map((p) => p.file),
		plan: extra.plan,
		states: extra.states,
		runs: result.runs.map((r) => ({ runId: r.runId, status: r.status, durationMs: r.durationMs, counts: r.counts, message: r.message })),
		replans: result.replans,
		decisions: result.decisions.map((d) => ({ id: d.request.id, kind: d.request.kind, details: d.request.details, approve: d.answer.approve, by: d.answer.by, reason: d.answer.reason })),
	};
}

/** "Run this plan? [y/N/e]" on the terminal; e: open the file in $VISUAL/$EDITOR (or wait for Enter), validate, ask again. */
async function askToRun(cli: Cli, engine: Engine, file: string): Promise<boolean> {
	for (;;) {
		const rl = createInterface({ input: cli.io.stdin, output: cli.io.stderr, terminal: true });
		let answer: string;
		try {
			answer = (await rl.question('Run this plan? [y]es / [N]o / [e]dit the file first: ')).trim().toLowerCase();
		} catch {
			return false;
		} finally {
			rl.close();
		}
		if (answer === 'y' || answer === 'yes') return true;
		if (answer !== 'e' && answer !== 'edit') {
			cli.out(`Not run. The plan stays in ${shown(file)}; run it later with: qo run ${shown(file)}`);
			return false;
		}
		await editFile(cli, file);
		try {
			const plan = await engine.plan(await engine.load(file));
			printPlan(plan, (l) => cli.out(l), engine.planLookups());
		} catch (err) {
			if (!WorkflowError.is(err)) throw err;
			cli.err('The edited plan is not valid:');
			for (const p of err.problems.length ? err.problems : [err]) cli.err(`  ${p.describe()}`);
		}
	}
}

async function editFile(cli: Cli, file: string): Promise<void> {
	const editor = process.env.VISUAL || process.env.EDITOR;
	if (editor) {
		spawnSync(`${editor} ${JSON.stringify(file)}`, { stdio: 'inherit', shell: true });
		return;
	}
	const rl = createInterface({ input: cli.io.stdin, output: cli.io.stderr, terminal: true });
	try {
		await rl.question(`Edit ${shown(file)} in your editor, save it, then press Enter: `);
	} catch {
		// closed input: go on with the file as it is
	} finally {
		rl.close();
	}
}

/** A path as the user should type it: relative to the current folder when inside it. */
function shown(file: string): string {
	const rel = path.relative(process.cwd(), file);
	return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** The workflow schema shipped with qo (dist/cli.js → ../schemas/), as a file URL editors can read; else none. */
export function shippedSchema(): string | undefined {
	const file = path.join(__dirname, '..', 'schemas', 'workflow.schema.json');
	return existsSync(file) ? pathToFileURL(file).href : undefined;
}
