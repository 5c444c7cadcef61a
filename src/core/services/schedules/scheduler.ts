// Runs workflows at their cron slots through the dispatcher: one timer through the Clock for all schedules, recomputed
// after every wake (no interval drift, robust to clock jumps, capped so long delays are re-armed). A slot fires at
// most once (the last slot dealt with is kept in `.quantum/schedules.json`, and the dispatcher's idempotency key is
// the slot); slots that passed while nothing was running are counted and reported, never replayed.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { Engine } from '../../engine';
import type { Disposable } from '../../engine/events';
import { describeError, type ScheduleError } from '../../errors';
import { nullLogger, systemClock, type Clock, type LogLevel, type Logger } from '../../ports';
import type { SchedulePolicy } from '../../workflow/schema';
import type { Submission, SubmissionResult } from '../triggers/dispatcher';
import type { SlotSpan } from './cron';
import { DEFAULT_SCHEDULE_FILES, discoverSchedules, type Discovered, type ScheduleDefinition } from './definitions';
import { ScheduleStore, type MissedRuns, type ScheduleRecord } from './store';

/** The longest single wait: a later slot is reached by waking and re-arming (setTimeout's limit is ~24.8 days, and a
 * wall-clock jump is noticed within this). */
export const MAX_DELAY_MS = 60_000;

/** What the scheduler needs of the dispatcher (tests wrap it). */
export interface SchedulerDispatcher {
	submit(s: Submission): Promise<SubmissionResult>;
}

export interface SchedulerOptions {
	engine: Pick<Engine, 'workspace' | 'stateDir'>;
	dispatcher: SchedulerDispatcher;
	/** Timers and "now" (tests drive time); default the system clock. */
	clock?: Clock;
	/** Schedules from the host's settings: `{ name, cron, workflow, timezone?, policy? }` (validated here). */
	schedules?: readonly unknown[];
	/** Workspace-relative workflow files or globs searched for `settings.schedule` (default `**\/*.workflow.json`). */
	files?: readonly string[];
	logger?: Logger;
	/** How the settings' schedules are named in messages (default `schedules`). */
	optionsLabel?: string;
}

export type ScheduleEvent =
	| { type: 'schedule-fired'; name: string; slot: string; result: SubmissionResult | { status: 'error'; error: string } }
	| { type: 'schedule-missed'; missed: MissedRuns }
	| { type: 'schedule-problem'; name?: string; message: string };

/** One schedule as the tree and `qo schedules` show it. */
export interface ScheduleInfo {
	name: string;
	/** Where it is defined: `nightly.workflow.json:5:17` or `quantum.schedules[0]`. */
	source: string;
	cron?: string;
	timezone?: string;
	policy?: SchedulePolicy;
	/** The workflow file, relative to the workspace. */
	workflow?: string;
	/** ISO time of the next slot (absent when invalid or none). */
	next?: string;
	lastFired?: ScheduleRecord['lastFired'];
	/** The latest missed-runs report (or, while nothing runs the schedules, the slots missed so far). */
	missed?: MissedRuns;
	/** Why it cannot run, with where. */
	error?: string;
}

interface Armed {
	def: ScheduleDefinition;
	/** No slot at or before this time fires. */
	cursor: number;
	nextAt?: number;
}

const iso = (t: number): string => new Date(t).toISOString();

export class Scheduler {
	private readonly clock: Clock;
	private readonly logger: Logger;
	private readonly store: ScheduleStore;
	private discovered: Discovered = { schedules: [], problems: [], notes: [] };
	private readonly armed = new Map<string, Armed>();
	private readonly reports = new Map<string, MissedRuns>();
	private readonly listeners = new Set<(e: ScheduleEvent) => void>();
	private readonly inflight = new Set<Promise<void>>();
	private running = false;
	private parked = false;
	private wake: AbortController | undefined;
	private loopDone: Promise<void> | undefined;
	private saves: Promise<void> = Promise.resolve();

