// The agent registry: built-in, workspace and API-registered agents (in that order of precedence, lowest first),
// their health, workload (slots up to max_concurrent_tasks) and session metrics, with change events for views.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { AgentError } from '../errors';
import type { Clock } from '../ports';
import { suggest } from '../workflow/suggest';
import { builtinAgents } from './builtin';
import {
	agentNameFromFile,
	commandExecutable,
	defineAgent,
	loadWorkspaceAgents,
	type AgentDefinition,
	type AgentInput,
	type LoadedAgents,
} from './definition';
import type { LearningStore, TaskOutcome } from './learning';

/** Utilisation is measured over this much recent time by default. */
export const DEFAULT_METRICS_WINDOW_MS = 15 * 60_000;

type Layer = 'builtin' | 'workspace' | 'api';
const LAYERS: readonly Layer[] = ['api', 'workspace', 'builtin'];

export interface AgentRegistryOptions {
	/** Start with the built-in agents (default true). */
	builtins?: boolean;
	clock?: Pick<Clock, 'now'>;
	metricsWindowMs?: number;
	/** Outcomes are recorded here too (the caller saves it); allocation then learns across sessions. */
	learning?: LearningStore;
}

export interface AgentEntry {
	definition: AgentDefinition;
	/** The definitions this one hides (a workspace `coder.md` hides the built-in coder). */
	overrides: AgentDefinition[];
}

export type AgentChange =
	| { kind: 'registered' | 'unregistered'; agent: string }
	| { kind: 'workspace'; agents: string[] }
	| { kind: 'workload' | 'metrics'; agent: string };

export interface AgentHealth {
	agent: string;
	ok: boolean;
	/** Each in one line, saying what to do. */
	problems: string[];
	/** The workspace file, for a workspace agent or an invalid file. */
	file?: string;
}

export interface HealthEnvironment {
	/** An LLM endpoint is configured (QO_LLM_BASE_URL / OPENAI_BASE_URL, or the extension's setting). */
	llmConfigured: boolean;
	/** Where PATH (and PATHEXT on Windows) come from; default process.env. */
	env?: Record<string, string | undefined>;
	/** Resolves relative executables and `{{workspace}}`; default the current directory. */
	workspaceRoot?: string;
}

export interface AgentWorkload {
	agent: string;
	running: number;
	max: number;
	available: number;
	full: boolean;
}

export interface AgentMetrics {
	agent: string;
	/** Tasks recorded in this session. */
	tasks: number;
	successes: number;
	failures: number;
	/** successes / tasks; undefined before the first task. */
	successRate?: number;
	meanDurationMs?: number;
	tokensIn: number;
	tokensOut: number;
	/** Busy slot time / (window × max_concurrent_tasks), 0–1, over the last `windowMs` (or since the registry began). */
	utilisation: number;
	windowMs: number;
	running: number;
	max: number;
}

/** A held slot of an agent. `release` is idempotent; give it the outcome to record it with the measured duration. */
export interface AgentLease {
	readonly agent: string;
	readonly startedAt: number;
	release(outcome?: Omit<TaskOutcome, 'durationMs'> & { durationMs?: number }): void;
}

export interface Disposable {
	dispose(): void;
}

interface SessionStats {
	tasks: number;
	successes: number;
	durationSum: number;
	timed: number;
	tokensIn: number;
	tokensOut: number;
	/** Finished busy intervals [start, end], pruned to the window. */
	busy: [number, number][];
}

export class AgentRegistry {
	private readonly layers: Record<Layer, Map<string, AgentDefinition>> = { builtin: new Map(), workspace: new Map(), api: new Map() };
	private invalidFiles: { file: string; name: string }[] = [];
	private workspaceProblems: AgentError[] = [];
	private readonly running = new Map<string, Set<AgentLease>>();
	private readonly session = new Map<string, SessionStats>();
	private readonly listeners = new Set<(change: AgentChange) => void>();
	private readonly clock: Pick<Clock, 'now'>;
	private readonly windowMs: number;
	private readonly createdAt: number;
	readonly learning?: LearningStore;

	constructor(opts: AgentRegistryOptions = {}) {
		this.clock = opts.clock ?? Date;
		this.windowMs = opts.metricsWindowMs ?? DEFAULT_METRICS_WINDOW_MS;
		this.createdAt = this.clock.now();
		if (opts.learning) this.learning = opts.learning;
		if (opts.builtins ?? true) for (const a of builtinAgents()) this.layers.builtin.set(a.name, a);
	}

