// The bounded fix loop: a failed check asks `llm fix` for a change (a proposal a person approves, unless the
// workflow says auto_apply), then checks again — at most N times. Each fix and re-check is a child step of the
// check, so the board and the tree show every attempt and rollback undoes every applied fix.
import { z } from 'zod';
import { describeError, StepError } from '../errors';
import type { StepContext, ToolStep } from '../handlers/types';
import { formatFinding, gatedFindings, gateMessage, sortFindings, type Finding, type SeverityGate } from './findings';

export const fixField = z
	.object({
		attempts: z.number().int().min(1).max(5).default(2).describe('Fix-and-re-check rounds at most (default 2).'),
		files: z.array(z.string().min(1)).optional().describe('Files the fix may change (default: the files with failing findings, at most 10).'),
		instructions: z.string().optional().describe('Extra guidance for the model (conventions, what not to touch).'),
		auto_apply: z.boolean().optional().describe('Apply fixes without asking (default false: each fix is a proposal to approve).'),
	})
	.strict()
	.describe('When the check fails: ask the model for a fix, apply it once approved, and check again.');

export type FixSettings = z.output<typeof fixField>;

/** What a check outputs (enough for the loop: its tool and findings). */
interface CheckOutput {
	tool: string;
	findings: Finding[];
}

/** Findings that fail the gate, as the model is shown them. */
function errorText(message: string, failing: readonly Finding[]): string {
	const list = sortFindings([...failing]).slice(0, 50).map(formatFinding);
	return `${message}\n\n${list.join('\n')}${failing.length > 50 ? `\n… and ${failing.length - 50} more` : ''}`;
}

/** Files worth giving the fix: those with failing findings at a line (not package.json for a script's exit code). */
function filesToFix(failing: readonly Finding[]): string[] {
	const files = new Set<string>();
	for (const f of sortFindings([...failing])) if (f.line > 0 && !f.file.startsWith('/') && !f.file.startsWith('..')) files.add(f.file);
	return [...files].slice(0, 10);
}

/**
 * Runs fix rounds after the check `operation` failed its gate with `first` findings; resolves with the passing
 * re-check's output (and how many rounds it took), or throws the last failure, saying the fixes did not help.
 */
export async function fixLoop<O extends CheckOutput>(
	operation: string,
	params: Record<string, unknown> & { fix: FixSettings; severity?: SeverityGate },
	ctx: StepContext,
	first: O,
	all: readonly Finding[],
): Promise<O & { fix_attempts: number }> {
	const { fix, ...check } = params;
	const severity = params.severity ?? 'error';
	let failing = gatedFindings(all, severity);
	let message = gateMessage(all, severity, first.tool) ?? `${first.tool} failed`;
	for (let attempt = 1; attempt <= fix.attempts; attempt++) {
		const files = fix.files ?? filesToFix(failing);
		if (files.length === 0) throw new StepError('failed', `${message} (no file to fix: the findings name no line in the workspace)`, { permanent: true });
		ctx.logger.log('info', 'quality', `${ctx.step.id}: fix attempt ${attempt} of ${fix.attempts} for ${files.join(', ')}`);
		const proposal = (await step(ctx, message, {
			type: 'llm',
			operation: 'fix',
			parameters: { error: errorText(message, failing), files, ...(fix.instructions ? { instructions: fix.instructions } : {}), ...(fix.auto_apply ? { auto_apply: true } : {}) },
			label: `fix ${attempt}/${fix.attempts}`,
		})) as { applied?: boolean };
		if (proposal.applied === false) throw new StepError('failed', `${message} (the fix was not applied)`, { permanent: true });
		// Re-checked without a gate, so its findings come back whatever they are; the gate is judged here.
		const again = (await step(ctx, message, {
			type: 'quality',
			operation,
			parameters: { ...check, severity: 'none' },
			label: `re-check ${attempt}/${fix.attempts}`,
		})) as O;
		const next = gateMessage(again.findings, severity, again.tool);
		if (!next) return { ...again, fix_attempts: attempt };
		failing = gatedFindings(again.findings, severity);
		message = next;
	}
	throw new StepError('failed', `${message} (still failing after ${fix.attempts} fix attempt${fix.attempts === 1 ? '' : 's'})`, { permanent: true });
}

/** A child step of the loop; its failure (no endpoint, no valid fix...) is reported after the check's own. */
async function step(ctx: StepContext, checkMessage: string, call: ToolStep): Promise<unknown> {
	try {
		return await ctx.runTool(call);
	} catch (err) {
		if (ctx.signal.aborted || StepError.is(err, 'rejected')) throw err;
		throw new StepError('failed', `${checkMessage}; the fix loop stopped at ${call.label}: ${describeError(err)}`, { permanent: true });
	}
}
