// Analysing a goal: intent, complexity, risks and success criteria — by rules (the offline fallback) or by the model,
// both from the same workspace facts.
import type { LlmClient } from '../services/llm/client';
import { completeStructured } from '../services/llm/structured';
import {
	analysisJudgementSchema,
	type Analysis,
	type AnalysisJudgement,
	type CheckKind,
	type ComplexityLevel,
	type Intent,
	type RiskKind,
	type WorkspaceFacts,
} from './types';

/** Any deploy word wins: a goal that deploys is a deploy whatever else it does ("release notes" is not one). */
const DEPLOY = /\b(deploy\w*|publish\w*|ship it|go live|to (production|prod|staging)|roll ?out)\b|^\s*(cut |make |prepare |do )?(an? |the )?(new )?release\b|\brelease (v?\d|version|it\b|the )/;
const FIX = /\b(fix\w*|repair\w*|debug\w*|failing|fails|broken|bugs?|crash\w*|regressions?|not working|doesn'?t work)\b/;
const ANALYZE_FIRST = /^\s*(please\s+)?(analy[sz]e|review|audit|inspect|explain|investigate|assess|evaluate|measure|summari[sz]e|find out|look into|check (why|whether|if|how)|why|what|how (many|much|does))\b/;

/** Otherwise the earliest of these decides; ties go to the earlier line. */
const INTENT_WORDS: [Intent, RegExp][] = [
	['analyze', /\b(analy[sz]\w*|review\w*|audit\w*|inspect\w*|explain\w*|investigat\w*|assess\w*|evaluat\w*|report on|summari[sz]e)\b/],
	['manage', /\b(run|execute|install|upgrade|bump|configure|clean\w*|tidy|organi[sz]e|manage|commit|branch|tag|merge|back ?up|format|lint|release)\b/],
	['modify', /\b(modify|change|update|refactor\w*|rename|move|improve|optimi[sz]e|extend|replace|convert|migrate|rewrite|document\w*|remove|delete)\b/],
	['create', /\b(create|add|new|generate|write|scaffold|implement|build|make|set ?up)\b/],
];
/** "add X to Y", "implement X in Y": a change to something that exists. */
const ADD_TO = /\b(add|implement|write|put|insert)\b.+\b(to|into|in)\s+(the|an?|our|my|this)?\s*\S+/;

const RISK_RULES: { kind: RiskKind; re: RegExp; description: string }[] = [
	{ kind: 'delete', re: /\b(delete\w*|remove\w*|drop|purge|wipe|erase|rm|clean ?up|prune|truncate)\b/, description: 'it deletes or removes things: deletions ask first, and rollback restores workspace files only' },
	{ kind: 'deploy', re: /\b(deploy\w*|release|publish\w*|ship|production|prod|go live|roll ?out)\b/, description: 'it reaches beyond the workspace (deploy, release, publish), which rollback cannot undo: those steps ask first' },
	{ kind: 'git-push', re: /\b(push\w*|force[- ]push|merge (in)?to (main|master)|rebase|reset --hard)\b/, description: 'it changes shared git history (push, merge, rebase), which rollback cannot undo' },
	{ kind: 'secrets', re: /\b(secrets?|passwords?|api[ _-]?keys?|access tokens?|tokens|credentials?|private keys?|\.env|ssh keys?|certificates?)\b/, description: 'it touches secrets: keep them out of files, logs and prompts' },
	{ kind: 'many-files', re: /\b(all|every|entire|whole|across|everywhere|codebase|project[- ]wide|repo(sitory)?[- ]wide|globally|bulk)\b/, description: 'it may change many files at once: review the diff before keeping it' },
	{ kind: 'dependencies', re: /\b(upgrade|bump|install|uninstall|dependenc(y|ies)|packages?)\b/, description: 'it changes dependencies: lock files and installed packages change' },
	{ kind: 'database', re: /\b(database|db|migrations?|drop table|sql)\b/, description: 'it touches a database or its schema, which rollback does not reach' },
];

/** Verbs that are a separate piece of work (not "test" or "build": mostly nouns in goals). */
const ACTION_VERBS = /\b(add|create|write|implement|fix|update|change|refactor|rename|move|remove|delete|document|review|deploy|release|publish|run|install|upgrade|migrate|generate|clean|commit|push)(?:e?s|e?d|ing)?\b/g;
const STRUCTURAL = /\b(refactor\w*|architecture|redesign|migrat\w*|rewrite|overhaul|restructur\w*|re-?architect)\b/;

/** The rule-based analysis: no model, no network; the plan it leads to says it came from the offline fallback. */
export function analyseByRules(goal: string, facts: WorkspaceFacts): Analysis {
	const text = goal.toLowerCase();
	const intent = intentOf(text);
	const risks = risksOf(text, intent, facts);
	return { goal, intent, complexity: complexityOf(text, intent, facts, risks), risks, successCriteria: criteriaOf(text, intent, facts), facts, source: 'rules' };
}

export function intentOf(text: string): Intent {
	const t = text.toLowerCase();
	if (DEPLOY.test(t)) return 'deploy';
	if (ANALYZE_FIRST.test(t)) return 'analyze';
	if (FIX.test(t)) return 'fix';
	let best: Intent = 'modify';
	let at = Infinity;
	for (const [intent, re] of INTENT_WORDS) {
		const m = re.exec(t);
		if (m && m.index < at) {
			at = m.index;
			best = intent;
		}
	}
	if (best === 'create' && ADD_TO.test(t) && !/^\s*(create|generate|scaffold|new)\b/.test(t)) return 'modify';
	return best;
}

function risksOf(text: string, intent: Intent, facts: WorkspaceFacts): Analysis['risks'] {
	const risks: Analysis['risks'] = [];
	for (const rule of RISK_RULES) if (rule.re.test(text)) risks.push({ kind: rule.kind, description: rule.description });
	if (!risks.some((r) => r.kind === 'many-files') && facts.files.length >= 5) {
		risks.push({ kind: 'many-files', description: `it names ${facts.files.length} files: review the diff before keeping it` });
	}
	if ((intent === 'create' || intent === 'modify' || intent === 'fix') && !facts.checks.test) {
		risks.push({ kind: 'unverified', description: 'the project has no test command (package.json script, Makefile target or pytest): the result cannot be checked automatically' });
	}
	return risks;
}

function complexityOf(text: string, intent: Intent, facts: WorkspaceFacts, risks: Analysis['risks']): Analysis['complexity'] {
	const reasons: string[] = [];
	let points = 0;
	const actions = [...new Set([...text.matchAll(ACTION_VERBS)].map((m) => m[1]))];
	if (actions.length >= 3) {
		points += 2;
		reasons.push(`${actions.length} separate actions (${actions.join(', ')})`);
	} else if (actions.length === 2) {
		points += 1;
		reasons.push(`two actions (${actions.join(' and ')})`);
	}
	if (facts.files.length >= 5 || risks.some((r) => r.kind === 'many-files')) {
		points += 2;
		reasons.push('a broad scope: many files may change');
	} else if (facts.files.length >= 2) {
		points += 1;
		reasons.push(`it involves ${facts.files.length} files`);
	}
	if (STRUCTURAL.test(text)) {
		points += 2;
		reasons.push('a structural change (refactor, migration, rewrite)');
	}
	if (risks.some((r) => r.kind === 'deploy' || r.kind === 'database' || r.kind === 'git-push')) {
		points += 1;
		reasons.push('effects outside the workspace that rollback cannot undo');
	}
	if (text.split(/\s+/).length > 30) {
		points += 1;
		reasons.push('a long, detailed request');
	}
	if (intent === 'fix' && facts.files.length === 0 && Object.keys(facts.checks).length === 0) {
		points += 1;
		reasons.push('the cause is not located: no file named and no check to reproduce it');
	}
	const level: ComplexityLevel = points >= 4 ? 'high' : points >= 2 ? 'medium' : 'low';
	if (reasons.length === 0) reasons.push(intent === 'analyze' ? 'read-only: nothing in the workspace changes' : 'a single, focused change');
	return { level, reasons };
}

/** Check kinds a goal mentions ("the failing tests", "lint errors"); `checks`/`CI` mean all of them. */
export function mentionedChecks(text: string): CheckKind[] {
	const t = text.toLowerCase();
	if (/\b(checks|ci|pipeline|everything)\b/.test(t)) return ['lint', 'typecheck', 'build', 'test'];
	const kinds: CheckKind[] = [];
	if (/\b(lint\w*|eslint|ruff|style errors?)\b/.test(t)) kinds.push('lint');
	if (/\b(type ?check\w*|type errors?|tsc|typescript errors?|types)\b/.test(t)) kinds.push('typecheck');
	if (/\b(build|compil\w*)\b/.test(t)) kinds.push('build');
	if (/\b(tests?|specs?|unit tests?|test suite)\b/.test(t)) kinds.push('test');
	return kinds;
}

function criteriaOf(text: string, intent: Intent, facts: WorkspaceFacts): string[] {
	const out: string[] = [];
	const passes = (kind: CheckKind) => facts.checks[kind] && out.push(`\`${facts.checks[kind]}\` passes`);
	const subject = facts.files.length ? facts.files.slice(0, 3).join(', ') : 'the code the goal names';
	switch (intent) {
		case 'fix': {
			const kinds = mentionedChecks(text);
			if (kinds.length) kinds.forEach(passes);
			if (out.length === 0) out.push('the problem the goal describes no longer occurs');
			break;
		}
		case 'analyze':
			out.push('a report answers the goal, naming the files and lines it rests on');
			out.push('nothing in the workspace changes');
			break;
		case 'deploy':
			(['lint', 'typecheck', 'test', 'build'] as const).forEach(passes);
			out.push(facts.deploy ? `\`${facts.deploy}\` succeeds after an explicit approval` : 'the release is made only after an explicit approval');
			break;
		case 'manage':
			out.push('the requested commands finish successfully');
			break;
		default:
			if (/\btests?\b/.test(text)) out.push(`new tests cover ${subject}`);
			for (const m of facts.missing) out.push(`${m} exists`);
			out.push(`the change does what the goal asks: ${text.trim()}`);
			(['typecheck', 'lint', 'test'] as const).forEach(passes);
	}
	return [...new Set(out)];
}

export interface LlmAnalyseOptions {
	signal: AbortSignal;
	/** Answers tried in all (the first and corrections); default 3. */
	attempts?: number;
}

const ANALYST_SYSTEM = [
	'You analyse a software goal for Quantum Orchestrator, which turns goals into workflows run in a workspace.',
	'Judge its intent, complexity (with reasons), risks (deletions, deploys, git pushes, secrets, many files, dependencies, databases; "unverified" when nothing can check the result) and checkable success criteria.',
	'The workspace facts come from a scan of the workspace: rely on them (files that exist, the project checks and their commands).',
].join('\n');

/** The model's analysis (role 'planner'), validated with the same schema as the rules' and sent back until valid. */
export async function analyseWithLlm(llm: LlmClient, goal: string, facts: WorkspaceFacts, opts: LlmAnalyseOptions): Promise<Analysis> {
	const model = llm.modelFor?.('planner') ?? llm.model;
	const prompt = `Goal: ${goal}\n\nWorkspace facts:\n${JSON.stringify(facts, null, 2)}`;
	const result = await completeStructured<AnalysisJudgement>(llm, { model, system: ANALYST_SYSTEM, prompt }, analysisJudgementSchema, {
		signal: opts.signal,
		attempts: opts.attempts,
		label: 'analysis',
	});
	const { intent, complexity, risks, successCriteria } = result.value;
	return { goal, intent, complexity, risks, successCriteria, facts, source: 'llm', model: result.model };
}
