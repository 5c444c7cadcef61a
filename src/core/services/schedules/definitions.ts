// Where schedules come from: the host's settings (`{ name, cron, workflow, timezone?, policy? }`) and the
// `settings.schedule` of workflow files found in the workspace. Each bad one becomes a located ScheduleError.
import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { z } from 'zod';
import { ScheduleError, type ErrorLocation } from '../../errors';
import { compileGlob } from '../../sandbox/glob';
import { LineIndex, locatePaths, type PathKey } from '../../workflow/jsonLocation';
import { SCHEDULE_POLICIES, scheduleSchema, type SchedulePolicy } from '../../workflow/schema';
import { parseCron, type CronSpec } from './cron';

/** Workflow files searched for `settings.schedule` unless the host says otherwise. */
export const DEFAULT_SCHEDULE_FILES: readonly string[] = ['**/*.workflow.json'];
/** Folders never searched: dependencies, git's and our own state. */
const SKIPPED_DIRS: ReadonlySet<string> = new Set(['node_modules', '.git', '.quantum']);
/** The walk stops after this many folder entries (a huge tree must not stall the host). */
const MAX_ENTRIES = 200_000;
/** Workflow files larger than this are not read for a schedule. */
const MAX_FILE_BYTES = 5_000_000;
export const DEFAULT_POLICY: SchedulePolicy = 'skip';

/** A schedule given in the host's settings. */
export const scheduleOptionSchema = z
	.object({
		name: z.string().min(1),
		cron: z.string().min(1),
		workflow: z.string().min(1).describe('Workflow file, relative to the workspace folder.'),
		timezone: z.string().min(1).optional(),
		policy: z.enum(SCHEDULE_POLICIES).optional(),
	})
	.strict();
export type ScheduleOption = z.infer<typeof scheduleOptionSchema>;

/** A valid schedule, ready to arm. */
export interface ScheduleDefinition {
	name: string;
	cron: CronSpec;
	policy: SchedulePolicy;
	/** Absolute path of the workflow file it runs. */
	workflowFile: string;
	/** Where it was defined, for people: `nightly.workflow.json:5:17` or `quantum.schedules[0]`. */
	source: string;
	kind: 'settings' | 'workflow';
}

export interface Discovered {
	schedules: ScheduleDefinition[];
	problems: ScheduleError[];
	/** Notes for the log (a walk cut short). */
	notes: string[];
}

export interface DiscoverOptions {
	workspace: string;
	/** Schedules from the host's settings (validated here). */
	options?: readonly unknown[];
	/** How the settings are named in messages (default `schedules`, e.g. `quantum.schedules`). */
	optionsLabel?: string;
	/** Workspace-relative files or globs of workflow files (default DEFAULT_SCHEDULE_FILES). */
	files?: readonly string[];
	/** For "never matches" checks; default Date.now(). */
	now?: number;
}

const toPosix = (p: string): string => p.split(path.sep).join('/');

/** Finds every schedule; settings first, then workflow files in path order. A name used twice keeps the first. */
export async function discoverSchedules(opts: DiscoverOptions): Promise<Discovered> {
	const out: Discovered = { schedules: [], problems: [], notes: [] };
	const label = opts.optionsLabel ?? 'schedules';
	const now = opts.now ?? Date.now();
	const byName = new Map<string, ScheduleDefinition>();
	const add = (def: ScheduleDefinition, location: ErrorLocation): void => {
		const first = byName.get(def.name);
		if (first) {
			out.problems.push(new ScheduleError('duplicate', `schedule name '${def.name}' is already used by ${first.source}: give one of them another name`, location, def.name));
			return;
		}
		byName.set(def.name, def);
		out.schedules.push(def);
	};

	for (const [i, raw] of (opts.options ?? []).entries()) {
		const at = `${label}[${i}]`;
		const parsed = scheduleOptionSchema.safeParse(raw);
		if (!parsed.success) {
			const issue = parsed.error.issues[0];
			const name = typeof (raw as { name?: unknown })?.name === 'string' ? (raw as { name: string }).name : undefined;
			const where = [at, ...issue.path.map(String)].join('.').replace(/\.(\d+)(?=\.|$)/g, '[$1]');
			out.problems.push(new ScheduleError('definition', `${name ? `schedule '${name}': ` : ''}${issue.message} (a schedule is { name, cron, workflow, timezone?, policy? })`, { path: where }, name));
			continue;
		}
		const o = parsed.data;
		const workflowFile = path.resolve(opts.workspace, o.workflow);
		try {
			const cron = parseCron(o.cron, { timezone: o.timezone, schedule: o.name, location: { path: `${at}.cron` }, timezoneLocation: { path: `${at}.timezone` }, reference: now });
			if (!(await stat(workflowFile).then((st) => st.isFile(), () => false))) {
				throw new ScheduleError('workflow', `schedule '${o.name}': the workflow file ${o.workflow} does not exist (paths are relative to the workspace folder)`, { path: `${at}.workflow` }, o.name);
			}
			add({ name: o.name, cron, policy: o.policy ?? DEFAULT_POLICY, workflowFile, source: at, kind: 'settings' }, { path: at });
		} catch (err) {
			if (!ScheduleError.is(err)) throw err;
			out.problems.push(err);
		}
	}

	for (const file of await findWorkflowFiles(opts.workspace, opts.files ?? DEFAULT_SCHEDULE_FILES, out.notes)) {
		const found = await scheduleInFile(opts.workspace, file, now);
		if (!found) continue;
		if ('error' in found) out.problems.push(found.error);
		else add(found.def, found.location);
	}
	return out;
}

