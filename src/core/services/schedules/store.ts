// `.quantum/schedules.json`: per schedule, the last slot dealt with (fired, skipped or reported missed) and the last
// missed-runs report, so a restart knows which slots passed while nothing was running. Written atomically.
import { mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { describeError } from '../../errors';
import { readJsonFileIfExists, writeJsonAtomic } from '../../state/atomicFs';

export const SCHEDULES_FILE = 'schedules.json';

/** Slots of a schedule that passed while nothing ran them: counted and reported, never run. */
export interface MissedRuns {
	name: string;
	/** How many slots were missed (at least this many when `capped`). */
	count: number;
	capped?: boolean;
	/** ISO times of the first and last missed slot. */
	first: string;
	last: string;
	/** Why: the orchestrator was not running, or the clock jumped (the machine slept). */
	reason: string;
	/** When it was reported; absent for slots not reported yet (seen by `qo schedules` while nothing runs them). */
	reportedAt?: string;
}

export interface ScheduleRecord {
	/** The expression and zone the slots below belong to; a changed one starts afresh. */
	cron: string;
	timezone?: string;
	/** When this schedule was first seen (the baseline for missed slots before any slot was dealt with). */
	since: string;
	/** The last slot fired, skipped or reported missed: no slot at or before it ever runs. */
	lastSlot?: string;
	/** The last slot fired, and what the dispatcher said. */
	lastFired?: { slot: string; outcome: string; runId?: string; message?: string };
	missed?: MissedRuns;
}

interface SchedulesFile {
	version: 1;
	schedules: Record<string, ScheduleRecord>;
}

export class ScheduleStore {
	private records = new Map<string, ScheduleRecord>();
	private saving: Promise<void> = Promise.resolve();

	constructor(private readonly stateDir: string) {}

	get file(): string {
		return path.join(this.stateDir, SCHEDULES_FILE);
	}

	/** Reads the file; a damaged one gives a warning and an empty store (missed slots before it are not reported). */
	async load(): Promise<string[]> {
		this.records.clear();
		try {
			const data = await readJsonFileIfExists<SchedulesFile>(this.file, 'schedule state');
			if (data?.version === 1 && data.schedules && typeof data.schedules === 'object') {
				for (const [name, r] of Object.entries(data.schedules)) if (r && typeof r.cron === 'string' && typeof r.since === 'string') this.records.set(name, r);
			}
			return [];
		} catch (err) {
			return [`${describeError(err)}; starting afresh (slots missed before now are not reported)`];
		}
	}

	get(name: string): ScheduleRecord | undefined {
		return this.records.get(name);
	}

	set(name: string, record: ScheduleRecord): void {
		this.records.set(name, record);
	}

	/** Writes the file (one write at a time, in order). */
	save(): Promise<void> {
		const snapshot: SchedulesFile = { version: 1, schedules: Object.fromEntries([...this.records].sort(([a], [b]) => a.localeCompare(b))) };
		this.saving = this.saving.then(async () => {
			await mkdir(this.stateDir, { recursive: true });
			await writeJsonAtomic(this.file, snapshot, 'schedule state');
		});
		const done = this.saving;
		this.saving = this.saving.catch(() => undefined);
		return done;
	}
}
