// `quality` steps: the workspace's own linters, type checkers, test runners and formatters, run in the sandbox, read
// into findings, published on the event stream, and judged by a severity gate. Tools and parsers: src/core/quality/.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { describeError, StepError } from '../errors';
import { projectFacts } from '../quality/detect';
import { fixField, fixLoop, type FixSettings } from '../quality/fixLoop';
import { countFindings, findingSchema, gateMessage, sortFindings, type Finding, type FindingCounts, type SeverityGate } from '../quality/findings';
import { ReportFormatError } from '../quality/parseLint';
import { workspacePath, type PathContext } from '../quality/paths';
import { scoreFindings, type QualityScore } from '../quality/score';
import { CHECK_KINDS, FORMAT_RULE, planTool, type CheckKind, type ToolPlan } from '../quality/tools';
import { clip, lastLines } from './shared';
import { defineOperation, type Handler, type StepContext, type Touches } from './types';
import { commandLine, runInWorkspace } from './workspaceProcess';

/** Machine-readable reports can be large (eslint JSON carries sources): a wider cap than exec's default. */
const REPORT_MAX_BYTES = 32 * 1024 * 1024;
const DEFAULT_MAX_FINDINGS = 2000;

const envValue = z.union([z.string(), z.number(), z.boolean()]);

const runnerFields = {
	cwd: z.string().optional().describe('Working directory, workspace-relative (default: the workspace root); detection looks here.'),
	paths: z
		.array(z.string().min(1))
		.optional()
		.describe('Workspace-relative files or folders to check (default: what the tool checks by default; for tsc, one project: a tsconfig or its folder).'),
	env: z.record(z.string(), envValue).optional().describe('Variables added to the (scrubbed) environment.'),
	env_allow: z.array(z.string()).optional().describe('Secret-looking variables to keep in the environment instead of scrubbing them.'),
	timeout_ms: z.number().int().min(1).optional().describe("Per tool run (default: the step's timeout_ms)."),
	severity: z
		.enum(['error', 'warn', 'none'])
		.optional()
		.describe('Gate: `error` (default) fails the step on any error finding, `warn` on warnings too, `none` never fails on findings.'),
	max_findings: z.number().int().min(1).max(100_000).optional().describe(`Findings kept in the output and events, errors first (default ${DEFAULT_MAX_FINDINGS}); counts cover all.`),
};

const toolFields = {
	tool: z
		.string()
		.min(1)
		.optional()
		.describe('eslint, ruff, tsc, prettier, pytest, mocha, node or script; with `command`, any name (its output is read as text). Default: detected.'),
	command: z.string().min(1).optional().describe('Run this instead of a detected tool: with `args` an executable, without a shell line.'),
	args: z.array(z.string()).optional().describe('Arguments for `command`, never through a shell.'),
	script: z.string().min(1).optional().describe('A package.json script to run with npm (implies tool "script").'),
};

interface ToolChoice {
	args?: unknown;
	command?: unknown;
	script?: unknown;
}
const argsNeedCommand = (p: ToolChoice) => p.args === undefined || p.command !== undefined;
const scriptOrCommand = (p: ToolChoice) => p.script === undefined || p.command === undefined;

const checkObject = z.object({ ...toolFields, ...runnerFields }).strict();
const lintParams = checkObject
	.extend({ fix: fixField.optional() })
	.refine(argsNeedCommand, { message: '`args` needs `command`', path: ['args'] })
	.refine(scriptOrCommand, { message: 'give `script` or `command`, not both', path: ['script'] });
const formatParams = checkObject
	.extend({ write: z.boolean().optional().describe('Rewrite the files that need it, through the journal (default false: only check).') })
	.refine(argsNeedCommand, { message: '`args` needs `command`', path: ['args'] })
	.refine(scriptOrCommand, { message: 'give `script` or `command`, not both', path: ['script'] });
type CheckParams = z.output<typeof lintParams> & { write?: boolean };

const scoreParams = z
	.object({
		findings: z.array(findingSchema).optional().describe('Findings to score, e.g. "${steps.lint.output.findings}".'),
		from: z
			.array(z.union([z.object({ findings: z.array(findingSchema), files: z.array(z.string()).optional() }).loose(), z.array(findingSchema), z.string()]))
			.optional()
			.describe('Outputs of earlier quality steps, e.g. ["${steps.lint.output}", "${steps.types.output}"].'),
		checks: z.array(z.enum(CHECK_KINDS)).optional().describe('Checks to run now with detected tools (default, when neither findings nor from is given: lint and typecheck, those found).'),
		min_score: z.number().min(0).max(100).optional().describe('Fail the step when the run score is below this.'),
		...runnerFields,
	})
	.strict();
type ScoreParams = z.output<typeof scoreParams>;

