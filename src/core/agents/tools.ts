// The tools an LLM agent may call, as the model sees them (JSON Schema) and as the engine runs them (a child step
// of the agent's step: file, exec or git, so every call is journaled, sandboxed and subject to the policy).
import type { ToolStep } from '../handlers/types';
import type { LlmTool } from '../services/llm/client';
import type { AgentTool } from './definition';

/** Longest tool result sent back to the model; the rest is cut with a note (file contents, command output). */
export const TOOL_RESULT_MAX_CHARS = 20_000;

const GIT_OPERATIONS = ['status', 'diff', 'log', 'add', 'commit', 'branch', 'checkout', 'tag'] as const;

interface ToolSpec {
	description: string;
	parameters: Record<string, unknown>;
	/** The engine step for the model's arguments (already JSON-parsed); throws a message on bad arguments. */
	toStep(args: Record<string, unknown>): ToolStep;
}

const str = (description: string) => ({ type: 'string', description });

function need(args: Record<string, unknown>, key: string): string {
	const v = args[key];
	if (typeof v !== 'string' || v === '') throw new Error(`"${key}" must be a non-empty string`);
	return v;
}

function optional(args: Record<string, unknown>, key: string): string | undefined {
	const v = args[key];
	if (v === undefined || v === null) return undefined;
	if (typeof v !== 'string') throw new Error(`"${key}" must be a string`);
	return v;
}

const SPECS: Record<AgentTool, ToolSpec> = {
	read_file: {
		description: 'Read a text file of the workspace.',
		parameters: { type: 'object', properties: { path: str('Workspace-relative path.') }, required: ['path'], additionalProperties: false },
		toStep: (a) => ({ type: 'file', operation: 'read', parameters: { path: need(a, 'path') }, label: 'read_file' }),
	},
	write_file: {
		description: 'Create a file, or replace the whole content of an existing one.',
		parameters: {
			type: 'object',
			properties: { path: str('Workspace-relative path.'), content: str('The complete new content.') },
			required: ['path', 'content'],
			additionalProperties: false,
		},
		toStep: (a) => ({
			type: 'file',
			operation: 'create',
			parameters: { path: need(a, 'path'), content: typeof a.content === 'string' ? a.content : String(a.content ?? ''), overwrite: true },
			label: 'write_file',
		}),
	},
	modify_file: {
		description: 'Replace one exact piece of text in a file (give enough context for it to be unique), or append to it.',
		parameters: {
			type: 'object',
			properties: {
				path: str('Workspace-relative path.'),
				find: str('The exact text to replace.'),
				replace: str('What to put in its place.'),
				append: str('Text to add at the end instead of find/replace.'),
			},
			required: ['path'],
			additionalProperties: false,
		},
		toStep(a) {
			const path = need(a, 'path');
			const append = optional(a, 'append');
			if (append !== undefined) return { type: 'file', operation: 'modify', parameters: { path, append }, label: 'modify_file' };
			return { type: 'file', operation: 'modify', parameters: { path, find: need(a, 'find'), replace: optional(a, 'replace') ?? '', all: false }, label: 'modify_file' };
		},
	},
	list_files: {
		description: 'List workspace files (skips .git, node_modules and build output).',
		parameters: {
			type: 'object',
			properties: { path: str('Folder to start from (default: the workspace).'), pattern: str('Glob such as "src/**/*.ts".') },
			additionalProperties: false,
		},
		toStep: (a) => ({ type: 'file', operation: 'list', parameters: { path: optional(a, 'path') ?? '.', ...(optional(a, 'pattern') ? { pattern: optional(a, 'pattern') } : {}), max: 500 }, label: 'list_files' }),
	},
	search: {
		description: 'Find lines containing a text (case-insensitive) in workspace files.',
		parameters: {
			type: 'object',
			properties: { query: str('Text to find.'), path: str('Folder to search (default: the workspace).'), pattern: str('Only files matching this glob.') },
			required: ['query'],
			additionalProperties: false,
		},
		toStep: (a) => ({
			type: 'file',
			operation: 'search',
			parameters: { query: need(a, 'query'), path: optional(a, 'path') ?? '.', ...(optional(a, 'pattern') ? { pattern: optional(a, 'pattern') } : {}), max_results: 100 },
			label: 'search',
		}),
	},
	run_command: {
		description: 'Run a shell command line in the workspace (tests, builds, linters). Risky commands wait for the user.',
		parameters: {
			type: 'object',
			properties: { command: str('The command line.'), cwd: str('Workspace-relative folder (default: the workspace).') },
			required: ['command'],
			additionalProperties: false,
		},
		toStep: (a) => ({
			type: 'exec',
			operation: 'run',
			parameters: { command: need(a, 'command'), ...(optional(a, 'cwd') ? { cwd: optional(a, 'cwd') } : {}), allow_failure: true },
			label: 'run_command',
		}),
	},
	git: {
		description: `Run a git operation in the workspace repository: ${GIT_OPERATIONS.join(', ')}.`,
		parameters: {
			type: 'object',
			properties: {
				operation: { type: 'string', enum: [...GIT_OPERATIONS] },
				parameters: { type: 'object', description: 'The operation\'s parameters, e.g. {"message": "..."} for commit, {"paths": ["a.ts"]} for add.' },
			},
			required: ['operation'],
			additionalProperties: false,
		},
		toStep(a) {
			const operation = need(a, 'operation');
			if (!(GIT_OPERATIONS as readonly string[]).includes(operation)) throw new Error(`git operation must be one of ${GIT_OPERATIONS.join(', ')}`);
			const p = a.parameters;
			if (p !== undefined && (typeof p !== 'object' || p === null || Array.isArray(p))) throw new Error('"parameters" must be an object');
			return { type: 'git', operation, parameters: (p ?? {}) as Record<string, unknown>, label: `git ${operation}` };
		},
	},
};