	constructor(private readonly opts: SchedulerOptions) {
		this.clock = opts.clock ?? systemClock;
		this.logger = opts.logger ?? nullLogger;
		this.store = new ScheduleStore(opts.engine.stateDir);
	}

	/** Finds the schedules and reads their state, without arming anything (what `qo schedules` needs). */
	async load(): Promise<void> {
		for (const w of await this.store.load()) this.log('warn', w);
		this.discovered = await discoverSchedules({
			workspace: this.opts.engine.workspace,
			options: this.opts.schedules,
			optionsLabel: this.opts.optionsLabel,
			files: this.opts.files ?? DEFAULT_SCHEDULE_FILES,
			now: this.clock.now(),
		});
		for (const n of this.discovered.notes) this.log('warn', n);
		for (const p of this.discovered.problems) {
			this.log('error', p.describe());
			this.emit({ type: 'schedule-problem', ...(p.schedule ? { name: p.schedule } : {}), message: p.describe() });
		}
	}

	/** Loads, reports the slots missed while nothing ran, and arms the timer. */
	async start(): Promise<void> {
		if (this.running) return;
		await this.load();
		this.running = true;
		this.armAll();
		this.persist();
		this.loopDone = this.loop();
	}

	/** Finds the schedules again (a workflow file or the settings changed); unchanged schedules keep their place. */
	async reload(schedules?: readonly unknown[]): Promise<void> {
		if (schedules) this.opts.schedules = schedules;
		await this.load();
		if (!this.running) return;
		this.armAll();
		this.persist();
		this.wake?.abort();
	}

	/** Disarms the timer; waits for submissions in flight and the state file. */
	async stop(): Promise<void> {
		if (!this.running) return;
		this.running = false;
		this.wake?.abort();
		await this.loopDone;
		await this.settledSubmissions();
		await this.saves;
	}

	dispose(): void {
		void this.stop();
	}

	/** Every schedule, valid or not, with its next run and missed runs. */
	list(): ScheduleInfo[] {
		const now = this.clock.now();
		const valid = this.discovered.schedules.map((def): ScheduleInfo => {
			const rec = this.record(def);
			const armed = this.armed.get(def.name);
			const next = armed ? armed.nextAt : def.cron.next(Math.max(now, rec?.lastSlot ? Date.parse(rec.lastSlot) : now));
			const missed = this.reports.get(def.name) ?? (this.running ? rec?.missed : (this.pendingMissed(def, rec, now) ?? rec?.missed));
			return {
				name: def.name,
				source: def.source,
				cron: def.cron.expression,
				...(def.cron.timezone ? { timezone: def.cron.timezone } : {}),
				policy: def.policy,
				workflow: path.relative(this.opts.engine.workspace, def.workflowFile).split(path.sep).join('/'),
				...(next !== undefined ? { next: iso(next) } : {}),
				...(rec?.lastFired ? { lastFired: rec.lastFired } : {}),
				...(missed ? { missed } : {}),
			};
		});
		const invalid = this.discovered.problems.map((p: ScheduleError): ScheduleInfo => ({ name: p.schedule ?? '(unnamed)', source: p.location.file ?? p.location.path ?? '', error: p.describe() }));
		return [...valid, ...invalid];
	}

	/** The missed-runs reports of this session: per schedule, the latest. */
	missed(): MissedRuns[] {
		return [...this.reports.values()];
	}

	problems(): ScheduleError[] {
		return [...this.discovered.problems];
	}

	onEvent(listener: (e: ScheduleEvent) => void): Disposable {
		this.listeners.add(listener);
		return { dispose: () => this.listeners.delete(listener) };
	}

	/** Resolves once every due slot has been submitted and the timer waits again (tests drive the clock with it). */
	async settled(): Promise<void> {
		for (;;) {
			await this.settledSubmissions();
			await new Promise<void>((resolve) => setImmediate(resolve));
			if ((this.parked || !this.running) && this.inflight.size === 0) return;
		}
	}

	private async settledSubmissions(): Promise<void> {
		while (this.inflight.size) await Promise.all([...this.inflight]);
	}

