// llm review: files or a diff → findings checked against the files (a finding must name a reviewed file and a
// line it has), an optional severity gate, an optional Markdown report written through the journal.
import { realpath } from 'node:fs/promises';
import * as path from 'node:path';
import { z } from 'zod';
import { StepError } from '../errors';
import { plural } from '../format';
import { diffArgs, refName, repoParam, shownCommand } from './gitArgs';
import { git, openRepo } from './gitRepo';
import {
	askStructured,
	DEFAULT_MAX_BYTES,
	maxBytesParam,
	maxTokensParam,
	modelParam,
	readSources,
	systemParam,
	temperatureParam,
} from './llmCall';
import { countFindings, type Finding as QualityFinding, type Severity } from '../quality/findings';
import { clip } from './shared';
import { defineOperation, type StepContext } from './types';

type FindingSeverity = Severity;

/** The `quality` handler's finding (line 0: none named; source `llm-review`), plus how to fix it when the reviewer said. */
export type Finding = QualityFinding & { suggestion?: string };

export interface ReviewOutput {
	findings: Finding[];
	summary: string;
	counts: Record<FindingSeverity, number>;
}

const reviewParams = z
	.object({
		path: z.string().min(1).optional().describe('A workspace file to review.'),
		paths: z.array(z.string().min(1)).min(1).optional().describe('Several workspace files reviewed together.'),
		diff: z.string().optional().describe('Unified diff text to review (paths in it are workspace-relative).'),
		git_diff: z
			.union([z.literal(true), z.literal('staged'), refName('git_diff revision')])
			.optional()
			.describe('Review what git shows: true = unstaged changes (`git diff`), "staged" = `git diff --cached`, a revision = the working tree against it.'),
		repo: repoParam.describe('With git_diff: the repository directory, workspace-relative (default: the workspace root).'),
		instructions: z.string().optional().describe('What to look for or ignore (e.g. "security only").'),
		severity_gate: z
			.enum(['error', 'warning', 'none'])
			.default('none')
			.describe('Fail the step when a finding is this severe or worse: error, warning (errors and warnings), none (default: never).'),
		output_path: z.string().min(1).optional().describe('Workspace file the Markdown report is written to (journaled).'),
		system: systemParam,
		model: modelParam('reviewer'),
		max_bytes: maxBytesParam,
		max_tokens: maxTokensParam,
		temperature: temperatureParam,
	})
	.strict()
	.refine((p) => [p.path, p.paths, p.diff, p.git_diff].filter((v) => v !== undefined).length === 1, {
		message: 'give exactly one of `path`, `paths`, `diff` or `git_diff`',
	})
	.refine((p) => p.repo === undefined || p.git_diff !== undefined, { message: '`repo` goes with `git_diff`' });

type ReviewParams = z.output<typeof reviewParams>;

const answerSchema = z.object({
	findings: z.array(
		z.object({
			file: z.string().min(1).describe('A reviewed file, exactly as named in the request.'),
			line: z.number().int().min(1).nullable().optional().describe('1-based line in that file (for a diff: in its new version).'),
			severity: z.enum(['error', 'warning', 'info']),
			message: z.string().min(1).describe('The problem, in one or two sentences.'),
			suggestion: z.string().nullable().optional().describe('How to fix it.'),
		}),
	),
	summary: z.string().describe('The overall verdict in a few sentences.'),
});

type Answer = z.output<typeof answerSchema>;

const SYSTEM = [
	'You are a careful senior code reviewer.',
	'Report concrete problems: bugs, security issues, missing error handling, misleading names, dead code, missing tests.',
	'Do not report style preferences a formatter would settle. No findings is a fine answer for good code.',
	'severity: error = wrong or unsafe behaviour; warning = likely problem or risk; info = worthwhile improvement.',
	'Name files exactly as given and give line numbers only where a finding has one.',
].join('\n');