/** The tool definitions an agent with these allowed tools is offered. */
export function toolDefinitions(allowed: readonly AgentTool[]): LlmTool[] {
	return allowed.map((name) => ({ name, description: SPECS[name].description, parameters: SPECS[name].parameters }));
}

/**
 * The engine step for a tool call, or a message for the model saying what is wrong: an unknown or not-allowed
 * tool, arguments that are not a JSON object, a missing argument.
 */
export function stepForToolCall(name: string, argsText: string, allowed: readonly AgentTool[]): { step: ToolStep } | { error: string } {
	if (!(allowed as readonly string[]).includes(name)) {
		return { error: `the tool "${name}" is not available to this agent; use one of: ${allowed.join(', ') || '(none)'}` };
	}
	let args: unknown;
	try {
		args = argsText.trim() ? JSON.parse(argsText) : {};
	} catch {
		return { error: `the arguments are not valid JSON: ${argsText.slice(0, 200)}` };
	}
	if (typeof args !== 'object' || args === null || Array.isArray(args)) return { error: 'the arguments must be a JSON object' };
	try {
		return { step: SPECS[name as AgentTool].toStep(args as Record<string, unknown>) };
	} catch (err) {
		return { error: err instanceof Error ? err.message : String(err) };
	}
}

/** A tool step's output as text for the model, cut to TOOL_RESULT_MAX_CHARS. */
export function toolResultText(output: unknown): string {
	let text: string;
	if (typeof output === 'string') text = output;
	else if (output && typeof output === 'object' && 'exit_code' in output) {
		const o = output as { exit_code: number | null; stdout: string; stderr: string };
		text = `exit code ${o.exit_code}\n--- stdout ---\n${o.stdout}\n--- stderr ---\n${o.stderr}`;
	} else text = JSON.stringify(output ?? null, null, 1);
	return text.length > TOOL_RESULT_MAX_CHARS ? `${text.slice(0, TOOL_RESULT_MAX_CHARS)}\n… (${text.length - TOOL_RESULT_MAX_CHARS} more characters cut)` : text;
}

/** Whether a tool changes the workspace (for counting an agent's edits). */
export function isWriteTool(name: string): boolean {
	return name === 'write_file' || name === 'modify_file';
}