	/** Sets each schedule's cursor: kept when already armed with the same expression, else from its record. */
	private armAll(): void {
		const now = this.clock.now();
		const previous = new Map(this.armed);
		this.armed.clear();
		for (const def of this.discovered.schedules) {
			const old = previous.get(def.name);
			if (old && old.def.cron.expression === def.cron.expression && old.def.cron.timezone === def.cron.timezone) {
				this.armed.set(def.name, { def, cursor: old.cursor });
				continue;
			}
			const rec = this.record(def);
			if (!rec) {
				this.store.set(def.name, { cron: def.cron.expression, ...(def.cron.timezone ? { timezone: def.cron.timezone } : {}), since: iso(now) });
				this.armed.set(def.name, { def, cursor: now });
				continue;
			}
			const baseline = Date.parse(rec.lastSlot ?? rec.since);
			const missed = def.cron.between(baseline, now);
			if (missed.count) this.reportMissed(def, rec, missed, 'while the orchestrator was not running');
			this.armed.set(def.name, { def, cursor: Math.max(baseline, now) });
		}
	}

	/** The schedule's record, when it belongs to the same expression and zone (a changed schedule starts afresh). */
	private record(def: ScheduleDefinition): ScheduleRecord | undefined {
		const rec = this.store.get(def.name);
		const valid = rec && rec.cron === def.cron.expression && rec.timezone === def.cron.timezone && !Number.isNaN(Date.parse(rec.lastSlot ?? rec.since));
		return valid ? rec : undefined;
	}

	/** Slots since the last one dealt with, as the next start would report them (for `qo schedules`). */
	private pendingMissed(def: ScheduleDefinition, rec: ScheduleRecord | undefined, now: number): MissedRuns | undefined {
		if (!rec) return undefined;
		const span = def.cron.between(Date.parse(rec.lastSlot ?? rec.since), now);
		return span.count ? missedOf(def.name, span, 'not run: nothing was running the schedules') : undefined;
	}

	private reportMissed(def: ScheduleDefinition, rec: ScheduleRecord, span: SlotSpan, reason: string): void {
		const missed: MissedRuns = { ...missedOf(def.name, span, reason), reportedAt: iso(this.clock.now()) };
		rec.lastSlot = missed.last;
		rec.missed = missed;
		this.reports.set(def.name, missed);
		const count = `${missed.count}${missed.capped ? '+' : ''} run${missed.count === 1 && !missed.capped ? '' : 's'}`;
		const when = missed.count === 1 ? `at ${missed.first}` : `from ${missed.first} to ${missed.last}`;
		this.log('warn', `${def.name}: missed ${count} ${reason} (${when}); missed runs are reported, not replayed`);
		this.emit({ type: 'schedule-missed', missed });
	}

	private async loop(): Promise<void> {
		while (this.running) {
			const now = this.clock.now();
			let wakeAt = Infinity;
			for (const a of this.armed.values()) {
				const due = a.def.cron.between(a.cursor, now);
				if (due.count > 0 && due.last !== undefined) {
					const rec = this.ensureRecord(a.def, now);
					// Several slots due at once: the clock jumped or the machine slept. The latest runs; the rest are missed.
					if (due.count > 1) {
						const before = a.def.cron.previous(due.last - 1) as number;
						this.reportMissed(a.def, rec, { count: due.count - 1, capped: due.capped, first: due.first, last: before }, 'while the clock jumped or the machine slept');
					}
					a.cursor = due.last;
					this.fire(a.def, rec, due.last);
				}
				a.nextAt = a.def.cron.next(Math.max(a.cursor, now));
				if (a.nextAt !== undefined) wakeAt = Math.min(wakeAt, a.nextAt);
			}
			const delay = Math.min(Math.max(0, wakeAt - this.clock.now()), MAX_DELAY_MS);
			this.wake = new AbortController();
			this.parked = true;
			try {
				await this.clock.sleep(delay, this.wake.signal);
			} catch {
				// woken early: stopped, or the schedules changed
			} finally {
				this.parked = false;
			}
		}
	}

