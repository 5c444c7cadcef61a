// llm fix: an error and the files that may change → edits from the model, checked against the files (each `find`
// must match exactly once), shown to a person as a diff, and written through the journal only once approved.
import { z } from 'zod';
import { StepError } from '../errors';
import type { ProposedChange } from '../ports';
import {
	askStructured,
	DEFAULT_MAX_BYTES,
	isMissing,
	maxBytesParam,
	maxTokensParam,
	modelParam,
	readSources,
	systemParam,
	temperatureParam,
} from './llmCall';
import { clip } from './shared';
import { defineOperation, type StepContext } from './types';
import { unifiedDiff } from './unifiedDiff';

const fixParams = z
	.object({
		error: z
			.union([z.string().min(1), z.array(z.unknown()).min(1), z.record(z.string(), z.unknown())])
			.describe('What failed: the error text, or a value such as ${steps.test.output} or a list of findings (sent as JSON).'),
		files: z.array(z.string().min(1)).min(1).max(50).describe('Workspace files the fix may change (or create); nothing else is changed.'),
		instructions: z.string().optional().describe('More to tell the model: constraints, what not to change.'),
		auto_apply: z
			.boolean()
			.default(false)
			.describe('Write the fix without asking (default false: the diff is proposed to a person, who approves or rejects it).'),
		system: systemParam,
		model: modelParam('coder'),
		max_bytes: maxBytesParam,
		max_tokens: maxTokensParam,
		temperature: temperatureParam,
	})
	.strict();

type FixParams = z.output<typeof fixParams>;

const answerSchema = z.object({
	explanation: z.string().min(1).describe('The cause of the error and what the edits change, in a few sentences.'),
	edits: z
		.array(
			z.object({
				path: z.string().min(1).describe('One of the files you may change.'),
				find: z.string().min(1).optional().describe('Text that occurs exactly once in the file now (after earlier edits), copied exactly.'),
				replace: z.string().optional().describe('What replaces `find`.'),
				content: z.string().optional().describe('Instead of find/replace: the whole new content of the file (for new files, or rewrites).'),
			}),
		)
		.describe('Applied in order; empty when no change to these files can fix the error.'),
});

type Answer = z.output<typeof answerSchema>;

export interface FixOutput {
	applied: boolean;
	explanation: string;
	/** The files the fix changes (written when applied). */
	files: string[];
	/** The change as a unified diff. */
	diff: string;
}

const SYSTEM = [
	'You are a senior software engineer fixing a failure. Propose the smallest change to the given files that fixes the error.',
	'An edit is either {"path", "find", "replace"}: `find` is text that occurs exactly once in the file, copied exactly (whitespace included) with enough',
	'surrounding lines to be unique; or {"path", "content"}: the whole new file. Edits to one file apply in order.',
	'Change only the files listed. If no change to them can fix the error, give no edits and explain why.',
].join('\n');

/** Forward slashes, no leading `./`. */
function normalizePath(p: string): string {
	return p.replace(/\\/g, '/').replace(/^(\.\/)+/, '');
}

function occurrences(text: string, find: string): number {
	let count = 0;
	for (let at = text.indexOf(find); at >= 0 && count < 2; at = text.indexOf(find, at + 1)) count++;
	return count;
}

/** The files after the edits (only those that change), or what is wrong with the edits, worded for the model. */
export function applyEdits(
	current: ReadonlyMap<string, string | null>,
	edits: Answer['edits'],
): { after: Map<string, string>; problem?: undefined } | { problem: string } {
	const byName = new Map([...current.keys()].map((k) => [normalizePath(k), k]));
	const text = new Map(current);
	const problems: string[] = [];
	edits.forEach((e, i) => {
		const file = byName.get(normalizePath(e.path));
		if (file === undefined) {
			problems.push(`edits[${i}].path: "${e.path}" is not one of the files you may change (${[...current.keys()].join(', ')})`);
			return;
		}
		if ((e.content !== undefined) === (e.find !== undefined)) {
			problems.push(`edits[${i}]: give either \`find\` with \`replace\`, or \`content\``);
			return;
		}
		if (e.content !== undefined) {
			text.set(file, e.content);
			return;
		}
		const find = e.find as string;
		if (e.replace === undefined) {
			problems.push(`edits[${i}]: \`find\` needs a \`replace\` (use "" to delete the text)`);
			return;
		}
		const now = text.get(file);
		if (now === null || now === undefined) {
			problems.push(`edits[${i}]: ${file} does not exist, so there is nothing to find; give its whole \`content\``);
			return;
		}
		const n = occurrences(now, find);
		if (n !== 1) {
			problems.push(
				n === 0
					? `edits[${i}].find does not occur in ${file}${i > 0 ? ' (as the earlier edits leave it)' : ''}: copy the text exactly, whitespace and indentation included`
					: `edits[${i}].find occurs more than once in ${file}: include more of the surrounding text so it matches exactly once`,
			);
			return;
		}
		const at = now.indexOf(find);
		text.set(file, now.slice(0, at) + e.replace + now.slice(at + find.length));
	});
	if (problems.length) return { problem: problems.slice(0, 5).join('; ') + (problems.length > 5 ? `; … and ${problems.length - 5} more` : '') };
	const after = new Map<string, string>();
	for (const [file, t] of text) if (t !== null && t !== current.get(file)) after.set(file, t);
	if (edits.length > 0 && after.size === 0) return { problem: 'the edits change nothing: each file ends up as it was' };
	return { after };
}