/** The schedule a workflow file declares, a located problem with it, or undefined when it declares none. */
async function scheduleInFile(workspace: string, file: string, now: number): Promise<{ def: ScheduleDefinition; location: ErrorLocation } | { error: ScheduleError } | undefined> {
	const rel = toPosix(path.relative(workspace, file));
	let text: string;
	let data: unknown;
	try {
		if ((await stat(file)).size > MAX_FILE_BYTES) return undefined;
		text = await readFile(file, 'utf8');
		data = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
	} catch {
		// Not readable or not JSON: not a schedule (qo validate and the editor say what is wrong with the file).
		return undefined;
	}
	const settings = (data as { settings?: unknown })?.settings;
	const raw = settings && typeof settings === 'object' ? (settings as { schedule?: unknown }).schedule : undefined;
	if (raw === undefined) return undefined;
	const index = new LineIndex(text);
	const at = (keys: PathKey[]): ErrorLocation => {
		const [offset] = locatePaths(text, [{ keys }]);
		return { file: rel, ...index.at(Math.max(0, offset)), path: keys.join('.') };
	};
	const wfName = (data as { name?: unknown }).name;
	const name = typeof wfName === 'string' && wfName.trim() ? wfName : path.basename(file).replace(/\.workflow\.json$|\.json$/, '');
	const parsed = scheduleSchema.safeParse(raw);
	if (!parsed.success) {
		return {
			error: new ScheduleError(
				'definition',
				`schedule '${name}': a schedule is a cron expression such as "0 3 * * *", or { "cron": "...", "timezone"?: "Europe/Paris", "policy"?: "skip" | "queue" | "cancel-running" }`,
				at(['settings', 'schedule']),
				name,
			),
		};
	}
	const spec = typeof parsed.data === 'string' ? { cron: parsed.data } : parsed.data;
	const cronKeys: PathKey[] = typeof parsed.data === 'string' ? ['settings', 'schedule'] : ['settings', 'schedule', 'cron'];
	try {
		const cron = parseCron(spec.cron, { timezone: spec.timezone, schedule: name, location: at(cronKeys), timezoneLocation: at(['settings', 'schedule', 'timezone']), reference: now });
		const location = at(['settings', 'schedule']);
		const source = `${rel}:${location.line}:${location.column}`;
		return { def: { name, cron, policy: spec.policy ?? DEFAULT_POLICY, workflowFile: file, source, kind: 'workflow' }, location };
	} catch (err) {
		if (!ScheduleError.is(err)) throw err;
		return { error: err };
	}
}

/** Absolute paths of the workspace files matching `patterns` (plain paths or globs), sorted; symlinks not followed. */
export async function findWorkflowFiles(workspace: string, patterns: readonly string[], notes: string[] = []): Promise<string[]> {
	const found = new Set<string>();
	const globs = [];
	for (const p of patterns) {
		const rel = toPosix(p).replace(/^\.\//, '');
		if (/[*?]/.test(rel)) globs.push(compileGlob(rel));
		else {
			const abs = path.resolve(workspace, rel);
			if (await stat(abs).then((s) => s.isFile(), () => false)) found.add(abs);
		}
	}
	if (globs.length) {
		const stack = [workspace];
		let entries = 0;
		while (stack.length) {
			const dir = stack.pop() as string;
			let list: Dirent[];
			try {
				list = await readdir(dir, { withFileTypes: true });
			} catch {
				continue;
			}
			entries += list.length;
			if (entries > MAX_ENTRIES) {
				notes.push(`stopped looking for scheduled workflows after ${MAX_ENTRIES.toLocaleString('en-US')} entries; list the files in the schedule files setting`);
				break;
			}
			for (const e of list) {
				const abs = path.join(dir, e.name);
				if (e.isDirectory()) {
					if (!SKIPPED_DIRS.has(e.name)) stack.push(abs);
				} else if (e.isFile()) {
					const rel = toPosix(path.relative(workspace, abs));
					if (globs.some((g) => g.test(rel))) found.add(abs);
				}
			}
		}
	}
	return [...found].sort();
}