	private ensureRecord(def: ScheduleDefinition, now: number): ScheduleRecord {
		const rec = this.record(def);
		if (rec) return rec;
		const fresh: ScheduleRecord = { cron: def.cron.expression, ...(def.cron.timezone ? { timezone: def.cron.timezone } : {}), since: iso(now) };
		this.store.set(def.name, fresh);
		return fresh;
	}

	/** Marks the slot dealt with (synchronously, so it never fires twice), then submits it in the background. */
	private fire(def: ScheduleDefinition, rec: ScheduleRecord, slot: number): void {
		const at = iso(slot);
		rec.lastSlot = at;
		rec.lastFired = { slot: at, outcome: 'submitting' };
		this.persist();
		const p: Promise<void> = this.submit(def, rec, at).finally(() => this.inflight.delete(p));
		this.inflight.add(p);
	}

	private async submit(def: ScheduleDefinition, rec: ScheduleRecord, slot: string): Promise<void> {
		let result: SubmissionResult | { status: 'error'; error: string };
		try {
			const text = await readFile(def.workflowFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
				throw new Error(`cannot read the workflow file ${def.workflowFile}: ${err.code === 'ENOENT' ? 'it does not exist (any more)' : err.message}`);
			});
			result = await this.opts.dispatcher.submit({
				workflow: { text, file: def.workflowFile },
				source: 'schedule',
				idempotencyKey: `schedule:${def.name}:${slot}`,
				group: def.name,
				policy: def.policy,
				unattended: true,
				origin: `schedule ${def.name}`,
			});
		} catch (err) {
			result = { status: 'error', error: describeError(err) };
		}
		const [level, message, runId] = describeResult(def, slot, result);
		rec.lastFired = { slot, outcome: result.status, ...(runId ? { runId } : {}), ...(result.status !== 'started' && result.status !== 'queued' ? { message } : {}) };
		this.log(level, message);
		this.emit({ type: 'schedule-fired', name: def.name, slot, result });
		this.persist();
	}

	private persist(): void {
		this.saves = this.saves.then(() => this.store.save()).catch((err) => this.log('warn', `cannot save schedule state: ${describeError(err)}`));
	}

	private log(level: LogLevel, message: string): void {
		this.logger.log(level, 'schedules', message);
	}

	private emit(e: ScheduleEvent): void {
		for (const l of this.listeners) {
			try {
				l(e);
			} catch {
				// a listener must not stop the schedules
			}
		}
	}
}

function missedOf(name: string, span: SlotSpan, reason: string): MissedRuns {
	return { name, count: span.count, ...(span.capped ? { capped: true } : {}), first: iso(span.first as number), last: iso(span.last as number), reason };
}

function describeResult(def: ScheduleDefinition, slot: string, r: SubmissionResult | { status: 'error'; error: string }): [LogLevel, string, string?] {
	const head = `${def.name}: slot ${slot}`;
	switch (r.status) {
		case 'started':
			return ['info', `${head} started run ${r.runId}`, r.runId];
		case 'queued':
			return ['info', `${head} queued as run ${r.runId} behind a run still going (policy ${def.policy})`, r.runId];
		case 'duplicate':
			return ['info', `${head} was already submitted${r.runId ? ` (run ${r.runId})` : ''}: not run again`, r.runId];
		case 'skipped':
			return ['warn', `${head} skipped: ${r.reason}`];
		case 'refused':
			return ['error', `${head} refused: ${r.reason}`];
		case 'invalid':
			return ['error', `${head}: the workflow is invalid: ${r.error}`];
		case 'error':
			return ['error', `${head} could not be submitted: ${r.error}`];
	}
}

/** The Scheduler `qo serve` and the extension host: `createScheduler(...).start()`, `stop()` on the way out. */
export function createScheduler(opts: SchedulerOptions): Scheduler {
	return new Scheduler(opts);
}