/** What every quality step outputs (${steps.ID.output.counts.error} and friends). */
export interface QualityOutput {
	tool: string;
	/** The command line that ran (several joined by ` && ` for score). */
	command: string;
	exit_code: number | null;
	findings: Finding[];
	counts: FindingCounts;
	/** Files the tool said it checked, when it says (eslint, tsc): the score counts them at 100 when clean. */
	files?: string[];
	/** Test runners: how many passed, failed and were skipped, when the report says. */
	tests?: { passed: number; failed: number; skipped: number };
	/** format with write: the files rewritten (through the journal). */
	changed?: string[];
	/** More findings than max_findings: the list is cut, counts are not. */
	truncated?: boolean;
	score?: QualityScore;
}

interface CheckResult {
	output: QualityOutput;
	/** Every finding, before max_findings. */
	all: Finding[];
}

function resolvedPaths(p: { paths?: string[] }, ctx: StepContext): Promise<string[]> {
	return Promise.all((p.paths ?? []).map((rel) => ctx.sandbox.resolveRead(rel)));
}

/** Runs one check: picks the tool, runs it in the sandbox, reads its findings, applies format writes, reports them. */
async function runCheck(kind: CheckKind, p: CheckParams, ctx: StepContext): Promise<CheckResult> {
	const cwd = await ctx.sandbox.resolveCwd(p.cwd);
	const paths: PathContext = { root: ctx.sandbox.root, cwd };
	const targets = await resolvedPaths(p, ctx);
	const facts = await projectFacts(ctx.sandbox.root, cwd, ctx.env);
	const reportDir = await mkdtemp(join(tmpdir(), 'qo-quality-'));
	try {
		const write = kind === 'format' && p.write === true;
		const plan = await planTool({ kind, tool: p.tool, command: p.command, args: p.args, script: p.script, paths: targets, write, reportDir }, facts);
		const r = await runInWorkspace(ctx, {
			command: plan.command,
			args: plan.args,
			shell: plan.shell,
			cwd: p.cwd,
			env: { ...plan.env, ...p.env },
			envAllow: p.env_allow,
			timeoutMs: p.timeout_ms ?? ctx.step.timeout_ms,
			maxOutputBytes: REPORT_MAX_BYTES,
			stream: plan.stream,
		});
		const tail = () => lastLines(r.stderr, 5) || lastLines(r.stdout, 5);
		if (r.exitCode === null) throw new StepError('failed', `\`${r.line}\` was killed by ${r.signal ?? 'a signal'}`);
		if (plan.okExit && !plan.okExit.includes(r.exitCode)) {
			throw new StepError('exit-code', `${plan.tool} failed (\`${r.line}\` exited with code ${r.exitCode}) without a report of findings${tail() ? `:\n${tail()}` : ''}`);
		}
		const report = plan.reportFile ? await readFile(plan.reportFile, 'utf8').catch(() => undefined) : undefined;
		let parsed: ReturnType<ToolPlan['parse']>;
		try {
			parsed = plan.parse({ stdout: r.stdout, stderr: r.stderr, report, exitCode: r.exitCode }, paths);
		} catch (err) {
			if (!(err instanceof ReportFormatError) || plan.okExit) {
				throw new StepError('failed', `could not read the report of \`${r.line}\`: ${describeError(err)}${tail() ? `\n${tail()}` : ''}`);
			}
			parsed = { findings: [] };
		}
		let findings = parsed.findings;
		if (r.exitCode !== 0 && !plan.okExit && !findings.some((f) => f.severity === 'error')) {
			// The tool says it failed and named nothing qo can point at: that is a finding too, or the gate would pass it.
			const where = plan.tool.startsWith('npm run ') ? workspacePath(paths, join(cwd, 'package.json')) : workspacePath(paths, cwd);
			const last = tail().split('\n').pop();
			findings = [...findings, { file: where, line: 0, severity: 'error', message: `\`${r.line}\` exited with code ${r.exitCode}${last ? `: ${clip(last, 200)}` : ''}`, source: plan.tool }];
		}
		let changed: string[] | undefined;
		if (write) ({ findings, changed } = await writeFormatted(plan, findings, parsed.fixed, ctx, p.timeout_ms ?? ctx.step.timeout_ms, p.cwd));
		const output = finish(plan.tool, r.line, r.exitCode, findings, p.max_findings);
		if (parsed.files) output.files = parsed.files;
		if (parsed.tests) output.tests = parsed.tests;
		if (changed) output.changed = changed;
		ctx.reportFindings(plan.tool, output.findings);
		return { output, all: findings };
	} finally {
		await rm(reportDir, { recursive: true, force: true }).catch(() => undefined);
	}
}

