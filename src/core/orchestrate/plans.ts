// Plans on disk: `.quantum/plans/<yyyyMMdd-HHmmss>-<slug>.workflow.json`, an ordinary workflow file (edit it, run it
// with `qo run`), and next to it `<same>.analysis.json` with the goal, the analysis and where the plan came from.
// These are the orchestrator's own state, like .quantum/runs: written directly, not through a run's journal.
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import * as path from 'node:path';
import type { Engine } from '../engine';
import { StateError } from '../errors';
import { readJsonFileIfExists, writeFileAtomic } from '../state/atomicFs';
import type { RawWorkflow, Workflow } from '../workflow/schema';
import type { Analysis } from './types';

const PLAN_SUFFIX = '.workflow.json';
const ANALYSIS_SUFFIX = '.analysis.json';

/** What the sidecar records about a plan. */
export interface PlanMeta {
	goal: string;
	/** ISO time the plan was made. */
	createdAt: string;
	/** llm: the model planned it (`model`); templates: the offline rule-based fallback (`template`). */
	planner: 'llm' | 'templates';
	template?: string;
	model?: string;
	analysis: Analysis;
	/** A revised plan: the plan file it revises, the run that failed, the change as text and who approved it. */
	replanOf?: string;
	failedRun?: string;
	diff?: string;
	approvedBy?: string;
}

export interface SavedPlan {
	/** Absolute path of the workflow file. */
	file: string;
	analysisFile: string;
	meta: PlanMeta;
}

export interface PlanListing {
	file: string;
	name: string;
	meta?: PlanMeta;
}

export function plansDir(stateDir: string): string {
	return path.join(stateDir, 'plans');
}

/** A file-name-safe slug of a goal: lower case words joined by `-`, at most 40 characters. */
export function planSlug(goal: string): string {
	const slug = goal
		.toLowerCase()
		.replace(/[^a-z0-9]+/g, '-')
		.replace(/^-+|-+$/g, '')
		.slice(0, 40)
		.replace(/-+$/, '');
	return slug || 'goal';
}

function stamp(d: Date): string {
	const p = (n: number) => String(n).padStart(2, '0');
	return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

export interface SaveOptions {
	/** `$schema` written first in the file, so editors validate it (default: the workspace's own schemas/ file, if any). */
	schema?: string;
	now?: Date;
	/** The workspace, to find its schemas/workflow.schema.json when `schema` is not given. */
	workspace?: string;
}

/** Writes the plan (pretty JSON, `$schema` first) and its sidecar; a name already taken gets `-2`, `-3`... */
export async function savePlan(stateDir: string, workflow: RawWorkflow, meta: PlanMeta, opts: SaveOptions = {}): Promise<SavedPlan> {
	const dir = plansDir(stateDir);
	await mkdir(dir, { recursive: true });
	const base = `${stamp(opts.now ?? new Date())}-${planSlug(meta.goal)}`;
	let name = base;
	for (let k = 2; existsSync(path.join(dir, `${name}${PLAN_SUFFIX}`)); k++) name = `${base}-${k}`;
	const file = path.join(dir, `${name}${PLAN_SUFFIX}`);
	const analysisFile = path.join(dir, `${name}${ANALYSIS_SUFFIX}`);
	const schema = workflow.$schema ?? opts.schema ?? workspaceSchema(opts.workspace, dir);
	const { $schema: _ignored, ...rest } = workflow;
	const content = schema ? { $schema: schema, ...rest } : rest;
	await writeFileAtomic(file, `${JSON.stringify(content, null, 2)}\n`, { what: 'plan' });
	await writeFileAtomic(analysisFile, `${JSON.stringify(meta, null, 2)}\n`, { what: 'plan analysis' });
	return { file, analysisFile, meta };
}

/** The workspace's own schemas/workflow.schema.json, relative to the plans folder, when it has one. */
function workspaceSchema(workspace: string | undefined, dir: string): string | undefined {
	if (!workspace) return undefined;
	const schema = path.join(workspace, 'schemas', 'workflow.schema.json');
	return existsSync(schema) ? path.relative(dir, schema).split(path.sep).join('/') : undefined;
}

/** Saved plans, newest first (names start with their time). */
export async function listPlans(stateDir: string): Promise<PlanListing[]> {
	const dir = plansDir(stateDir);
	const names = await readdir(dir).catch(() => [] as string[]);
	const plans = names
		.filter((n) => n.endsWith(PLAN_SUFFIX))
		.map((n) => n.slice(0, -PLAN_SUFFIX.length))
		.sort()
		.reverse();
	return Promise.all(
		plans.map(async (name) => {
			const file = path.join(dir, `${name}${PLAN_SUFFIX}`);
			const meta = await readJsonFileIfExists<PlanMeta>(sidecarOf(file), 'plan analysis').catch(() => undefined);
			return { file, name, ...(meta ? { meta } : {}) };
		}),
	);
}

export function sidecarOf(planFile: string): string {
	return planFile.endsWith(PLAN_SUFFIX) ? `${planFile.slice(0, -PLAN_SUFFIX.length)}${ANALYSIS_SUFFIX}` : `${planFile}${ANALYSIS_SUFFIX}`;
}

/**
 * Loads and validates a saved plan: `which` is a path, a plan's name or a unique prefix of one (default: the newest).
 * StateError 'not-found' when nothing or more than one plan matches.
 */
export async function loadPlan(engine: Pick<Engine, 'load' | 'stateDir'>, which?: string): Promise<{ file: string; workflow: Workflow; meta?: PlanMeta }> {
	let file: string | undefined;
	if (which && (which.includes('/') || which.includes(path.sep) || which.endsWith('.json'))) {
		file = path.resolve(which);
	} else {
		const plans = await listPlans(engine.stateDir);
		const matches = which ? plans.filter((p) => p.name.startsWith(which)) : plans.slice(0, 1);
		if (matches.length === 0) throw new StateError('not-found', which ? `no saved plan named ${which} in ${plansDir(engine.stateDir)}` : `no saved plans in ${plansDir(engine.stateDir)}`);
		if (matches.length > 1) throw new StateError('not-found', `${which} names ${matches.length} plans: ${matches.slice(0, 5).map((p) => p.name).join(', ')}`);
		file = matches[0].file;
	}
	const workflow = await engine.load(file);
	const meta = await readJsonFileIfExists<PlanMeta>(sidecarOf(file), 'plan analysis');
	return { file, workflow, ...(meta ? { meta } : {}) };
}
