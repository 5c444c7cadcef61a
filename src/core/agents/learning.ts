// What the orchestrator learns across runs (`<state folder>/learning.json`): per agent and step type, how often tasks
// succeed, how long they take and what they cost; and how the user answers each kind of decision, to *offer* rules.
import { mkdir, rename } from 'node:fs/promises';
import * as path from 'node:path';
import { StateError } from '../errors';
import type { Clock } from '../ports';
import { ioError, readJsonFileIfExists, writeJsonAtomic } from '../state/atomicFs';
import { describeRule } from '../policy/escalation';

export const LEARNING_FILE = 'learning.json';
const VERSION = 1;

/** Identical consecutive answers after which "always do this" is offered. */
export const SUGGEST_AFTER = 3;
/** Weight of the newest duration in the recent (exponentially weighted) mean. */
export const RECENT_WEIGHT = 0.3;
/** The key for outcomes recorded without a step type. */
export const UNSPECIFIED_STEP_TYPE = 'unspecified';
/** Oldest decision rules are forgotten past this many, so the file cannot grow without bound. */
const MAX_DECISION_RULES = 500;

/** What happened to one task, as the registry and the learning store record it. */
export interface TaskOutcome {
	stepType?: string;
	ok: boolean;
	durationMs: number;
	tokens?: { input: number; output: number };
}

/** The part of the record allocation's performance score uses. */
export interface PerformanceStats {
	tasks: number;
	successes: number;
	/** Mean duration of successful tasks; undefined until one succeeded. */
	meanMs?: number;
}

export interface LearnedStats extends PerformanceStats {
	/** Exponentially weighted mean of successful durations: what the next one will probably take. */
	recentMs?: number;
	tokensIn: number;
	tokensOut: number;
}

interface DecisionRecord {
	/** The answer of the current streak. */
	approve: boolean;
	streak: number;
	total: number;
	/** The user turned down the suggestion for this streak; a changed answer clears it. */
	dismissed: boolean;
	updatedAt: number;
}

export interface DecisionSuggestion {
	rule: string;
	action: 'auto-approve' | 'always-reject';
	streak: number;
	/** One line for a notification or the board. */
	message: string;
}

interface LearningFile {
	version: number;
	agents: Record<string, Record<string, LearnedStats>>;
	decisions: Record<string, DecisionRecord>;
}

export class LearningStore {
	/** What went wrong reading the file (corrupt, another version), each in one line; the store then starts fresh. */
	readonly warnings: string[] = [];
	private dirty = false;

	private constructor(
		readonly file: string,
		private readonly data: LearningFile,
		private readonly clock: Pick<Clock, 'now'>,
	) {}

	/** An empty store that will save to `<stateDir>/learning.json`. */
	static empty(stateDir: string, clock: Pick<Clock, 'now'> = Date): LearningStore {
		return new LearningStore(path.join(stateDir, LEARNING_FILE), emptyFile(), clock);
	}

	/**
	 * Reads `<stateDir>/learning.json`. A missing file is an empty store; a corrupt one or one from another version is
	 * moved aside (`learning.json.bad`) and the store starts fresh, with a warning saying so. Never throws for content.
	 */
	static async load(stateDir: string, clock: Pick<Clock, 'now'> = Date): Promise<LearningStore> {
		const file = path.join(stateDir, LEARNING_FILE);
		let raw: unknown;
		try {
			raw = await readJsonFileIfExists(file, 'learning file');
		} catch (err) {
			if (!StateError.is(err, 'corrupt')) throw err;
			return LearningStore.fresh(file, clock, `${err.message}; starting with nothing learned`);
		}
		if (raw === undefined) return new LearningStore(file, emptyFile(), clock);
		if (!isObject(raw) || raw.version !== VERSION) {
			const version = isObject(raw) && typeof raw.version === 'number' ? `version ${raw.version}` : 'an unknown format';
			return LearningStore.fresh(file, clock, `learning file ${file} is ${version}, not version ${VERSION}; starting with nothing learned`);
		}
		const { data, dropped } = sanitise(raw);
		const store = new LearningStore(file, data, clock);
		if (dropped) store.warnings.push(`learning file ${file}: ignored ${dropped} malformed ${dropped === 1 ? 'entry' : 'entries'}`);
		return store;
	}

	private static async fresh(file: string, clock: Pick<Clock, 'now'>, warning: string): Promise<LearningStore> {
		const store = new LearningStore(file, emptyFile(), clock);
		const aside = `${file}.bad`;
		// Keep the bad file for a person to look at; the next save would overwrite it otherwise.
		const moved = await rename(file, aside).then(
			() => true,
			() => false,
		);
		store.warnings.push(moved ? `${warning} (the old file is kept as ${path.basename(aside)})` : warning);
		store.dirty = true;
		return store;
	}