function finish(tool: string, command: string, exitCode: number | null, findings: Finding[], max = DEFAULT_MAX_FINDINGS): QualityOutput {
	const sorted = sortFindings([...findings]);
	const output: QualityOutput = { tool, command, exit_code: exitCode, findings: sorted.slice(0, max), counts: countFindings(sorted) };
	if (sorted.length > max) output.truncated = true;
	return output;
}

/**
 * format write: each file that needs it gets its formatted bytes from the tool (eslint's fix report, or the formatter
 * on stdin) and is written through the journal, so rollback restores the original bytes. Files whose writes need
 * approval (.vscode/, .github/workflows/, …) are left alone and reported.
 */
async function writeFormatted(
	plan: ToolPlan,
	findings: Finding[],
	fixed: Map<string, string> | undefined,
	ctx: StepContext,
	timeoutMs: number | undefined,
	cwd: string | undefined,
): Promise<{ findings: Finding[]; changed: string[] }> {
	const changed: string[] = [];
	const out: Finding[] = [];
	for (const f of findings) {
		if (f.rule !== FORMAT_RULE) {
			out.push(f);
			continue;
		}
		const approval = ctx.sandbox.approvalReason(f.file);
		if (approval) {
			out.push({ ...f, severity: 'warning', message: `needs formatting; not rewritten: ${approval}` });
			continue;
		}
		const before = await ctx.fs.readFile(f.file);
		let after: string | undefined = fixed?.get(f.file);
		if (after === undefined && plan.formatStdin) {
			const cmd = plan.formatStdin(await ctx.sandbox.resolveRead(f.file));
			const r = await runInWorkspace(ctx, { command: cmd.command, args: cmd.args, input: before, timeoutMs, maxOutputBytes: REPORT_MAX_BYTES, stream: false, cwd });
			if (r.exitCode !== 0) {
				out.push({ ...f, severity: 'error', message: `needs formatting; ${plan.tool} could not format it: ${clip(lastLines(r.stderr, 1) || `exit code ${r.exitCode}`, 200)}` });
				continue;
			}
			after = r.stdout;
		}
		if (after === undefined || Buffer.from(after).equals(before)) {
			out.push({ ...f, severity: 'info', message: 'already formatted' });
			continue;
		}
		await ctx.fs.writeFile(f.file, after);
		changed.push(f.file);
		out.push({ ...f, severity: 'info', message: `formatted (${plan.tool})` });
	}
	return { findings: out, changed };
}

function gate(output: QualityOutput, all: Finding[], severity: SeverityGate | undefined, kind: string): void {
	const message = gateMessage(all, severity ?? 'error', output.tool);
	// Tests can be flaky, so a retry may help them; a lint or type error stays until the code changes.
	if (message) throw new StepError('failed', message, { permanent: kind !== 'test' });
}

function describeTarget(p: { paths?: string[]; cwd?: string }): string {
	const where = p.paths?.length ? p.paths.join(', ') : (p.cwd ?? '.');
	return p.paths?.length && p.cwd ? `${where} (in ${p.cwd})` : where;
}

function describeTool(p: CheckParams): string {
	if (p.command !== undefined) return `\`${commandLine({ command: p.command, args: p.args })}\``;
	if (p.script !== undefined) return `npm run ${p.script}`;
	return p.tool ?? 'the detected tool';
}

function checkTouches(p: CheckParams, writes: boolean): Touches {
	const read = p.paths?.length ? p.paths : [p.cwd ?? '.'];
	const t: Touches = { reads: read, writes: writes ? read : [] };
	// A command named in the workflow is checked by the escalation policy like an exec step's.
	if (p.command !== undefined) t.commands = [commandLine({ command: p.command, args: p.args })];
	return t;
}

function checkOperation(kind: Exclude<CheckKind, 'format'>, verb: string) {
	return defineOperation({
		params: lintParams,
		effect: 'external',
		summary: (p) => `${verb} ${describeTarget(p)} with ${describeTool(p)}`,
		touches: (p) => checkTouches(p, false),
		async run(p, ctx): Promise<QualityOutput> {
			const { output, all } = await runCheck(kind, p, ctx);
			if (!p.fix) {
				gate(output, all, p.severity, kind);
				return output;
			}
			const failed = gateMessage(all, p.severity ?? 'error', output.tool);
			if (!failed) return output;
			return fixLoop(kind, p as typeof p & { fix: FixSettings }, ctx, output, all);
		},
	});
}

