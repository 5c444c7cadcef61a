// The `qo` session: output streams, exit code, the engine with the CLI's ports, and how results and errors are shown.
import { CommanderError } from 'commander';
import { createEngine, type Engine, type RunResult } from '../core/engine';
import type { RunStatus } from '../core/engine/events';
import { describeError, StateError, WorkflowError } from '../core/errors';
import { createEscalationCheck, DEFAULT_ESCALATION_POLICY } from '../core/policy/escalation';
import { approveAll, rejectAll, type DecisionPrompter, type LogLevel, type Logger } from '../core/ports';
import type { DecisionSuggestion, LearningStore } from '../core/agents/learning';
import { describeUsage } from '../core/engine/budget';
import { parsePrices } from '../core/services/llm/pricing';
import { MetricsStore } from '../core/services/metrics/store';
import { llmClientFromEnv } from '../core/services/llm/settings';
import { formatDuration, type DisplayMode, type RunDisplay } from './display';
import { TtyPrompter } from './prompter';

export const EXIT = { ok: 0, failed: 1, invalid: 2, rejected: 3, cancelled: 130 } as const;

export const EXIT_FOR_STATUS: Record<RunStatus, number> = {
	succeeded: EXIT.ok,
	failed: EXIT.failed,
	rolled_back: EXIT.failed,
	interrupted: EXIT.failed,
	running: EXIT.failed,
	rejected: EXIT.rejected,
	cancelled: EXIT.cancelled,
};

export interface GlobalOptions {
	workspace?: string;
	verbose?: boolean;
	color?: boolean;
	/** false with --no-policy: only requires_approval and the sandbox's protected paths ask. */
	policy?: boolean;
	/** --allow: escalation rules that go ahead without asking, for this invocation. */
	allow?: string[];
	/** --max-load / --max-memory: hold new steps back above these (load per core; share of memory in use). */
	maxLoad?: number;
	maxMemory?: number;
	/** --conflict-order: who gets a path two steps want. */
	conflictOrder?: 'arrival' | 'priority';
}

export interface Io {
	stdout: NodeJS.WriteStream;
	stderr: NodeJS.WriteStream;
	stdin: NodeJS.ReadStream;
}

export class Cli {
	exitCode: number = EXIT.ok;
	constructor(readonly io: Io) {}

	out(text: string): void {
		this.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
	}

	err(text: string): void {
		this.io.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
	}

	logger(verbose: boolean, mode: DisplayMode): Logger {
		const levels: LogLevel[] = verbose ? ['debug', 'info', 'warn', 'error'] : ['warn'];
		return {
			log: (level, scope, message) => {
				// With --json, logs travel as events on stdout; step failures and retries are already on the display.
				if (mode === 'json' || !levels.includes(level) || (!verbose && scope === 'run')) return;
				this.err(`${level}: [${scope}] ${message}`);
			},
		};
	}

	/** What the person's answers taught this invocation: offered after the run, never applied by themselves. */
	readonly suggestions: DecisionSuggestion[] = [];

	/** The figures `qo stats` shows: every engine this invocation makes feeds them; main() writes them on the way out. */
	metrics: MetricsStore | undefined;

	async engine(g: GlobalOptions, prompter: DecisionPrompter, mode: DisplayMode = 'plain'): Promise<Engine> {
		const learned: { store?: LearningStore } = {};
		// A person's answers to rule-based decisions are counted; after three alike, the rule is offered as --allow.
		const recording: DecisionPrompter = {
			decide: async (request, signal) => {
				const answer = await prompter.decide(request, signal);
				const store = learned.store;
				if (request.rule && answer.by !== 'policy' && store) {
					const offer = store.recordDecision(request.rule, answer.approve);
					if (offer) this.suggestions.push(offer);
					await store.save().catch(() => undefined);
				}
				return answer;
			},
		};
		const allowed = new Set(g.allow ?? []);
		const engine = await createEngine({
			workspace: g.workspace ?? process.cwd(),
			prompter: recording,
			llm: await llmClientFromEnv(process.env),
			prices: parsePrices(process.env.QO_LLM_PRICES, (m) => this.err(`warning: ${m}`)),
			...(g.maxLoad !== undefined || g.maxMemory !== undefined ? { resourceLimits: { cpu: g.maxLoad, memory: g.maxMemory } } : {}),
			...(g.conflictOrder ? { conflictOrder: g.conflictOrder } : {}),
			logger: this.logger(g.verbose ?? false, mode),
			// The same default escalation policy as the extension's: risky commands and deletions ask first.
			escalation:
				g.policy === false
					? undefined
					: createEscalationCheck(DEFAULT_ESCALATION_POLICY, () => allowed, undefined, (e, step) =>
							this.logger(g.verbose ?? false, mode).log('info', 'policy', `${step.type}.${step.operation} went ahead: ${e.rule} is allowed with --allow`),
						),
		});
		learned.store = engine.learning;
		this.metrics ??= await MetricsStore.open(engine.stateDir, { logger: this.logger(g.verbose ?? false, mode) });
		this.metrics.subscribe(engine.events);
		return engine;
	}