	/** Whether there is anything to save. */
	get changed(): boolean {
		return this.dirty;
	}

	/** Records one task's outcome for `agent` (and its step type). */
	record(agent: string, outcome: TaskOutcome): void {
		const stepType = outcome.stepType || UNSPECIFIED_STEP_TYPE;
		const byType = (this.data.agents[agent] ??= Object.create(null) as Record<string, LearnedStats>);
		const s = (byType[stepType] ??= { tasks: 0, successes: 0, tokensIn: 0, tokensOut: 0 });
		s.tasks++;
		s.tokensIn += nonNegative(outcome.tokens?.input);
		s.tokensOut += nonNegative(outcome.tokens?.output);
		// Durations of failures say little about the next success (instant errors, timeouts): estimates use successes.
		if (outcome.ok) {
			s.successes++;
			const d = nonNegative(outcome.durationMs);
			s.meanMs = s.meanMs === undefined ? d : s.meanMs + (d - s.meanMs) / s.successes;
			s.recentMs = s.recentMs === undefined ? d : s.recentMs + RECENT_WEIGHT * (d - s.recentMs);
		}
		this.dirty = true;
	}

	/** Learned figures for `agent`, for one step type or summed over all of them; undefined when nothing is known. */
	stats(agent: string, stepType?: string): LearnedStats | undefined {
		const byType = this.data.agents[agent];
		if (!byType) return undefined;
		if (stepType !== undefined) return copy(byType[stepType]);
		return combine(Object.values(byType));
	}

	/** Learned figures for a step type over every agent. */
	stepTypeStats(stepType: string): LearnedStats | undefined {
		return combine(Object.values(this.data.agents).flatMap((byType) => (byType[stepType] ? [byType[stepType]] : [])));
	}

	/** The agents anything is known about. */
	agents(): string[] {
		return Object.keys(this.data.agents).sort();
	}

	/**
	 * How long a task will probably take, for the scheduler's critical path: the most specific figure known
	 * (agent and step type, then the agent, then the step type over all agents); undefined when nothing is known.
	 */
	estimateMs(query: { agent?: string; stepType?: string }): number | undefined {
		const { agent, stepType } = query;
		const tries: (LearnedStats | undefined)[] = [];
		if (agent !== undefined && stepType !== undefined) tries.push(this.stats(agent, stepType));
		if (agent !== undefined) tries.push(this.stats(agent));
		if (stepType !== undefined) tries.push(this.stepTypeStats(stepType));
		for (const s of tries) if (s?.recentMs !== undefined) return Math.round(s.recentMs);
		return undefined;
	}

	/**
	 * Records a person's answer to a decision of kind `rule` (an escalation rule id such as `exec:risky:\bsudo\b`, or a
	 * decision kind). Returns the suggestion when this answer makes one due. Nothing is ever applied here.
	 */
	recordDecision(rule: string, approve: boolean): DecisionSuggestion | undefined {
		const now = this.clock.now();
		const prev = this.data.decisions[rule];
		const next: DecisionRecord =
			prev && prev.approve === approve
				? { ...prev, streak: prev.streak + 1, total: prev.total + 1, updatedAt: now }
				: { approve, streak: 1, total: (prev?.total ?? 0) + 1, dismissed: false, updatedAt: now };
		delete this.data.decisions[rule];
		this.data.decisions[rule] = next;
		this.forgetOldDecisions();
		this.dirty = true;
		return next.streak === SUGGEST_AFTER && !next.dismissed ? suggestion(rule, next) : undefined;
	}

	/** Every suggestion on offer (3+ identical consecutive answers, not dismissed), newest first. */
	suggestions(): DecisionSuggestion[] {
		return Object.entries(this.data.decisions)
			.filter(([, d]) => d.streak >= SUGGEST_AFTER && !d.dismissed)
			.sort((a, b) => b[1].updatedAt - a[1].updatedAt || (a[0] < b[0] ? -1 : 1))
			.map(([rule, d]) => suggestion(rule, d));
	}

	/** The user said no to the suggestion for `rule`: not offered again until their answer changes. */
	dismissSuggestion(rule: string): boolean {
		const d = this.data.decisions[rule];
		if (!d || d.dismissed) return false;
		d.dismissed = true;
		this.dirty = true;
		return true;
	}

	/** Forget the answers to `rule` (e.g. after the user accepted the suggestion and the rule is now a setting). */
	forgetDecision(rule: string): void {
		if (delete this.data.decisions[rule]) this.dirty = true;
	}

