// The template planner (offline fallback): a sensible workflow for common goals, from the analysis and the
// workspace facts alone. The first template whose `build` returns steps wins; `generic` always does.
import type { HandlerRegistry } from '../handlers/registry';
import type { RawWorkflow } from '../workflow/schema';
import { mentionedChecks } from './analyse';
import {
	checkStep,
	diffStep,
	escapeTemplates,
	hasAgents,
	hasCheck,
	ids,
	isTestFile,
	locateStep,
	readSteps,
	searchStep,
	taskStep,
	verifySteps,
	uniqueId,
	type Step,
	type StepContext,
} from './steps';
import type { Analysis, CheckKind } from './types';

interface TemplateInput extends StepContext {
	goal: string;
	/** The goal in lower case. */
	text: string;
	analysis: Analysis;
	/** The goal, safe to put inside a step's parameters (`${` escaped). */
	literal: string;
}

interface Template {
	id: string;
	/** What the plan does, for its description. */
	summary: string;
	build(t: TemplateInput): Step[] | undefined;
}

const TESTS_AS_WORK = /^\s*(please\s+)?(add|write|create|generate|increase|improve|extend)\s+(some\s+|more\s+|missing\s+|unit\s+|integration\s+)*(tests?|specs?|test coverage|coverage)\b/;
const WITH_TESTS = /\b(and|with|plus|including)\b[^.]*\b(tests?|specs?)\b/;
const DOCS = /\b(document\w*|documentation|docs|jsdoc|docstrings?|readme|comments?)\b/;
const REFACTOR = /\b(rename|refactor\w*|restructure|extract|reorgani[sz]e|move|split)\b/;
const RENAME = /\brename\s+[`'"]?([\w.$-]+?)[`'"]?\s+(?:to|as|into)\s+[`'"]?([\w.$-]+?)[`'"]?(?=[\s,.;]|$)/i;
const CONTENT = /\b(?:with|containing|saying|that says)\s+(?:the\s+)?(?:content|text)?\s*["“]([^"”]*)["”]/i;

/** Files the goal names, sources before tests (tests last: the tester reads them for the style). */
function namedFiles(t: TemplateInput): { sources: string[]; tests: string[] } {
	const files = t.facts.files;
	return { sources: files.filter((f) => !isTestFile(f)), tests: files.filter(isTestFile) };
}

/** Reads of the named files, or a search for the goal's keywords when it names none; plus how to cite them in a prompt. */
function locate(t: TemplateInput): { steps: Step[]; note: string } {
	if (t.facts.files.length) return { steps: readSteps(t, t.facts.files), note: '' };
	const step = locateStep(t, t.goal);
	if (!step) return { steps: [], note: '' };
	return { steps: [step], note: `\n\nFiles that mention it (from a search):\n\${steps.${step.id}.output.stdout}` };
}

const deploy: Template = {
	id: 'deploy',
	summary: 'run every check, then deploy only after an explicit approval',
	build(t) {
		if (t.analysis.intent !== 'deploy') return undefined;
		const checks = (['lint', 'typecheck', 'test'] as const).map((k) => checkStep(t, k)).filter((s): s is Step => !!s);
		const build = checkStep(t, 'build', { dependencies: ids(checks) });
		const gate = build ? [build.id] : ids(checks);
		const status = t.facts.git
			? { id: uniqueId(t, 'status'), type: 'git', operation: 'status', description: 'What is not committed yet', parameters: {}, dependencies: gate }
			: undefined;
		const before = status ? [status.id] : gate;
		const steps: Step[] = [...checks, ...(build ? [build] : []), ...(status ? [status] : [])];
		let deployId: string;
		if (t.facts.deploy) {
			deployId = uniqueId(t, 'deploy');
			steps.push({ id: deployId, type: 'exec', operation: 'run', description: `Deploy (${t.facts.deploy})`, parameters: { command: t.facts.deploy }, requires_approval: true, dependencies: before });
		} else {
			const task = taskStep(t, 'deploy', 'releaser', `${t.literal}\n\nThe checks passed. Carry out the release or deploy this goal asks for; the project has no deploy script.`, { dependencies: before, requiresApproval: true, successCriteria: t.analysis.successCriteria, description: 'Deploy (no deploy script: a task)' });
			deployId = task.id;
			steps.push(task);
		}
		if (t.facts.git && /\bpush\w*\b/.test(t.text)) {
			steps.push({ id: uniqueId(t, 'push'), type: 'exec', operation: 'run', description: 'Push commits and tags', parameters: { command: 'git push --follow-tags' }, requires_approval: true, dependencies: [deployId] });
		}
		return steps;
	},
};

const fixChecks: Template = {
	id: 'fix-checks',
	summary: 'run the failing checks, give their output to a coder, run them again',
	build(t) {
		if (t.analysis.intent !== 'fix') return undefined;
		const kinds = mentionedChecks(t.text).filter((k) => t.facts.checks[k]);
		if (kinds.length === 0) return undefined;
		const runs = kinds.map((k) => checkStep(t, k, { capture: true, id: `check_${k}` }) as Step);
		const outputs = runs
			.map((s, i) => `\`${t.facts.checks[kinds[i]]}\` exited with \${steps.${s.id}.output.exit_code}:\n\${steps.${s.id}.output.stdout}\n\${steps.${s.id}.output.stderr}`)
			.join('\n\n');
		const fix = taskStep(t, 'fix', 'coder', `${t.literal}\n\nMake these checks pass by fixing the cause in the code, not by weakening, skipping or deleting checks. If a check already passes, leave it alone.\n\n${outputs}`, {
			files: t.facts.files,
			successCriteria: t.analysis.successCriteria,
			description: 'Fix what the checks report',
		});
		const verify = kinds.map((k) => checkStep(t, k, { dependencies: [fix.id], id: `verify_${k}` }) as Step);
		return [...runs, fix, ...verify];
	},
};

const runChecks: Template = {
	id: 'run-checks',
	summary: "run the project's own checks",
	build(t) {
		if (t.analysis.intent !== 'manage' || !/\b(run|execute|check)\b/.test(t.text)) return undefined;
		const kinds = mentionedChecks(t.text).filter((k) => hasCheck(t, k));
		if (kinds.length === 0) return undefined;
		const build = kinds.includes('build') ? checkStep(t, 'build') : undefined;
		const others = kinds.filter((k) => k !== 'build').map((k) => checkStep(t, k, { dependencies: build && k === 'test' ? [build.id] : undefined }) as Step);
		return [...(build ? [build] : []), ...others];
	},
};

const featureWithTests: Template = {
	id: 'feature-with-tests',
	summary: 'locate the code, implement the change, write tests for it, run them, review the diff',
	build(t) {
		const { intent } = t.analysis;
		if ((intent !== 'modify' && intent !== 'create') || !WITH_TESTS.test(t.text) || TESTS_AS_WORK.test(t.text)) return undefined;
		const found = locate(t);
		const implement = taskStep(t, 'implement', 'coder', `${t.literal}\n\nDo the implementation part only; the tests are written by a separate task after you.${found.note}`, {
			files: t.facts.files,
			successCriteria: t.analysis.successCriteria.filter((c) => !/\btests?\b/.test(c)),
			dependencies: ids(found.steps),
			description: 'Implement the change',
		});
		const tests = taskStep(t, 'write_tests', 'tester', `${t.literal}\n\nThe implementation is done. Write the tests this goal asks for, covering the new behaviour and its edge cases.`, {
			files: t.facts.files,
			dependencies: [implement.id],
			description: 'Write tests for the change',
		});
		const run = checkStep(t, 'test', { dependencies: [tests.id], id: 'run_tests' });
		const after = run ? [run.id] : [tests.id];
		const diff = diffStep(t, after);
		const review = taskStep(t, 'review', 'reviewer', `Review the change made for this goal: ${t.literal}${diff ? `\n\nThe diff:\n\${steps.${diff.id}.output}` : ''}`, {
			files: t.facts.files,
			dependencies: diff ? [diff.id] : after,
			description: 'Review the change',
		});
		return [...found.steps, implement, tests, ...(run ? [run] : []), ...(diff ? [diff] : []), review];
	},
};

const addTests: Template = {
	id: 'add-tests',
	summary: "read the code, have a tester write the tests, run the project's tests",
	build(t) {
		if (!TESTS_AS_WORK.test(t.text)) return undefined;
		const { sources, tests: existing } = namedFiles(t);
		const found = sources.length ? { steps: readSteps(t, sources), note: '' } : locate(t);
		const write = taskStep(t, 'write_tests', 'tester', `${t.literal}\n\nWrite the tests next to the project's existing ones, in their style; test behaviour, not implementation details.${found.note}`, {
			files: [...sources, ...existing],
			successCriteria: t.analysis.successCriteria,
			dependencies: ids(found.steps),
			description: 'Write the tests',
		});
		const run = checkStep(t, 'test', { dependencies: [write.id], id: 'run_tests' });
		return [...found.steps, write, ...(run ? [run] : [])];
	},
};

const documentCode: Template = {
	id: 'document',
	summary: 'read the code, have a writer document it, check the project still lints',
	build(t) {
		if (!DOCS.test(t.text) || (t.analysis.intent !== 'modify' && t.analysis.intent !== 'create')) return undefined;
		const found = locate(t);
		const doc = taskStep(t, 'document', 'writer', `${t.literal}\n\nDocument what the code does and why, for someone new to it; do not change behaviour.${found.note}`, {
			files: t.facts.files,
			successCriteria: t.analysis.successCriteria,
			dependencies: ids(found.steps),
			description: 'Write the documentation',
		});
		return [...found.steps, doc, ...verifySteps(t, [doc.id], ['lint'])];
	},
};

const refactor: Template = {
	id: 'refactor',
	summary: 'find every use, change them together, run the checks, review the diff',
	build(t) {
		if (!REFACTOR.test(t.text) || (t.analysis.intent !== 'modify' && t.analysis.intent !== 'create')) return undefined;
		const rename = RENAME.exec(t.goal);
		const found = rename ? { steps: [searchStep(t, rename[1])], note: '' } : locate(t);
		const search = rename ? `\n\nEvery use of ${rename[1]} (from a search):\n\${steps.${found.steps[0].id}.output.stdout}` : found.note;
		const change = taskStep(t, 'refactor', 'coder', `${t.literal}\n\nChange every place together so the project keeps working; behaviour stays the same.${search}`, {
			files: t.facts.files,
			successCriteria: t.analysis.successCriteria,
			dependencies: ids(found.steps),
			description: rename ? `Rename ${rename[1]} to ${rename[2]}` : 'Refactor',
		});
		const checks = verifySteps(t, [change.id], ['typecheck', 'build', 'test']);
		const diff = diffStep(t, checks.length ? ids(checks) : [change.id]);
		const review = taskStep(t, 'review', 'reviewer', `Review this refactoring for missed places and behaviour changes: ${t.literal}${diff ? `\n\nThe diff:\n\${steps.${diff.id}.output}` : ''}`, {
			dependencies: diff ? [diff.id] : checks.length ? ids(checks) : [change.id],
			description: 'Review the refactoring',
		});
		return [...found.steps, change, ...checks, ...(diff ? [diff] : []), review];
	},
};

const createFile: Template = {
	id: 'create',
	summary: 'create what the goal names, then run the checks',
	build(t) {
		if (t.analysis.intent !== 'create' || t.facts.missing.length === 0) return undefined;
		const content = CONTENT.exec(t.goal)?.[1];
		if (content !== undefined || /\bempty\b/.test(t.text)) {
			return t.facts.missing.map((path) => ({
				id: uniqueId(t, 'create'),
				type: 'file',
				operation: 'create',
				description: `Create ${path}`,
				parameters: { path, content: escapeTemplates(content ?? '') },
			}));
		}
		const make = taskStep(t, 'create', 'coder', `${t.literal}\n\nCreate: ${t.facts.missing.join(', ')}. Follow the conventions of the files around them.`, {
			successCriteria: t.analysis.successCriteria,
			description: `Create ${t.facts.missing.join(', ')}`,
		});
		return [make, ...verifySteps(t, [make.id])];
	},
};

const analyze: Template = {
	id: 'analyze',
	summary: 'run the checks for their output, read the code, write a report (changes nothing)',
	build(t) {
		if (t.analysis.intent !== 'analyze') return undefined;
		const kinds = (mentionedChecks(t.text).length ? mentionedChecks(t.text) : (['lint', 'typecheck', 'test'] as CheckKind[])).filter((k) => t.facts.checks[k]);
		const runs = kinds.map((k) => checkStep(t, k, { capture: true, id: `check_${k}` }) as Step);
		const found = locate(t);
		const evidence = runs.map((s, i) => `\`${t.facts.checks[kinds[i]]}\` exited with \${steps.${s.id}.output.exit_code}:\n\${steps.${s.id}.output.stdout}`).join('\n\n');
		const report = taskStep(t, 'report', 'reviewer', `${t.literal}\n\nAnswer with a report: findings with file and line, most important first. Change nothing.${found.note}${evidence ? `\n\n${evidence}` : ''}`, {
			files: t.facts.files,
			successCriteria: t.analysis.successCriteria,
			dependencies: [...ids(runs), ...ids(found.steps)],
			description: 'Write the report',
		});
		return [...runs, ...found.steps, report];
	},
};

const generic: Template = {
	id: 'generic',
	summary: 'one task for the whole goal, then the checks the project has',
	build(t) {
		const command = /`([^`]+)`/.exec(t.goal)?.[1];
		if (t.analysis.intent === 'manage' && command) {
			return [{ id: uniqueId(t, 'command'), type: 'exec', operation: 'run', description: 'Run the command the goal names', parameters: { command: escapeTemplates(command) } }];
		}
		const found = locate(t);
		const role = t.analysis.intent === 'analyze' ? 'reviewer' : 'coder';
		const irreversible = t.analysis.risks.some((r) => r.kind === 'deploy' || r.kind === 'git-push' || r.kind === 'delete' || r.kind === 'database');
		const task = taskStep(t, 'task', role, `${t.literal}${found.note}`, {
			files: t.facts.files,
			successCriteria: t.analysis.successCriteria,
			dependencies: ids(found.steps),
			requiresApproval: irreversible,
			description: irreversible ? 'Do what the goal asks (it has risks rollback cannot undo: it asks first)' : 'Do what the goal asks',
		});
		const changes = t.analysis.intent !== 'analyze' && t.analysis.intent !== 'manage';
		return [...found.steps, task, ...(changes ? verifySteps(t, [task.id]) : [])];
	},
};

/** In order of preference: the more specific first. */
export const TEMPLATES: readonly Template[] = [deploy, fixChecks, runChecks, featureWithTests, addTests, documentCode, refactor, createFile, analyze, generic];

export interface TemplatePlan {
	template: string;
	workflow: RawWorkflow;
}

/** The offline plan for an analysed goal; an ordinary workflow whose description says it is the offline fallback. */
export function planFromTemplates(analysis: Analysis, registry: HandlerRegistry): TemplatePlan {
	const goal = analysis.goal;
	const input: TemplateInput = { goal, text: goal.toLowerCase(), analysis, literal: escapeTemplates(goal), registry, facts: analysis.facts, ids: new Set() };
	for (const template of TEMPLATES) {
		input.ids = new Set();
		const steps = template.build(input);
		if (!steps?.length) continue;
		const modelSteps = steps.filter((s) => s.type === 'llm').length;
		const note = !hasAgents(registry) && modelSteps
			? ` No agent handler is registered, so ${modelSteps === 1 ? 'its task is a model answer' : `its ${modelSteps} tasks are model answers`} (llm generate), which needs an LLM endpoint and changes no files.`
			: '';
		return {
			template: template.id,
			workflow: {
				version: 1,
				name: clip(goal, 80),
				description: `Goal: ${goal}\nOffline plan from the rule-based fallback (no LLM planner), template "${template.id}": ${template.summary}.${note}`,
				settings: { on_failure: 'stop' },
				instructions: steps.map(tidy),
			},
		};
	}
	throw new Error('no template produced a plan (the generic template always should)');
}

const KEY_ORDER = ['id', 'type', 'operation', 'description', 'parameters', 'dependencies'];

/** The same step with its keys in reading order (id, type, operation, description, parameters, dependencies, the rest). */
function tidy(step: Step): Step {
	const out: Record<string, unknown> = {};
	for (const k of KEY_ORDER) if (step[k as keyof Step] !== undefined) out[k] = step[k as keyof Step];
	for (const [k, v] of Object.entries(step)) if (!(k in out) && v !== undefined) out[k] = v;
	return out as Step;
}

function clip(text: string, max: number): string {
	const one = text.replace(/\s+/g, ' ').trim();
	return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
