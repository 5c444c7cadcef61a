// The shapes "orchestrate a goal" passes around: the analysis of a goal, the workspace facts it rests on, agents.
import { z } from 'zod';

export const INTENTS = ['create', 'modify', 'analyze', 'fix', 'deploy', 'manage'] as const;
export type Intent = (typeof INTENTS)[number];

export const COMPLEXITY_LEVELS = ['low', 'medium', 'high'] as const;
export type ComplexityLevel = (typeof COMPLEXITY_LEVELS)[number];

/** What can go wrong; `unverified`: nothing in the project can check the result (no test script). */
export const RISK_KINDS = ['delete', 'deploy', 'git-push', 'secrets', 'many-files', 'dependencies', 'database', 'unverified', 'other'] as const;
export type RiskKind = (typeof RISK_KINDS)[number];

/** The project checks a plan can run; each maps to a command line in the workspace (`npm test`, `make lint`). */
export const CHECK_KINDS = ['lint', 'typecheck', 'build', 'test'] as const;
export type CheckKind = (typeof CHECK_KINDS)[number];

/**
 * The judgement part of an analysis: what the rule-based analyser works out and what the LLM analyser is asked for
 * (validated with this schema, invalid answers sent back).
 */
export const analysisJudgementSchema = z.object({
	intent: z.enum(INTENTS).describe('create: new things; modify: change existing code; analyze: read and report; fix: make something broken work; deploy: release or publish; manage: run, install, clean, git housekeeping.'),
	complexity: z.object({
		level: z.enum(COMPLEXITY_LEVELS),
		reasons: z.array(z.string().min(1)).min(1).describe('Why this level, one short sentence each.'),
	}),
	risks: z
		.array(z.object({ kind: z.enum(RISK_KINDS), description: z.string().min(1) }))
		.describe('What could do harm or go unnoticed; empty when nothing stands out.'),
	successCriteria: z.array(z.string().min(1)).min(1).describe('How to tell the goal is reached, each checkable.'),
});
export type AnalysisJudgement = z.infer<typeof analysisJudgementSchema>;

/** What the analyser found in the workspace, cheaply (a bounded walk; node_modules, .git, .quantum and .gitignore'd names skipped). */
export interface WorkspaceFacts {
	/** Existing files the goal names, or whose names hold one of its words; workspace-relative, `/` separators. */
	files: string[];
	/** Paths the goal names that do not exist (something to create, or a typo). */
	missing: string[];
	/** The project's own checks, by kind: the command line that runs each (`npm test`, `npm run lint`, `make build`). */
	checks: Partial<Record<CheckKind, string>>;
	/** The project's deploy/release/publish command, if it has one. */
	deploy?: string;
	/** npm, yarn or pnpm (from the lock file), when there is a package.json. */
	packageManager?: 'npm' | 'yarn' | 'pnpm';
	/** Languages by number of files, most first. */
	languages: string[];
	/** The workspace is (inside) a git repository. */
	git: boolean;
	/** Files and folders looked at; the walk stops at a bound and says so. */
	scanned: number;
	truncated: boolean;
}

export interface Analysis extends AnalysisJudgement {
	goal: string;
	facts: WorkspaceFacts;
	/** rules: the offline rule-based analyser; llm: the model (`model`) judged, from the same facts. */
	source: 'rules' | 'llm';
	model?: string;
}

/** An agent a plan may assign work to (the agent registry's view of it). */
export interface AgentInfo {
	name: string;
	description: string;
	capabilities: string[];
}