const format = defineOperation({
	params: formatParams,
	// Its processes only read; what it changes goes through the journal.
	effect: 'workspace',
	summary: (p) => `${p.write ? 'format' : 'check formatting of'} ${describeTarget(p)} with ${describeTool(p)}`,
	touches: (p) => checkTouches(p, p.write === true),
	approvalReason: (p, sandbox) => {
		if (!p.write) return undefined;
		for (const rel of p.paths?.length ? p.paths : [p.cwd ?? '.']) {
			const reason = sandbox.approvalReason(rel);
			if (reason) return reason;
		}
		return undefined;
	},
	async run(p, ctx): Promise<QualityOutput> {
		const { output, all } = await runCheck('format', p, ctx);
		gate(output, all, p.severity, 'format');
		return output;
	},
});

/** Findings and checked files from `findings`, `from` and the checks the step runs itself. */
async function gather(p: ScoreParams, ctx: StepContext): Promise<{ findings: Finding[]; files: Set<string>; commands: string[]; exitCodes: (number | null)[] }> {
	const findings: Finding[] = [...(p.findings ?? [])];
	const files = new Set<string>();
	const commands: string[] = [];
	const exitCodes: (number | null)[] = [];
	for (const [i, item] of (p.from ?? []).entries()) {
		if (typeof item === 'string') {
			throw new StepError('parameters', `from[${i}] is the text "${clip(item, 60)}", not a step's output: write "\${steps.${item}.output}" so the engine passes that step's output`, { permanent: true });
		}
		if (Array.isArray(item)) findings.push(...item);
		else {
			findings.push(...item.findings);
			for (const f of item.files ?? []) files.add(f);
		}
	}
	const explicit = p.checks !== undefined;
	const checks = p.checks ?? (p.findings === undefined && p.from === undefined ? (['lint', 'typecheck'] as const) : []);
	for (const kind of checks) {
		try {
			const { output, all } = await runCheck(kind, { cwd: p.cwd, paths: kind === 'typecheck' ? undefined : p.paths, env: p.env, env_allow: p.env_allow, timeout_ms: p.timeout_ms, max_findings: p.max_findings }, ctx);
			findings.push(...all);
			for (const f of output.files ?? []) files.add(f);
			commands.push(output.command);
			exitCodes.push(output.exit_code);
		} catch (err) {
			// Unasked-for checks are whatever the project has: one it lacks is skipped, and said so.
			if (explicit || !StepError.is(err, 'not-found')) throw err;
			ctx.logger.log('info', 'quality', `${ctx.step.id}: no ${kind} check: ${describeError(err)}`);
			ctx.output('stderr', `skipped ${kind}: ${describeError(err)}\n`);
		}
	}
	if (!explicit && checks.length && commands.length === 0 && p.findings === undefined && p.from === undefined) {
		throw new StepError('not-found', `nothing to score in ${p.cwd ?? '.'}: no linter or type checker was found; give \`findings\`, \`from\` or \`checks\``, { permanent: true });
	}
	return { findings, files, commands, exitCodes };
}

const score = defineOperation({
	params: scoreParams,
	effect: 'external',
	summary: (p) => {
		const parts = [p.from?.length ? `${p.from.length} earlier step${p.from.length === 1 ? '' : 's'}` : '', p.findings ? 'given findings' : '', p.checks?.length ? p.checks.join(' + ') : ''].filter(Boolean);
		return `score ${parts.length ? parts.join(', ') : `lint + typecheck of ${describeTarget(p)}`}${p.min_score !== undefined ? ` (at least ${p.min_score})` : ''}`;
	},
	touches: (p) => ({ reads: p.paths?.length ? p.paths : [p.cwd ?? '.'], writes: [] }),
	async run(p, ctx): Promise<QualityOutput> {
		const { findings, files, commands, exitCodes } = await gather(p, ctx);
		const output = finish('score', commands.join(' && '), exitCodes.length ? (exitCodes.find((c) => c !== 0) ?? 0) : null, findings, p.max_findings);
		output.score = scoreFindings(findings, files);
		const c = output.counts;
		ctx.output('stdout', `quality score ${output.score.value} over ${output.score.checked} file${output.score.checked === 1 ? '' : 's'} (${c.error} errors, ${c.warning} warnings, ${c.info} notes)\n`);
		gate(output, findings, p.severity, 'score');
		if (p.min_score !== undefined && output.score.value < p.min_score) {
			const worst = Object.entries(output.score.files)[0];
			throw new StepError('failed', `quality score ${output.score.value} is below min_score ${p.min_score}${worst ? `; lowest: ${worst[0]} (${worst[1]})` : ''}`, { permanent: true });
		}
		return output;
	},
});

/** The workspace's own quality tools as steps, with findings, a severity gate and a score. */
export const qualityHandler: Handler = {
	type: 'quality',
	description: "Run the workspace's linters, type checkers, tests and formatters; findings gate the step and reach the Problems panel.",
	operations: {
		lint: checkOperation('lint', 'lint'),
		typecheck: checkOperation('typecheck', 'type-check'),
		test: checkOperation('test', 'test'),
		format,
		score,
	},
};
