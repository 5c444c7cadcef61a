// Agent definitions: the model (zod), `.quantum/agents/*.md` files (YAML front matter + a Markdown system prompt),
// and command templates rendered to an argv (never through a shell unless the agent's author wrote a shell line).
import { readdir, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { AgentError, type ErrorLocation } from '../errors';
import { suggest } from '../workflow/suggest';

/** The tools an llm agent's tool loop may offer; each becomes an engine step (journaled, sandboxed, escalated). */
export const AGENT_TOOLS = ['read_file', 'write_file', 'modify_file', 'list_files', 'search', 'run_command', 'git'] as const;
export type AgentTool = (typeof AGENT_TOOLS)[number];

/** What an llm agent may use when its file names no `tools`: looking, never touching. */
export const READ_ONLY_TOOLS: readonly AgentTool[] = Object.freeze(['read_file', 'list_files', 'search'] as AgentTool[]);

export const COMMAND_PLACEHOLDERS = ['prompt', 'workspace', 'files'] as const;
export type CommandPlaceholder = (typeof COMMAND_PLACEHOLDERS)[number];

export const DEFAULT_COMMAND_TIMEOUT_MS = 10 * 60_000;
export const DEFAULT_MAX_CONCURRENT_TASKS = 1;

/** Workspace agents live here, relative to the workspace root (not the state folder: they are user configuration). */
export const AGENTS_DIR = '.quantum/agents';

/** A bigger file is almost certainly not an agent definition; refusing it keeps a stray dump from stalling a load. */
const MAX_FILE_BYTES = 256 * 1024;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

export type AgentSource = { kind: 'builtin' } | { kind: 'workspace'; file: string } | { kind: 'api' };

interface AgentBase {
	name: string;
	description: string;
	/** Lower-case, unique; what allocation matches a task's required capabilities against. */
	capabilities: string[];
	/** Step types this agent may be allocated to; empty = any. */
	step_types: string[];
	max_concurrent_tasks: number;
	/** The Markdown body of the file (for a command agent: documentation, passed nowhere). */
	system_prompt: string;
	source: AgentSource;
}

export interface LlmAgentDefinition extends AgentBase {
	kind: 'llm';
	/** Default: the endpoint's model. */
	model?: string;
	tools: AgentTool[];
}

export interface CommandAgentDefinition extends AgentBase {
	kind: 'command';
	/** An argv list (preferred: no shell) or a shell line; `{{prompt}}`, `{{workspace}}`, `{{files}}` are filled in. */
	command: string | string[];
	timeout_ms: number;
	retries: number;
}

export type AgentDefinition = LlmAgentDefinition | CommandAgentDefinition;

const fields = {
	name: z
		.string()
		.regex(NAME, "a name is letters, digits, '-', '_' or '.', starting with a letter or digit, at most 64 characters"),
	description: z.string().optional(),
	kind: z.enum(['llm', 'command']).optional(),
	capabilities: z.array(z.string().trim().min(1).max(64)).min(1, 'list at least one capability'),
	model: z.string().trim().min(1).optional(),
	tools: z.array(z.enum(AGENT_TOOLS)).optional(),
	step_types: z.array(z.string().trim().min(1)).optional(),
	max_concurrent_tasks: z.number().int().min(1).max(64).optional(),
	command: z.union([z.string().trim().min(1), z.array(z.string()).min(1)]).optional(),
	timeout_ms: z.number().int().min(1000).max(24 * 3_600_000).optional(),
	retries: z.number().int().min(0).max(10).optional(),
};

type Fields = z.output<z.ZodObject<typeof fields>>;

/**
 * The rules that depend on `kind`. Run even when other keys are wrong (so every problem is reported at once), hence
 * on a value whose other fields may have any type.
 */
function checkKinds(d: Record<string, unknown>, ctx: z.RefinementCtx): void {
	const command = typeof d.command === 'string' || (Array.isArray(d.command) && d.command.every((c) => typeof c === 'string')) ? (d.command as string | string[]) : undefined;
	const kind = d.kind === undefined ? (d.command !== undefined ? 'command' : 'llm') : d.kind;
	const notFor = (key: keyof Fields, message: string) => {
		if (d[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message });
	};
	if (kind === 'llm') {
		for (const key of ['command', 'timeout_ms', 'retries'] as const) notFor(key, `'${key}' is for command agents (kind: command)`);
		return;
	}
	if (kind !== 'command') return;
	notFor('tools', "'tools' limits the tool loop of llm agents; a command agent runs its own command");
	notFor('model', "'model' is for llm agents; a command agent runs its own command");
	if (d.command === undefined) {
		ctx.addIssue({
			code: 'custom',
			path: d.kind ? ['kind'] : [],
			message: 'a command agent needs `command`: an argv list such as [node, scripts/agent.js, "{{prompt}}"] (preferred) or a shell line',
		});
		return;
	}
	if (command === undefined) return;
	for (const problem of commandTemplateProblems(command)) ctx.addIssue({ code: 'custom', path: ['command', ...problem.keys], message: problem.message });
}

const alwaysCheck = { when: (payload: { value: unknown }) => isObject(payload.value) };

/** What a definition file's front matter holds (the body is the system prompt). */
export const agentFrontMatterSchema = z
	.object(fields)
	.strict()
	.superRefine((d, ctx) => checkKinds(d, ctx), alwaysCheck);

/** A definition given in code (the registry's `register`): the front matter's keys plus `system_prompt`. */
export const agentInputSchema = z
	.object({ ...fields, system_prompt: z.string().optional() })
	.strict()
	.superRefine((d, ctx) => checkKinds(d, ctx), alwaysCheck);

export type AgentInput = z.input<typeof agentInputSchema>;

function normalise(d: Fields & { system_prompt?: string }, source: AgentSource): AgentDefinition {
	const base: AgentBase = {
		name: d.name,
		description: d.description?.trim() ?? '',
		capabilities: unique(d.capabilities.map(normaliseCapability)),
		step_types: unique(d.step_types ?? []),
		max_concurrent_tasks: d.max_concurrent_tasks ?? DEFAULT_MAX_CONCURRENT_TASKS,
		system_prompt: (d.system_prompt ?? '').trim(),
		source,
	};
	if ((d.kind ?? (d.command !== undefined ? 'command' : 'llm')) === 'command') {
		return { ...base, kind: 'command', command: d.command!, timeout_ms: d.timeout_ms ?? DEFAULT_COMMAND_TIMEOUT_MS, retries: d.retries ?? 0 };
	}
	const llm: LlmAgentDefinition = { ...base, kind: 'llm', tools: unique(d.tools ?? [...READ_ONLY_TOOLS]) };
	if (d.model !== undefined) llm.model = d.model;
	return llm;
}

/** Capabilities compare case-insensitively, and `Unit Tests` matches `unit-tests`. */
export function normaliseCapability(capability: string): string {
	return capability.trim().toLowerCase().replace(/[\s_]+/g, '-');
}

function unique<T>(items: T[]): T[] {
	return [...new Set(items)];
}

/** Validates a definition given in code; throws AgentError 'definition' naming every problem. */
export function defineAgent(input: AgentInput, source: AgentSource = { kind: 'api' }): AgentDefinition {
	const result = agentInputSchema.safeParse(input);
	if (result.success) return normalise(result.data, source);
	const name = typeof (input as { name?: unknown })?.name === 'string' ? (input as { name: string }).name : undefined;
	const known = [...Object.keys(fields), 'system_prompt'];
	const problems = result.error.issues.flatMap((issue) => issueMessages(issue, input, known));
	throw new AgentError(
		'definition',
		`invalid agent definition${name ? ` '${name}'` : ''}: ${problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ')}`,
		{},
		name,
	);
}

// ---- Markdown files ---------------------------------------------------------------------------------------------

export interface ParsedAgentFile {
	agent?: AgentDefinition;
	/** Every problem found, each located (file, line, column, front-matter key). */
	problems: AgentError[];
	/** The name the file gives (or would give), even when it is invalid: hosts show "coder.md is broken". */
	name?: string;
}

interface FrontMatter {
	yaml: string;
	body: string;
}

const FENCE = /^---[ \t]*$/;
const END = /^(---|\.\.\.)[ \t]*$/;

function splitFrontMatter(text: string): FrontMatter | string {
	const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
	if (!FENCE.test(lines[0] ?? '')) {
		return 'no YAML front matter: an agent file starts with a line `---`, then keys such as name, description and capabilities, then `---` and the system prompt';
	}
	const end = lines.findIndex((line, i) => i > 0 && END.test(line));
	if (end < 0) return 'the front matter is not closed: add a line `---` after its last key';
	return { yaml: lines.slice(1, end).join('\n'), body: lines.slice(end + 1).join('\n') };
}

/** The file's name without `.md`, the agent's name when its front matter gives none. */
export function agentNameFromFile(file: string): string {
	return path.basename(file).replace(/\.md$/i, '');
}

/** Parses one agent file's text; `file` is used for locations and as the default name. Never throws. */
export function parseAgentFile(text: string, file: string): ParsedAgentFile {
	const at = (line: number, column = 1, key?: string): ErrorLocation => ({ file, line, column, ...(key ? { path: key } : {}) });
	const split = splitFrontMatter(text);
	if (typeof split === 'string') return { problems: [new AgentError('front-matter', split, at(1))] };
	const lineCounter = new LineCounter();
	const doc = parseDocument(split.yaml, { lineCounter, prettyErrors: true, uniqueKeys: true });
	// Front-matter lines start on the file's line 2.
	const fileLine = (offset: number) => {
		const pos = lineCounter.linePos(offset);
		return at(pos.line + 1, pos.col);
	};
	if (doc.errors.length) {
		return {
			problems: doc.errors.map((e) => {
				const pos = e.linePos?.[0];
				const message = `invalid YAML: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`;
				return new AgentError('front-matter', message, pos ? at(pos.line + 1, pos.col) : at(1));
			}),
		};
	}
	const data: unknown = doc.contents === null ? {} : doc.toJS({ maxAliasCount: 50 });
	if (!isObject(data)) {
		return { problems: [new AgentError('front-matter', 'the front matter is a YAML mapping of keys (name, description, capabilities, …)', at(2))] };
	}
	const name = typeof data.name === 'string' ? data.name : data.name === undefined ? agentNameFromFile(file) : undefined;
	const input = data.name === undefined ? { ...data, name } : data;
	const result = agentFrontMatterSchema.safeParse(input);
	if (result.success) {
		return { agent: normalise({ ...result.data, system_prompt: split.body }, { kind: 'workspace', file }), problems: [], name };
	}
	const known = Object.keys(fields);
	const problems = result.error.issues.flatMap((issue) => issueMessages(issue, input, known)).map((p) => {
		const offset = nodeOffset(doc.contents, p.keys, p.atKey);
		const loc = offset === undefined ? at(1) : fileLine(offset);
		if (p.path) loc.path = p.path;
		return new AgentError('definition', p.message, loc, name);
	});
	problems.sort((a, b) => (a.location.line ?? 0) - (b.location.line ?? 0) || (a.location.column ?? 0) - (b.location.column ?? 0));
	return { problems, name };
}

interface IssueText {
	message: string;
	keys: (string | number)[];
	/** `capabilities[2]`, the front-matter key as a person reads it. */
	path: string;
	atKey: boolean;
}

/** One text per problem: an issue listing several unknown keys becomes one per key, each at its own line. */
function issueMessages(issue: z.core.$ZodIssue, input: unknown, known: string[]): IssueText[] {
	const keys = issue.path.filter((k): k is string | number => typeof k !== 'symbol');
	const base = { keys, path: keyPath(keys), atKey: false };
	if (issue.code === 'unrecognized_keys') {
		return issue.keys.map((key) => {
			const hint = suggest(key, known);
			const message = `unknown key '${key}'${hint ? ` (did you mean '${hint}'?)` : `; keys: ${known.join(', ')}`}`;
			return { message, keys: [...keys, key], path: keyPath([...keys, key]), atKey: true };
		});
	}
	if (keys[0] === 'tools' && keys.length === 2 && issue.code === 'invalid_value') {
		const value = valueAt(input, keys);
		const hint = typeof value === 'string' ? suggest(value, AGENT_TOOLS) : undefined;
		return [{ ...base, message: `unknown tool ${JSON.stringify(value)}${hint ? ` (did you mean '${hint}'?)` : ''}; tools: ${AGENT_TOOLS.join(', ')}` }];
	}
	if (issue.code === 'invalid_type' && keys.length > 0 && valueAt(input, keys) === undefined) {
		return [{ ...base, keys: keys.slice(0, -1), message: `missing required key '${keyPath(keys)}'` }];
	}
	return [{ ...base, message: issue.message.replace(/^Invalid input: /, '') }];
}

function keyPath(keys: readonly (string | number)[]): string {
	return keys.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
}

function isObject(v: unknown): v is Record<string, unknown> {
	return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function valueAt(root: unknown, keys: readonly (string | number)[]): unknown {
	let v = root;
	for (const k of keys) {
		if (typeof v !== 'object' || v === null) return undefined;
		v = (v as Record<string | number, unknown>)[k];
	}
	return v;
}

function rangeStart(node: unknown): number | undefined {
	const range = (node as { range?: [number, number, number] } | null)?.range;
	return range ? range[0] : undefined;
}

/** Offset of the YAML node at `keys` (its key when `atKey`), or of the nearest ancestor that exists. */
function nodeOffset(root: unknown, keys: readonly (string | number)[], atKey: boolean): number | undefined {
	let node = root;
	let offset = rangeStart(node);
	for (let i = 0; i < keys.length; i++) {
		if (isMap(node)) {
			const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === keys[i]);
			if (!pair) return offset;
			if (atKey && i === keys.length - 1) return rangeStart(pair.key) ?? offset;
			offset = rangeStart(pair.value) ?? rangeStart(pair.key) ?? offset;
			node = pair.value;
		} else if (isSeq(node) && typeof keys[i] === 'number') {
			const item = node.items[keys[i] as number];
			if (item === undefined) return offset;
			offset = rangeStart(item) ?? offset;
			node = item;
		} else {
			return offset;
		}
	}
	return offset;
}

export interface LoadedAgents {
	/** The folder read (absolute). */
	dir: string;
	/** Valid definitions, in file-name order; a bad file never hides the good ones. */
	agents: AgentDefinition[];
	/** One or more per bad file, each naming the file and line. */
	problems: AgentError[];
	/** Names given by files that are invalid (so a host can say which agent is broken). */
	invalid: { file: string; name?: string }[];
}

/** Reads `<workspaceRoot>/.quantum/agents/*.md`. A missing folder is no agents, not a problem. */
export async function loadWorkspaceAgents(workspaceRoot: string, opts: { dir?: string } = {}): Promise<LoadedAgents> {
	const dir = path.resolve(workspaceRoot, opts.dir ?? AGENTS_DIR);
	const out: LoadedAgents = { dir, agents: [], problems: [], invalid: [] };
	let names: string[];
	try {
		names = (await readdir(dir)).filter((n) => /\.md$/i.test(n)).sort();
	} catch (err) {
		const code = (err as NodeJS.ErrnoException).code;
		if (code === 'ENOENT') return out;
		out.problems.push(new AgentError('io', `cannot read the agents folder: ${code ?? (err as Error).message}`, { file: dir }));
		return out;
	}
	const byName = new Map<string, string>();
	for (const n of names) {
		const file = path.join(dir, n);
		const text = await readAgentFile(file, out);
		if (text === undefined) continue;
		const parsed = parseAgentFile(text, file);
		if (!parsed.agent) {
			out.problems.push(...parsed.problems);
			out.invalid.push({ file, ...(parsed.name !== undefined ? { name: parsed.name } : {}) });
			continue;
		}
		const first = byName.get(parsed.agent.name);
		if (first) {
			out.problems.push(
				new AgentError('duplicate', `agent '${parsed.agent.name}' is already defined in ${path.basename(first)}; this file is ignored`, { file, line: 1, column: 1 }, parsed.agent.name),
			);
			continue;
		}
		byName.set(parsed.agent.name, file);
		out.agents.push(parsed.agent);
	}
	return out;
}

async function readAgentFile(file: string, out: LoadedAgents): Promise<string | undefined> {
	try {
		const info = await stat(file);
		if (!info.isFile()) return undefined;
		if (info.size > MAX_FILE_BYTES) {
			out.problems.push(new AgentError('io', `the file is ${info.size} bytes; an agent file holds at most ${MAX_FILE_BYTES}`, { file }));
			out.invalid.push({ file });
			return undefined;
		}
		return await readFile(file, 'utf8');
	} catch (err) {
		out.problems.push(new AgentError('io', `cannot read the agent file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file }));
		out.invalid.push({ file });
		return undefined;
	}
}

// ---- Command templates ------------------------------------------------------------------------------------------

interface TemplateProblem {
	keys: (string | number)[];
	message: string;
}

function placeholdersOf(text: string): string[] {
	return [...text.matchAll(PLACEHOLDER)].map((m) => m[1]);
}

function commandTemplateProblems(command: string | string[]): TemplateProblem[] {
	const problems: TemplateProblem[] = [];
	const parts = typeof command === 'string' ? [command] : command;
	parts.forEach((part, i) => {
		const keys = typeof command === 'string' ? [] : [i];
		for (const name of placeholdersOf(part)) {
			if (!(COMMAND_PLACEHOLDERS as readonly string[]).includes(name)) {
				const hint = suggest(name, COMMAND_PLACEHOLDERS);
				problems.push({ keys, message: `unknown placeholder {{${name}}}${hint ? ` (did you mean {{${hint}}}?)` : ''}; placeholders: {{prompt}}, {{workspace}}, {{files}}` });
			}
		}
	});
	if (Array.isArray(command) && command[0]?.trim() === '') problems.push({ keys: [0], message: 'the executable (the first item) is empty' });
	if (typeof command === 'string') {
		const quoted = quotedPlaceholders(command);
		if (quoted.length) {
			problems.push({
				keys: [],
				message: `write ${quoted.map((q) => `{{${q}}}`).join(', ')} without quotes around it: values are shell-quoted for you (or use an argv list, which needs no quoting)`,
			});
		}
	}
	return problems;
}

/** Placeholders inside '…' or "…" in a shell line: quoting them again would break the quoting we add. */
function quotedPlaceholders(line: string): string[] {
	const found: string[] = [];
	let quote: "'" | '"' | undefined;
	for (let i = 0; i < line.length; i++) {
		const c = line[i];
		if (quote !== "'" && c === '\\') {
			i++;
			continue;
		}
		if (quote === undefined && (c === "'" || c === '"')) quote = c;
		else if (c === quote) quote = undefined;
		else if (quote && c === '{' && line[i + 1] === '{') {
			const m = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/.exec(line.slice(i));
			if (m) found.push(m[1]);
		}
	}
	return found;
}

export interface CommandVars {
	prompt: string;
	/** The workspace root (absolute). */
	workspace: string;
	/** Workspace-relative files the task is about. */
	files?: readonly string[];
}

/** What the `exec` handler runs for a command agent: `{command, args}` without a shell, or a shell line. */
export interface CommandInvocation {
	command: string;
	/** Present exactly when `shell` is false. */
	args?: string[];
	shell: boolean;
	timeout_ms: number;
	retries: number;
}

/** POSIX shell quoting: safe words stay as they are, anything else goes in single quotes. */
export function shellQuote(value: string): string {
	return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Fills a command agent's template. In an argv list an item that is exactly `{{files}}` becomes one argument per file;
 * elsewhere files are joined with spaces. In a shell line every value is shell-quoted. No value ever reaches a shell
 * unquoted. (A prompt starting with `-` can still look like an option to the agent's tool: put `--` before it.)
 */
export function renderCommand(agent: CommandAgentDefinition, vars: CommandVars): CommandInvocation {
	const files = vars.files ?? [];
	for (const [what, value] of [['prompt', vars.prompt], ['workspace', vars.workspace], ...files.map((f) => ['file', f])] as const) {
		if (value.includes('\0')) throw new AgentError('render', `the ${what} contains a NUL character, which no command line can carry`, {}, agent.name);
	}
	const values: Record<CommandPlaceholder, string> = { prompt: vars.prompt, workspace: vars.workspace, files: files.join(' ') };
	const fill = (text: string, quote: (v: string) => string) =>
		text.replace(PLACEHOLDER, (whole, name: string) => {
			if (name === 'files' && quote !== identity) return files.map(quote).join(' ');
			return name in values ? quote(values[name as CommandPlaceholder]) : whole;
		});
	const common = { timeout_ms: agent.timeout_ms, retries: agent.retries };
	if (typeof agent.command === 'string') return { command: fill(agent.command, shellQuote), shell: true, ...common };
	const argv = agent.command.flatMap((item) => (/^\{\{\s*files\s*\}\}$/.test(item) ? [...files] : [fill(item, identity)]));
	return { command: argv[0], args: argv.slice(1), shell: false, ...common };
}

const identity = (v: string) => v;

/** The executable a command agent runs (for health checks), or undefined when a placeholder chooses it. */
export function commandExecutable(agent: CommandAgentDefinition, workspace: string): string | undefined {
	let first: string | undefined;
	if (Array.isArray(agent.command)) {
		first = agent.command[0];
	} else {
		// Skip leading VAR=value assignments; a quoted or substituted executable is not worth guessing.
		const words = agent.command.trim().split(/\s+/);
		first = words.find((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w));
		if (first && /^['"$`(]/.test(first)) return undefined;
	}
	if (!first) return undefined;
	const filled = first.replace(/\{\{\s*workspace\s*\}\}/g, workspace);
	return /\{\{\s*[A-Za-z_]/.test(filled) ? undefined : filled;
}
