// Cron expressions through croner, as pure time arithmetic: the next slot after a time and the slots between two
// times. croner's own timers are never used (no callback is given): the Scheduler arms its own, through the Clock.
import { Cron } from 'croner';
import { ScheduleError, type ErrorLocation } from '../../errors';

/** Slots counted one by one at most this many times; beyond it a count says "at least" (capped). */
export const COUNT_CAP = 10_000;

/** The slots of a schedule in a time span. */
export interface SlotSpan {
	count: number;
	/** True when there were more than `count` slots (counting stopped at the cap); `last` is still exact. */
	capped: boolean;
	first?: number;
	last?: number;
}

export interface CronSpec {
	readonly expression: string;
	readonly timezone?: string;
	/** The first slot strictly after `after` (ms since the epoch), or undefined when there is none. */
	next(after: number): number | undefined;
	/** The last slot at or before `at`. */
	previous(at: number): number | undefined;
	/** The slots in (after, upTo]: counted up to `cap`, first and last exact. */
	between(after: number, upTo: number, cap?: number): SlotSpan;
}

/** Whether `zone` is an IANA time zone this runtime knows. */
export function isTimeZone(zone: string): boolean {
	try {
		new Intl.DateTimeFormat('en-US', { timeZone: zone });
		return true;
	} catch {
		return false;
	}
}

/**
 * Parses a 5-field cron expression (or 6 with seconds first; nicknames such as @daily) read in `timezone` (default:
 * the machine's). Throws ScheduleError at `location`, naming the schedule, for a bad expression, an unknown zone, or
 * an expression that never matches a date (30 February) after `reference`.
 */
export function parseCron(expression: string, opts: { timezone?: string; schedule: string; location?: ErrorLocation; timezoneLocation?: ErrorLocation; reference?: number }): CronSpec {
	const { timezone, schedule } = opts;
	if (timezone !== undefined && !isTimeZone(timezone)) {
		throw new ScheduleError('timezone', `schedule '${schedule}': unknown time zone '${timezone}' (use an IANA name such as Europe/Paris or UTC)`, opts.timezoneLocation ?? opts.location, schedule);
	}
	let cron: Cron;
	try {
		cron = new Cron(expression.trim(), { mode: '5-or-6-parts', ...(timezone ? { timezone } : {}) });
	} catch (err) {
		const reason = (err instanceof Error ? err.message : String(err)).replace(/^Cron(Pattern|Date)?:\s*/i, '');
		throw new ScheduleError('cron', `schedule '${schedule}': invalid cron expression '${expression}': ${reason} (5 fields: minute hour day-of-month month day-of-week, or 6 with seconds first)`, opts.location, schedule);
	}
	const next = (after: number): number | undefined => cron.nextRun(new Date(after))?.getTime();
	if (next(opts.reference ?? Date.now()) === undefined) {
		throw new ScheduleError('cron', `schedule '${schedule}': the cron expression '${expression}' never matches a date`, opts.location, schedule);
	}
	const previous = (at: number): number | undefined => cron.previousRuns(1, new Date(at + 1))[0]?.getTime();
	return {
		expression,
		...(timezone ? { timezone } : {}),
		next,
		previous,
		between(after, upTo, cap = COUNT_CAP) {
			const span: SlotSpan = { count: 0, capped: false };
			let t = next(after);
			while (t !== undefined && t <= upTo) {
				if (span.count === cap) {
					span.capped = true;
					span.last = previous(upTo);
					break;
				}
				span.count++;
				span.first ??= t;
				span.last = t;
				t = next(t);
			}
			return span;
		},
	};
}