function errorText(error: FixParams['error']): string {
	const text = typeof error === 'string' ? error : JSON.stringify(error, null, 2);
	// The start says what failed and the end where: keep both of a long log.
	return text.length <= 20_000 ? text : `${text.slice(0, 8_000)}\n… (${text.length - 18_000} characters left out) …\n${text.slice(-10_000)}`;
}

function prompt(p: FixParams, current: ReadonlyMap<string, string | null>): string {
	const files = [...current].map(([rel, text]) => (text === null ? `=== ${rel} (does not exist yet) ===` : `=== ${rel} ===\n${text}`));
	return [
		`This failed:\n\`\`\`\n${errorText(p.error)}\n\`\`\``,
		...(p.instructions ? [`Instructions: ${p.instructions}`] : []),
		`The files you may change:\n\n${files.join('\n\n')}`,
	].join('\n\n');
}

/** Refuses (before any write) when a file's content is no longer what `expected` holds. */
async function unchangedSince(ctx: StepContext, expected: ReadonlyMap<string, string | null>, files: Iterable<string>): Promise<void> {
	for (const rel of files) {
		let now: string | null;
		try {
			now = (await ctx.fs.readFile(rel)).toString('utf8');
		} catch (err) {
			if (!isMissing(err)) throw err;
			now = null;
		}
		if (now !== expected.get(rel)) {
			throw new StepError('failed', `${rel} changed while the fix was being worked out or approved; nothing was written (run the step again to fix the file as it is now)`);
		}
	}
}

function firstApprovalReason(files: readonly string[], reason: (rel: string) => string | undefined): string | undefined {
	for (const f of files) {
		const r = reason(f);
		if (r) return r;
	}
	return undefined;
}

export const fix = defineOperation({
	params: fixParams,
	// Re-running asks the model again and proposes again; the writes go through the journal.
	effect: 'workspace',
	summary: (p) =>
		`${p.auto_apply ? 'fix' : 'propose a fix to'} ${p.files.length === 1 ? p.files[0] : `${p.files.length} files`} for "${clip(typeof p.error === 'string' ? p.error : JSON.stringify(p.error), 50)}"${p.auto_apply ? ' and apply it without asking' : ''}`,
	touches: (p) => ({ reads: [...p.files], writes: [...p.files] }),
	// A proposal is itself asked about; applying without asking is a write like any other (protected paths, policy).
	approvalReason: (p, sandbox) => (p.auto_apply ? firstApprovalReason(p.files, (f) => sandbox.approvalReason(f)) : undefined),
	async run(p, ctx): Promise<FixOutput> {
		// Paths the fix could never write (outside, .git, .quantum) fail now, before the model is paid for.
		for (const f of p.files) await ctx.sandbox.resolveWrite(f);
		const current = await readSources(ctx, p.files, p.max_bytes ?? DEFAULT_MAX_BYTES, { missingOk: true });
		const answer = await askStructured(
			ctx,
			{ prompt: prompt(p, current), system: p.system ? `${SYSTEM}\n\n${p.system}` : SYSTEM, model: p.model, maxTokens: p.max_tokens, temperature: p.temperature },
			answerSchema,
			{ role: 'coder', label: 'fix' },
			(a) => applyEdits(current, a.edits).problem,
		);
		const { explanation } = answer.value;
		const applied = applyEdits(current, answer.value.edits);
		if (applied.problem !== undefined) throw new StepError('failed', `the fix cannot be applied: ${applied.problem}`); // checked above
		const changes: ProposedChange[] = [...applied.after].map(([rel, after]) => ({ path: rel, before: current.get(rel) ?? null, after }));
		const diff = changes.map((c) => unifiedDiff(c.path, c.before, c.after)).join('');
		const files = changes.map((c) => c.path);
		if (changes.length === 0) {
			ctx.output('stdout', `\nno change proposed: ${explanation}\n`);
			return { applied: false, explanation, files, diff };
		}
		ctx.output('stdout', `\n${explanation}\n\n${diff}`);
		if (!p.auto_apply) {
			// Throws 'rejected' when the person says no: nothing has been written.
			await ctx.decide({
				kind: 'proposal',
				reason: `llm fix for ${clip(errorText(p.error), 80)}`,
				summary: `apply the model's fix to ${files.join(', ')}`,
				changes,
				details: `${explanation}\n\n${diff}`,
			});
		}
		// The edits were worked out on the text read before asking: never write them over someone's newer change.
		await unchangedSince(ctx, current, files);
		for (const [rel, text] of applied.after) await ctx.fs.writeFile(rel, text);
		return { applied: true, explanation, files, diff };
	},
});