	displayMode(json: boolean, quiet: boolean): DisplayMode {
		if (json) return 'json';
		if (quiet) return 'quiet';
		return this.io.stdout.isTTY ? 'tty' : 'plain';
	}

	prompter(yes: boolean, display: RunDisplay | undefined): DecisionPrompter {
		if (yes) return approveAll;
		if (this.io.stdin.isTTY && this.io.stderr.isTTY) return new TtyPrompter(this.io.stdin, this.io.stderr, () => display?.hold(), () => display?.release());
		return rejectAll;
	}

	/** Ctrl-C cancels the run (processes are stopped); a second Ctrl-C exits at once. */
	withSigint<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
		const controller = new AbortController();
		let count = 0;
		const onSigint = () => {
			count++;
			if (count === 1) {
				this.err('\nCancelling: stopping running steps (Ctrl-C again to exit now)…');
				controller.abort(new Error('cancelled by user (Ctrl-C)'));
			} else {
				process.exit(EXIT.cancelled);
			}
		};
		process.on('SIGINT', onSigint);
		process.on('SIGTERM', onSigint);
		return fn(controller.signal).finally(() => {
			process.off('SIGINT', onSigint);
			process.off('SIGTERM', onSigint);
		});
	}

	reportRun(result: RunResult, display: RunDisplay, mode: DisplayMode): void {
		display.finish();
		const c = result.counts;
		if (mode === 'json') {
			this.out(JSON.stringify({ type: 'result', runId: result.runId, status: result.status, durationMs: result.durationMs, counts: c, message: result.message, usage: result.usage }));
		} else {
			const parts = (['succeeded', 'failed', 'skipped', 'cancelled'] as const).filter((k) => c[k]).map((k) => `${c[k]} ${k}`);
			this.out(`\n${result.status.toUpperCase()} ${result.runId} in ${formatDuration(result.durationMs)}: ${parts.join(', ') || 'no steps'}`);
			if (result.message && result.status !== 'succeeded') this.out(`  ${result.message.replace(/\n/g, '\n    ')}`);
			if (result.usage) for (const line of describeUsage(result.usage)) this.out(`  ${line}`);
			for (const offer of this.suggestions.splice(0)) {
				this.out(
					offer.action === 'auto-approve'
						? `  Tip: ${offer.message} Pass --allow ${offer.rule} and qo will not ask again.`
						: `  Tip: ${offer.message} Leave the step out, or change the workflow.`,
				);
			}
			if (result.status === 'failed' || result.status === 'cancelled' || result.status === 'rejected') {
				this.out(`  Undo its changes: qo rollback ${result.runId}    Continue it: qo resume ${result.runId}`);
			} else if (result.status === 'succeeded') {
				this.out(`  Undo: qo rollback ${result.runId}    Keep for good: qo commit ${result.runId}`);
			}
		}
		this.exitCode = EXIT_FOR_STATUS[result.status];
	}

	fail(err: unknown): void {
		if (WorkflowError.is(err)) {
			const problems = err.problems.length ? err.problems : [err];
			this.err(problems.length > 1 ? `${problems.length} problems:` : 'Invalid workflow:');
			for (const p of problems) this.err(`  ${p.describe()}`);
			this.exitCode = EXIT.invalid;
			return;
		}
		this.err(`qo: ${describeError(err)}`);
		this.exitCode = StateError.is(err, 'changed') || StateError.is(err, 'not-found') || StateError.is(err, 'locked') ? EXIT.invalid : EXIT.failed;
	}
}

export function parseIntOption(name: string) {
	return (value: string) => {
		const n = Number(value);
		if (!Number.isInteger(n) || n < 1) throw new CommanderError(EXIT.invalid, 'qo.invalidOption', `${name} must be a whole number ≥ 1, got "${value}"`);
		return n;
	};
}

/** `--var NAME=VALUE` options as variables. */
export function parseVars(vars: string[] | undefined): Record<string, unknown> | undefined {
	if (!vars?.length) return undefined;
	const variables: Record<string, unknown> = {};
	for (const v of vars) {
		const eq = v.indexOf('=');
		if (eq <= 0) throw new CommanderError(EXIT.invalid, 'qo.invalidOption', `--var takes NAME=VALUE, got "${v}"`);
		variables[v.slice(0, eq)] = v.slice(eq + 1);
	}
	return variables;
}
