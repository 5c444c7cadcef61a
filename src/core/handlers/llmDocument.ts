// llm document: doc comments added into a file (checked to change no code) or a Markdown page about it, written
// through the journal.
import * as path from 'node:path';
import { z } from 'zod';
import { StepError } from '../errors';
import { codeChange, commentSyntaxFor, COMMENT_EXTENSIONS } from './codeTokens';
import {
	askModel,
	askStructured,
	DEFAULT_MAX_BYTES,
	maxBytesParam,
	maxTokensParam,
	modelParam,
	readSources,
	systemParam,
	temperatureParam,
	unfence,
} from './llmCall';
import { defineOperation } from './types';

const documentParams = z
	.object({
		path: z.string().min(1).describe('The workspace file to document.'),
		mode: z
			.enum(['comments', 'markdown'])
			.default('markdown')
			.describe('comments: add doc comments into the file itself (the code must stay the same); markdown (default): write a Markdown page about it.'),
		output_path: z.string().min(1).optional().describe('With mode markdown: where the page is written (default docs/<file name without extension>.md).'),
		instructions: z.string().optional().describe('What the documentation should cover or how to write it.'),
		system: systemParam,
		model: modelParam('writer'),
		max_bytes: maxBytesParam,
		max_tokens: maxTokensParam,
		temperature: temperatureParam,
	})
	.strict()
	.refine((p) => p.mode === 'markdown' || p.output_path === undefined, {
		message: '`output_path` goes with mode markdown (comments are written into `path`)',
	});

type DocumentParams = z.output<typeof documentParams>;

export interface DocumentOutput {
	path: string;
	mode: 'comments' | 'markdown';
	/** The file written: `path` itself in comments mode. */
	output_path: string;
	/** False when the comments the model returned were already there (nothing written). */
	changed: boolean;
	bytes: number;
}

/** Where a markdown page goes: output_path, else docs/<name>.md. */
function target(p: DocumentParams): string {
	if (p.mode === 'comments') return p.path;
	return p.output_path ?? `docs/${path.posix.basename(p.path.replace(/\\/g, '/')).replace(/(.)\.[^.]+$/, '$1')}.md`;
}

const COMMENTS_SYSTEM = [
	'You are a technical writer who documents code in place.',
	"Add documentation comments in the language's usual style (JSDoc/TSDoc for JavaScript and TypeScript, docstrings for Python, /// for Rust, Javadoc for Java...) to the exported or public functions, classes, types and non-obvious constants.",
	'Say what each does, its parameters, return value and errors where useful; do not restate the code.',
	'Change no code: not a name, not a token. Keep existing comments unless they are wrong.',
].join('\n');

const MARKDOWN_SYSTEM = [
	'You are a technical writer. Write a Markdown page documenting the given source file for a developer who will use or change it:',
	'its purpose, its public API (each exported function, class or type with parameters, return values and errors), an example of use, and anything surprising.',
	'Reply with the Markdown only.',
].join('\n');

const commentsAnswer = z.object({ content: z.string().min(1).describe('The whole file with documentation comments added.') });

/** The model's file with the original's line ends and final newline, so only the comments differ. */
function likeOriginal(original: string, content: string): string {
	let text = content;
	if (original.includes('\r\n') && !text.includes('\r\n')) text = text.replace(/\n/g, '\r\n');
	const eol = original.includes('\r\n') ? '\r\n' : '\n';
	if (original.endsWith('\n') && !text.endsWith('\n')) text += eol;
	return text;
}

export const document = defineOperation({
	params: documentParams,
	// The model call changes nothing; the written file goes through the journal: safe to re-run.
	effect: 'workspace',
	summary: (p) => (p.mode === 'comments' ? `add doc comments to ${p.path}` : `document ${p.path} in ${target(p)}`) + (p.model ? ` with ${p.model}` : ''),
	touches: (p) => ({ reads: [p.path], writes: [target(p)] }),
	approvalReason: (p, sandbox) => sandbox.approvalReason(target(p)),
	async run(p, ctx): Promise<DocumentOutput> {
		const syntax = p.mode === 'comments' ? commentSyntaxFor(p.path) : undefined;
		if (p.mode === 'comments' && !syntax) {
			throw new StepError(
				'parameters',
				`comments mode cannot check that only comments were added to ${p.path}: it knows the comment syntax of .${COMMENT_EXTENSIONS.join(', .')}; use mode markdown`,
			);
		}
		const original = (await readSources(ctx, [p.path], p.max_bytes ?? DEFAULT_MAX_BYTES)).get(p.path) ?? '';
		const extra = `${p.instructions ? `\n\nInstructions: ${p.instructions}` : ''}`;
		const request = { model: p.model, maxTokens: p.max_tokens, temperature: p.temperature };
		const out = target(p);
		if (syntax) {
			const answer = await askStructured(
				ctx,
				{
					...request,
					system: p.system ? `${COMMENTS_SYSTEM}\n\n${p.system}` : COMMENTS_SYSTEM,
					prompt: `Return the whole of ${p.path} with documentation comments added, as {"content": "<the file>"}.${extra}\n\n=== ${p.path} ===\n${original}`,
				},
				commentsAnswer,
				{ role: 'writer', label: 'documented file' },
				(a) => codeChange(original, a.content, syntax),
			);
			const content = likeOriginal(original, answer.value.content);
			if (content === original) return { path: p.path, mode: 'comments', output_path: out, changed: false, bytes: Buffer.byteLength(content) };
			await ctx.fs.writeFile(out, content, { mustExist: true });
			return { path: p.path, mode: 'comments', output_path: out, changed: true, bytes: Buffer.byteLength(content) };
		}
		const response = await askModel(
			ctx,
			{
				...request,
				system: p.system ? `${MARKDOWN_SYSTEM}\n\n${p.system}` : MARKDOWN_SYSTEM,
				prompt: `Document ${p.path}.${extra}\n\n=== ${p.path} ===\n${original}`,
			},
			'writer',
		);
		let markdown = unfence(response.text);
		if (markdown.trim() === '') throw new StepError('failed', `the model returned no documentation for ${p.path}`);
		if (!markdown.endsWith('\n')) markdown += '\n';
		await ctx.fs.writeFile(out, markdown);
		return { path: p.path, mode: 'markdown', output_path: out, changed: true, bytes: Buffer.byteLength(markdown) };
	},
});