/** What is being reviewed: the text shown to the model, and each file with the highest line a finding may name. */
interface Subject {
	label: string;
	prompt: string;
	files: Map<string, number>;
	empty: boolean;
}

/** Forward slashes, no leading `./`: how the model may spell a path it was given. */
function normalizePath(p: string): string {
	return p.replace(/\\/g, '/').replace(/^(\.\/)+/, '');
}

function lineCount(text: string): number {
	if (text === '') return 0;
	return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

function numbered(text: string): string {
	const lines = text.split('\n');
	if (text.endsWith('\n')) lines.pop();
	const width = String(lines.length).length;
	return lines.map((l, i) => `${String(i + 1).padStart(width)}| ${l}`).join('\n');
}

async function filesSubject(p: ReviewParams, ctx: StepContext, paths: string[]): Promise<Subject> {
	const texts = await readSources(ctx, paths, p.max_bytes ?? DEFAULT_MAX_BYTES);
	const files = new Map<string, number>();
	const parts: string[] = [];
	for (const [rel, text] of texts) {
		const lines = lineCount(text ?? '');
		files.set(normalizePath(rel), lines);
		parts.push(`=== ${rel} (${plural(lines, 'line')}) ===\n${numbered(text ?? '')}`);
	}
	const which = paths.length === 1 ? 'this file' : 'these files';
	return {
		label: paths.length === 1 ? paths[0] : plural(paths.length, 'file'),
		prompt: `Review ${which}. Each line starts with its number and "| ", which are not part of the code.\n\n${parts.join('\n\n')}`,
		files,
		empty: false,
	};
}

/** A path in a diff header: quotes removed, the tab-separated timestamp of `diff -u` dropped. */
function headerPath(raw: string): string {
	let p = raw.split('\t')[0].trim();
	if (p.startsWith('"') && p.endsWith('"')) p = p.slice(1, -1).replace(/\\(["\\])/g, '$1');
	return p;
}

/** The files a unified diff changes (new names; old ones for deletions) and the highest line each hunk reaches. */
export function diffFiles(diff: string): Map<string, number> {
	const files = new Map<string, number>();
	let from: string | undefined;
	let current: string | undefined;
	// Lines still due in the current hunk: a removed line reading "-- x" is content, not a header.
	let oldLeft = 0;
	let newLeft = 0;
	for (const line of diff.split('\n')) {
		if (oldLeft > 0 || newLeft > 0) {
			if (line.startsWith('-')) oldLeft--;
			else if (line.startsWith('+')) newLeft--;
			else if (!line.startsWith('\\')) {
				oldLeft--;
				newLeft--;
			}
			continue;
		}
		if (line.startsWith('--- ')) {
			from = headerPath(line.slice(4));
		} else if (line.startsWith('+++ ') && from !== undefined) {
			const to = headerPath(line.slice(4));
			const prefixed = (from.startsWith('a/') || from === '/dev/null') && (to.startsWith('b/') || to === '/dev/null');
			const name = to === '/dev/null' ? from : to;
			current = normalizePath(prefixed && name !== '/dev/null' ? name.slice(2) : name);
			if (!files.has(current)) files.set(current, 0);
			from = undefined;
		} else if (line.startsWith('@@') && current !== undefined) {
			const m = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(line);
			if (m) {
				oldLeft = Number(m[2] ?? 1);
				newLeft = Number(m[4] ?? 1);
				const end = Math.max(Number(m[1]) + oldLeft - 1, Number(m[3]) + newLeft - 1);
				files.set(current, Math.max(files.get(current) ?? 0, end));
			}
		}
	}
	return files;
}

function gitDiffArgs(p: ReviewParams): string[] {
	const args = diffArgs({ cached: p.git_diff === 'staged', ref: typeof p.git_diff === 'string' && p.git_diff !== 'staged' ? p.git_diff : undefined }, []);
	// Paths from the top with fixed prefixes whatever diff.relative, diff.noprefix or diff.mnemonicPrefix say, so file names parse the same everywhere.
	args.splice(1, 0, '--no-relative', '--src-prefix=a/', '--dst-prefix=b/');
	return args;
}

function gitDiffLabel(p: ReviewParams): string {
	return p.git_diff === true ? 'the unstaged changes' : p.git_diff === 'staged' ? 'the staged changes' : `the changes since ${String(p.git_diff)}`;
}

async function diffSubject(p: ReviewParams, ctx: StepContext): Promise<Subject> {
	let diff = p.diff ?? '';
	let files: Map<string, number>;
	let label = 'the given diff';
	if (p.git_diff !== undefined) {
		const repo = await openRepo(ctx, p.repo);
		diff = await git(repo, gitDiffArgs(p));
		label = gitDiffLabel(p);
		// git names files from the repository's top; findings name them from the workspace's.
		const top = await realpath((await git(repo, ['rev-parse', '--show-toplevel'])).trim());
		files = new Map([...diffFiles(diff)].map(([f, n]) => [ctx.sandbox.relative(path.resolve(top, f)), n]));
	} else {
		files = diffFiles(diff);
	}
	const max = p.max_bytes ?? DEFAULT_MAX_BYTES;
	if (Buffer.byteLength(diff) > max) {
		throw new StepError('failed', `${label} is ${Buffer.byteLength(diff)} bytes, more than max_bytes (${max}) allows to send to the model`, { permanent: true });
	}
	if (diff.trim() !== '' && files.size === 0) {
		throw new StepError('parameters', 'the diff names no files: give a unified diff (`--- a/file`, `+++ b/file`, `@@` hunks)', { permanent: true });
	}
	// A finding may name any line the file has now, or any line a hunk covers (a staged version may be longer).
	for (const [file, hunkEnd] of files) {
		try {
			files.set(file, Math.max(hunkEnd, lineCount((await ctx.fs.readFile(file)).toString('utf8'))));
		} catch {
			// Deleted, outside the workspace or unreadable: the hunks are all there is to go by.
		}
	}
	const names = [...files.keys()].join(', ');
	return {
		label,
		prompt: `Review this change, a unified diff of ${names}. Report problems the change introduces or leaves in the lines it touches; a finding's line is its line number in the new version of the file (count from the @@ hunk headers).\n\n\`\`\`diff\n${diff}\n\`\`\``,
		files,
		empty: diff.trim() === '',
	};
}

/** Why the answer cannot be right about these files, or undefined. */
function checkFindings(answer: Answer, files: Map<string, number>): string | undefined {
	const problems: string[] = [];
	answer.findings.forEach((f, i) => {
		const file = normalizePath(f.file);
		const lines = files.get(file);
		if (lines === undefined) {
			problems.push(`findings[${i}].file: "${f.file}" was not reviewed (the files are: ${[...files.keys()].join(', ')})`);
		} else if (f.line != null && f.line > lines) {
			problems.push(`findings[${i}].line: ${file} has ${plural(lines, 'line')}, so there is no line ${f.line}`);
		}
	});
	if (problems.length > 5) problems.splice(5, problems.length, `… and ${problems.length - 5} more`);
	return problems.length ? problems.join('; ') : undefined;
}

function toFindings(answer: Answer): Finding[] {
	return answer.findings.map((f) => ({
		file: normalizePath(f.file),
		line: f.line ?? 0,
		severity: f.severity,
		message: f.message,
		source: 'llm-review',
		...(f.suggestion ? { suggestion: f.suggestion } : {}),
	}));
}

const countOf = countFindings;

function countText(counts: Record<FindingSeverity, number>): string {
	return `${plural(counts.error, 'error')}, ${plural(counts.warning, 'warning')}, ${counts.info} info`;
}

/** The report written to output_path: the verdict, the counts, then the findings grouped by file in line order. */
export function reviewMarkdown(subject: string, out: ReviewOutput): string {
	const lines = [`# Review of ${subject}`, '', out.summary.trim() || '(no summary)', '', `**${countText(out.counts)}**`];
	const byFile = new Map<string, Finding[]>();
	for (const f of out.findings) byFile.set(f.file, [...(byFile.get(f.file) ?? []), f]);
	for (const [file, list] of byFile) {
		lines.push('', `## ${file}`, '');
		for (const f of [...list].sort((a, b) => (a.line ?? 0) - (b.line ?? 0))) {
			lines.push(`- **${f.severity}**${f.line ? ` (line ${f.line})` : ''}: ${f.message.trim()}`);
			if (f.suggestion) lines.push(`  - Suggestion: ${f.suggestion.trim()}`);
		}
	}
	return `${lines.join('\n')}\n`;
}

function gated(p: ReviewParams, counts: Record<FindingSeverity, number>): number {
	if (p.severity_gate === 'error') return counts.error;
	if (p.severity_gate === 'warning') return counts.error + counts.warning;
	return 0;
}

function subjectText(p: ReviewParams): string {
	if (p.path) return p.path;
	if (p.paths) return p.paths.length === 1 ? p.paths[0] : `${p.paths.length} files`;
	if (p.git_diff !== undefined) return gitDiffLabel(p);
	return 'a diff';
}

export const review = defineOperation({
	params: reviewParams,
	// The model call changes nothing; the only effect is the report, written through the journal: safe to re-run.
	effect: 'workspace',
	summary: (p) =>
		`review ${subjectText(p)} with ${p.model ?? 'the reviewer model'}${p.severity_gate !== 'none' ? `, failing on ${p.severity_gate}s` : ''}${p.output_path ? `, report in ${p.output_path}` : ''}`,
	touches: (p) => ({
		reads: p.path ? [p.path] : (p.paths ?? []),
		writes: p.output_path ? [p.output_path] : [],
		...(p.git_diff !== undefined ? { commands: [shownCommand(gitDiffArgs(p), p.repo)] } : {}),
	}),
	approvalReason: (p, sandbox) => (p.output_path ? sandbox.approvalReason(p.output_path) : undefined),
	async run(p, ctx): Promise<ReviewOutput> {
		const paths = p.path ? [p.path] : p.paths;
		const subject = paths ? await filesSubject(p, ctx, paths) : await diffSubject(p, ctx);
		let out: ReviewOutput;
		if (subject.empty) {
			out = { findings: [], summary: `Nothing to review: ${subject.label} is empty.`, counts: countOf([]) };
		} else {
			const prompt = p.instructions ? `${subject.prompt}\n\nInstructions: ${p.instructions}` : subject.prompt;
			const answer = await askStructured(
				ctx,
				{ prompt, system: p.system ? `${SYSTEM}\n\n${p.system}` : SYSTEM, model: p.model, maxTokens: p.max_tokens, temperature: p.temperature },
				answerSchema,
				{ role: 'reviewer', label: 'review' },
				(a) => checkFindings(a, subject.files),
			);
			const findings = toFindings(answer.value);
			out = { findings, summary: answer.value.summary, counts: countOf(findings) };
			// As diagnostics in VS Code and lines in qo, like a linter's.
			ctx.reportFindings('llm-review', findings);
		}
		if (p.output_path) await ctx.fs.writeFile(p.output_path, reviewMarkdown(subject.label, out));
		const over = gated(p, out.counts);
		if (over > 0) {
			const worst = out.findings.filter((f) => f.severity === 'error' || (p.severity_gate === 'warning' && f.severity === 'warning'));
			const shown = worst
				.slice(0, 3)
				.map((f) => `${f.file}${f.line ? `:${f.line}` : ''} ${clip(f.message, 100)}`)
				.join('; ');
			throw new StepError(
				'failed',
				`the review found ${countText(out.counts)} (severity_gate ${p.severity_gate}): ${shown}${worst.length > 3 ? '; …' : ''}${p.output_path ? ` — report in ${p.output_path}` : ''}`,
				{ permanent: true },
			);
		}
		return out;
	},
});