	// ---- definitions ----------------------------------------------------------------------------------------------

	/** The effective definition of `name` (API over workspace over built-in). */
	get(name: string): AgentDefinition | undefined {
		for (const layer of LAYERS) {
			const d = this.layers[layer].get(name);
			if (d) return d;
		}
		return undefined;
	}

	has(name: string): boolean {
		return this.get(name) !== undefined;
	}

	/** Effective agent names, sorted. */
	names(): string[] {
		return [...new Set(LAYERS.flatMap((l) => [...this.layers[l].keys()]))].sort();
	}

	/** Effective agents with what they hide, sorted by name. */
	list(): AgentEntry[] {
		return this.names().map((name) => {
			const all = LAYERS.flatMap((l) => (this.layers[l].has(name) ? [this.layers[l].get(name)!] : []));
			return { definition: all[0], overrides: all.slice(1) };
		});
	}

	/** The effective definition or an AgentError 'unknown-agent' listing the agents there are. */
	require(name: string): AgentDefinition {
		const d = this.get(name);
		if (!d) throw unknownAgentError(name, this.names());
		return d;
	}

	/**
	 * Adds an agent from code (validated). It hides a built-in or workspace agent of the same name, and says so;
	 * replacing an agent registered from code needs `replace`. Returns notes for the log.
	 */
	register(input: AgentInput | AgentDefinition, opts: { replace?: boolean } = {}): string[] {
		const def = 'source' in input ? defineAgent(toInput(input as AgentDefinition), (input as AgentDefinition).source) : defineAgent(input);
		if (this.layers.api.has(def.name) && !opts.replace) {
			throw new AgentError('duplicate', `agent '${def.name}' is already registered; pass replace to replace it`, {}, def.name);
		}
		const hidden = this.get(def.name);
		this.layers.api.set(def.name, def);
		this.emit({ kind: 'registered', agent: def.name });
		return hidden && hidden.source.kind !== 'api' ? [`${def.name}: the registered definition overrides the ${sourceName(hidden)}`] : [];
	}

	/**
	 * Removes the effective definition of `name` (the one hiding others goes first, so removing a workspace override
	 * brings the built-in back). Returns it, or undefined when there was none.
	 */
	unregister(name: string): AgentDefinition | undefined {
		for (const layer of LAYERS) {
			const d = this.layers[layer].get(name);
			if (!d) continue;
			this.layers[layer].delete(name);
			this.emit({ kind: 'unregistered', agent: name });
			return d;
		}
		return undefined;
	}

	/** Replaces every workspace agent with `loaded`; returns notes such as "coder: … overrides the built-in agent". */
	setWorkspaceAgents(loaded: LoadedAgents): string[] {
		this.layers.workspace.clear();
		const notes: string[] = [];
		for (const a of loaded.agents) {
			const builtin = this.layers.builtin.get(a.name);
			if (builtin) notes.push(`${a.name}: ${fileOf(a)} overrides the built-in agent`);
			if (this.layers.api.has(a.name)) notes.push(`${a.name}: ${fileOf(a)} is hidden by the agent registered from code`);
			this.layers.workspace.set(a.name, a);
		}
		for (const bad of loaded.invalid) {
			// A file too broken to name its agent most likely meant the agent its file name says.
			const name = bad.name ?? agentNameFromFile(bad.file);
			if (this.layers.builtin.has(name) && !this.layers.workspace.has(name)) {
				notes.push(`${name}: ${path.basename(bad.file)} is invalid, so the built-in agent is used`);
			}
		}
		this.invalidFiles = loaded.invalid.map((bad) => ({ file: bad.file, name: bad.name ?? agentNameFromFile(bad.file) }));
		this.workspaceProblems = loaded.problems;
		this.emit({ kind: 'workspace', agents: loaded.agents.map((a) => a.name) });
		return notes;
	}

	/** Reads `.quantum/agents/*.md` and makes them the workspace agents. Problems are returned, never thrown. */
	async loadWorkspace(workspaceRoot: string, opts: { dir?: string } = {}): Promise<{ notes: string[]; problems: AgentError[] }> {
		const loaded = await loadWorkspaceAgents(workspaceRoot, opts);
		return { notes: this.setWorkspaceAgents(loaded), problems: loaded.problems };
	}