	/** Writes the file atomically (creating the state folder). Last writer wins between processes. */
	async save(): Promise<void> {
		await mkdir(path.dirname(this.file), { recursive: true }).catch((err: unknown) => {
			throw ioError('learning file', this.file, err);
		});
		await writeJsonAtomic(this.file, this.data, 'learning file');
		this.dirty = false;
	}

	private forgetOldDecisions(): void {
		const rules = Object.keys(this.data.decisions);
		// Insertion order is answer order (each answer re-inserts its rule), so the first keys are the stalest.
		for (let i = 0; i < rules.length - MAX_DECISION_RULES; i++) delete this.data.decisions[rules[i]];
	}
}

function suggestion(rule: string, d: DecisionRecord): DecisionSuggestion {
	const what = rule.includes(':') ? describeRule(rule) : rule;
	const message = d.approve
		? `You approved "${what}" ${d.streak} times in a row: always allow it?`
		: `You rejected "${what}" ${d.streak} times in a row: always reject it?`;
	return { rule, action: d.approve ? 'auto-approve' : 'always-reject', streak: d.streak, message };
}

function emptyFile(): LearningFile {
	return { version: VERSION, agents: Object.create(null), decisions: Object.create(null) };
}

function isObject(v: unknown): v is Record<string, unknown> {
	return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nonNegative(n: number | undefined): number {
	return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0;
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0;
const isOptionalMs = (n: unknown) => n === undefined || (typeof n === 'number' && Number.isFinite(n) && n >= 0);

function validStats(s: unknown): s is LearnedStats {
	return (
		isObject(s) &&
		isCount(s.tasks) &&
		isCount(s.successes) &&
		s.successes <= s.tasks &&
		isOptionalMs(s.meanMs) &&
		isOptionalMs(s.recentMs) &&
		isOptionalMs(s.tokensIn) &&
		isOptionalMs(s.tokensOut)
	);
}

function validDecision(d: unknown): d is DecisionRecord {
	return isObject(d) && typeof d.approve === 'boolean' && isCount(d.streak) && isCount(d.total) && typeof d.dismissed === 'boolean';
}

/** Keeps the well-formed entries of a version-1 file; counts the rest. */
function sanitise(raw: Record<string, unknown>): { data: LearningFile; dropped: number } {
	const data = emptyFile();
	let dropped = 0;
	for (const [agent, byType] of Object.entries(isObject(raw.agents) ? raw.agents : {})) {
		if (!isObject(byType)) {
			dropped++;
			continue;
		}
		for (const [stepType, s] of Object.entries(byType)) {
			if (!validStats(s)) {
				dropped++;
				continue;
			}
			(data.agents[agent] ??= Object.create(null))[stepType] = {
				tasks: s.tasks,
				successes: s.successes,
				...(s.meanMs !== undefined ? { meanMs: s.meanMs } : {}),
				...(s.recentMs !== undefined ? { recentMs: s.recentMs } : {}),
				tokensIn: s.tokensIn ?? 0,
				tokensOut: s.tokensOut ?? 0,
			};
		}
	}
	for (const [rule, d] of Object.entries(isObject(raw.decisions) ? raw.decisions : {})) {
		if (!validDecision(d)) {
			dropped++;
			continue;
		}
		data.decisions[rule] = { approve: d.approve, streak: d.streak, total: d.total, dismissed: d.dismissed, updatedAt: typeof d.updatedAt === 'number' ? d.updatedAt : 0 };
	}
	return { data, dropped };
}

function copy(s: LearnedStats | undefined): LearnedStats | undefined {
	return s ? { ...s } : undefined;
}

/** Sums counts; means are weighted by the successes behind them. */
function combine(list: LearnedStats[]): LearnedStats | undefined {
	if (list.length === 0) return undefined;
	const out: LearnedStats = { tasks: 0, successes: 0, tokensIn: 0, tokensOut: 0 };
	let meanSum = 0;
	let recentSum = 0;
	let timed = 0;
	for (const s of list) {
		out.tasks += s.tasks;
		out.successes += s.successes;
		out.tokensIn += s.tokensIn;
		out.tokensOut += s.tokensOut;
		if (s.meanMs !== undefined && s.successes > 0) {
			meanSum += s.meanMs * s.successes;
			recentSum += (s.recentMs ?? s.meanMs) * s.successes;
			timed += s.successes;
		}
	}
	if (timed > 0) {
		out.meanMs = meanSum / timed;
		out.recentMs = recentSum / timed;
	}
	return out;
}