	/** The problems of the last workspace load, each naming its file and line. */
	problems(): AgentError[] {
		return [...this.workspaceProblems];
	}

	// ---- health ---------------------------------------------------------------------------------------------------

	async health(name: string, env: HealthEnvironment): Promise<AgentHealth> {
		const def = this.require(name);
		const problems: string[] = [];
		const bad = this.invalidFiles.find((f) => f.name === name);
		if (bad) problems.push(`${path.basename(bad.file)} is invalid (${this.fileProblem(bad.file)}); the ${sourceName(def)} is used instead`);
		if (def.kind === 'llm' && !env.llmConfigured) {
			problems.push('no LLM endpoint is configured: set QO_LLM_BASE_URL (or OPENAI_BASE_URL) for qo, or the endpoint in the settings');
		}
		if (def.kind === 'command') {
			const root = env.workspaceRoot ?? process.cwd();
			const exe = commandExecutable(def, root);
			if (exe !== undefined && !(await findExecutable(exe, { env: env.env ?? process.env, cwd: root }))) {
				problems.push(`the command '${exe}' was not found ${exe.includes('/') || exe.includes('\\') ? 'or is not executable' : 'on PATH'}`);
			}
		}
		return { agent: name, ok: problems.length === 0, problems, ...(def.source.kind === 'workspace' ? { file: def.source.file } : {}) };
	}

	/** Health of every agent, plus one entry per invalid workspace file that defines no usable agent. */
	async healthAll(env: HealthEnvironment): Promise<AgentHealth[]> {
		const out = await Promise.all(this.names().map((n) => this.health(n, env)));
		for (const bad of this.invalidFiles) {
			if (this.has(bad.name)) continue;
			out.push({ agent: bad.name, ok: false, problems: [`invalid definition: ${this.fileProblem(bad.file)}`], file: bad.file });
		}
		return out.sort((a, b) => (a.agent < b.agent ? -1 : a.agent > b.agent ? 1 : 0));
	}

	private fileProblem(file: string): string {
		const first = this.workspaceProblems.find((p) => p.location.file === file);
		if (!first) return 'see the problems of the agents folder';
		const line = first.location.line ? `line ${first.location.line}: ` : '';
		const key = first.location.path ? `${first.location.path}: ` : '';
		return `${line}${key}${first.message}`;
	}

	// ---- workload -------------------------------------------------------------------------------------------------

	workload(name: string): AgentWorkload {
		const def = this.require(name);
		const running = this.running.get(name)?.size ?? 0;
		const max = def.max_concurrent_tasks;
		return { agent: name, running, max, available: Math.max(0, max - running), full: running >= max };
	}

	/** Takes a slot of `name`; undefined when all its max_concurrent_tasks slots are taken. */
	acquire(name: string): AgentLease | undefined {
		const def = this.require(name);
		const held = this.running.get(name) ?? new Set<AgentLease>();
		if (held.size >= def.max_concurrent_tasks) return undefined;
		const startedAt = this.clock.now();
		let released = false;
		const lease: AgentLease = {
			agent: name,
			startedAt,
			release: (outcome) => {
				if (released) return;
				released = true;
				held.delete(lease);
				const end = this.clock.now();
				this.stats(name).busy.push([startedAt, end]);
				this.emit({ kind: 'workload', agent: name });
				if (outcome) this.record(name, { ...outcome, durationMs: outcome.durationMs ?? end - startedAt }, false);
			},
		};
		held.add(lease);
		this.running.set(name, held);
		this.emit({ kind: 'workload', agent: name });
		return lease;
	}

	// ---- metrics --------------------------------------------------------------------------------------------------

	/**
	 * Records a task that ran without a lease (its busy time is [now − durationMs, now]). With a lease, pass the
	 * outcome to `lease.release` instead, so the busy time is not counted twice. Feeds the learning store too.
	 */
	recordOutcome(name: string, outcome: TaskOutcome): void {
		this.record(name, outcome, true);
	}

	private record(name: string, outcome: TaskOutcome, busy: boolean): void {
		const s = this.stats(name);
		s.tasks++;
		if (outcome.ok) {
			s.successes++;
			if (Number.isFinite(outcome.durationMs) && outcome.durationMs >= 0) {
				s.durationSum += outcome.durationMs;
				s.timed++;
			}
		}
		s.tokensIn += Math.max(0, outcome.tokens?.input ?? 0);
		s.tokensOut += Math.max(0, outcome.tokens?.output ?? 0);
		if (busy && outcome.durationMs > 0) {
			const now = this.clock.now();
			s.busy.push([now - outcome.durationMs, now]);
		}
		this.learning?.record(name, outcome);
		this.emit({ kind: 'metrics', agent: name });
	}

	metrics(name: string): AgentMetrics {
		const def = this.require(name);
		const s = this.stats(name);
		const now = this.clock.now();
		const from = Math.max(now - this.windowMs, this.createdAt);
		s.busy = s.busy.filter(([, end]) => end > now - this.windowMs);
		let busy = 0;
		for (const [start, end] of s.busy) busy += Math.max(0, Math.min(end, now) - Math.max(start, from));
		for (const lease of this.running.get(name) ?? []) busy += Math.max(0, now - Math.max(lease.startedAt, from));
		const window = Math.max(1, now - from);
		const running = this.running.get(name)?.size ?? 0;
		return {
			agent: name,
			tasks: s.tasks,
			successes: s.successes,
			failures: s.tasks - s.successes,
			...(s.tasks > 0 ? { successRate: s.successes / s.tasks } : {}),
			...(s.timed > 0 ? { meanDurationMs: s.durationSum / s.timed } : {}),
			tokensIn: s.tokensIn,
			tokensOut: s.tokensOut,
			utilisation: Math.min(1, busy / (window * def.max_concurrent_tasks)),
			windowMs: window,
			running,
			max: def.max_concurrent_tasks,
		};
	}

	private stats(name: string): SessionStats {
		let s = this.session.get(name);
		if (!s) {
			s = { tasks: 0, successes: 0, durationSum: 0, timed: 0, tokensIn: 0, tokensOut: 0, busy: [] };
			this.session.set(name, s);
		}
		return s;
	}

	// ---- events ---------------------------------------------------------------------------------------------------

	/** Called after every change (definitions, workload, metrics); a throwing listener does not stop the others. */
	onDidChange(listener: (change: AgentChange) => void): Disposable {
		this.listeners.add(listener);
		return { dispose: () => this.listeners.delete(listener) };
	}

	private emit(change: AgentChange): void {
		for (const l of [...this.listeners]) {
			try {
				l(change);
			} catch {
				// A view's bug must not break the registry or the run that triggered the change.
			}
		}
	}
}

/** AgentError 'unknown-agent' naming the agents there are, with a "did you mean". */
export function unknownAgentError(name: string, available: readonly string[]): AgentError {
	const hint = suggest(name, available);
	const list = available.length ? `agents: ${available.join(', ')}` : 'no agents are registered';
	return new AgentError('unknown-agent', `no agent named '${name}'${hint ? ` (did you mean '${hint}'?)` : ''}; ${list}`, {}, name);
}

function sourceName(def: AgentDefinition): string {
	if (def.source.kind === 'builtin') return 'built-in agent';
	if (def.source.kind === 'workspace') return `workspace agent (${path.basename(def.source.file)})`;
	return 'agent registered from code';
}

function fileOf(def: AgentDefinition): string {
	return def.source.kind === 'workspace' ? path.basename(def.source.file) : 'the workspace definition';
}

function toInput(def: AgentDefinition): AgentInput {
	const { source: _source, ...rest } = def;
	return rest as AgentInput;
}

/**
 * Where `command` resolves: a path (with a separator) relative to `cwd`, or a name searched on PATH (with PATHEXT on
 * Windows). Undefined when it is missing or not executable. Used by health checks before a command agent runs.
 */
export async function findExecutable(command: string, opts: { env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<string | undefined> {
	const env = opts.env ?? process.env;
	const isWindows = process.platform === 'win32';
	const exts = isWindows ? (env.PATHEXT ?? '.EXE;.CMD;.BAT;.COM').split(';').filter(Boolean) : [''];
	const candidates = (base: string) => (isWindows && path.extname(base) ? [base] : exts.map((e) => base + e));
	const dirs = /[\\/]/.test(command) ? [opts.cwd ?? process.cwd()] : (env.PATH ?? env.Path ?? '').split(path.delimiter).filter(Boolean);
	for (const dir of dirs) {
		for (const file of candidates(path.resolve(dir, command))) {
			try {
				if (!(await stat(file)).isFile()) continue;
				await access(file, isWindows ? constants.F_OK : constants.X_OK);
				return file;
			} catch {
				// not here; keep looking
			}
		}
	}
	return undefined;
}
