// How agents read in "Show Agents" and the API: one row per agent (kind, capabilities, health, workload, metrics),
// the template "New Agent…" writes, and agent-file problems as located diagnostics. No vscode import.
import { AGENTS_DIR } from '../../core/agents/definition';
import type { AgentEntry, AgentHealth, AgentMetrics, AgentWorkload } from '../../core/agents/registry';
import { formatDuration } from '../../core/format';
import { formatTokens } from '../../protocol/usage';

/** An agent as the API lists it: its definition's facts, without the system prompt. */
export interface AgentInfo {
	name: string;
	kind: 'llm' | 'command';
	description: string;
	capabilities: string[];
	/** built-in, a workspace file, or registered through the API. */
	source: 'builtin' | 'workspace' | 'api';
	/** The definition file of a workspace agent (absolute). */
	file?: string;
	model?: string;
	tools?: string[];
	maxConcurrentTasks: number;
	/** What this agent hides (a workspace `coder.md` hides the built-in coder). */
	overrides: ('builtin' | 'workspace' | 'api')[];
}

/** A row of the Show Agents list. */
export interface AgentRow {
	name: string;
	/** The file to open (a workspace agent, or an invalid agent file). */
	file?: string;
	ok: boolean;
	/** `$(pass) coder`, `$(warning) coder`... */
	label: string;
	description: string;
	detail: string;
	info?: AgentInfo;
	problems: string[];
}

export function agentInfo(entry: AgentEntry): AgentInfo {
	const d = entry.definition;
	const info: AgentInfo = {
		name: d.name,
		kind: d.kind,
		description: d.description,
		capabilities: [...d.capabilities],
		source: d.source.kind,
		maxConcurrentTasks: d.max_concurrent_tasks,
		overrides: entry.overrides.map((o) => o.source.kind),
	};
	if (d.source.kind === 'workspace') info.file = d.source.file;
	if (d.kind === 'llm') {
		if (d.model) info.model = d.model;
		info.tools = [...d.tools];
	}
	return info;
}

const SOURCE_LABEL: Record<AgentInfo['source'], string> = { builtin: 'built-in', workspace: 'workspace', api: 'registered' };

/** One agent: kind, capabilities and where it comes from; then health problems, or workload and what it did. */
export function agentRow(entry: AgentEntry, health: AgentHealth | undefined, workload: AgentWorkload, metrics: AgentMetrics): AgentRow {
	const info = agentInfo(entry);
	const problems = health?.problems ?? [];
	const ok = problems.length === 0;
	const overrides = info.overrides.length ? ` (overrides the ${info.overrides.map((o) => SOURCE_LABEL[o]).join(' and ')} one)` : '';
	const description = `${info.kind} · ${info.capabilities.join(', ')} · ${SOURCE_LABEL[info.source]}${overrides}`;
	const work = `${workload.running}/${workload.max} running`;
	const done = metrics.tasks
		? `${metrics.tasks} task${metrics.tasks === 1 ? '' : 's'}, ${Math.round((metrics.successRate ?? 0) * 100)}% succeeded${metrics.meanDurationMs !== undefined ? `, mean ${formatDuration(metrics.meanDurationMs)}` : ''}, ${formatTokens(metrics.tokensIn + metrics.tokensOut)} tokens`
		: 'no tasks yet';
	const detail = ok ? `${work} · ${done}${info.description ? ` — ${info.description}` : ''}` : `${problems.join('; ')} · ${work} · ${done}`;
	return { name: info.name, ok, label: `$(${ok ? 'pass' : 'warning'}) ${info.name}`, description, detail, info, problems, ...(info.file ? { file: info.file } : {}) };
}

/** A workspace file that defines no usable agent: what is wrong with it. */
export function invalidAgentRow(health: AgentHealth): AgentRow {
	return {
		name: health.agent,
		ok: false,
		label: `$(error) ${health.agent}`,
		description: 'invalid definition file',
		detail: health.problems.join('; '),
		problems: health.problems,
		...(health.file ? { file: health.file } : {}),
	};
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Why `name` cannot name a new agent, or undefined when it can. */
export function agentNameProblem(name: string, taken: readonly string[]): string | undefined {
	if (!NAME.test(name)) return "Use letters, digits, '-', '_' or '.', starting with a letter or digit (at most 64)";
	if (taken.includes(name)) return `${AGENTS_DIR}/${name}.md already exists`;
	return undefined;
}

/** A new workspace agent's file: valid as it is, every key explained, ready to edit. */
export function agentTemplate(name: string): string {
	return `---
name: ${name}
description: What ${name} is good at, in one line (allocation and the planner read it)
# Tasks whose capabilities match these go to this agent (with load, past performance and specialisation).
capabilities: [code]
# kind: llm (the default) works through a tool loop; kind: command runs \`command\` (e.g. a coding-agent CLI) instead.
kind: llm
# model: gpt-4o-mini           # default: quantum.llm.roleModels.${name}, else quantum.llm.model
# Tools it may use; each call is a journaled, sandboxed step (rollback undoes it; risky ones ask you first).
tools: [read_file, list_files, search]
# tools: [read_file, write_file, modify_file, list_files, search, run_command, git]
max_concurrent_tasks: 1
---
You are ${name}. Say here how this agent works: what it looks at first, what it may change, how it checks its
work, and what its final answer contains. This text is the agent's system prompt.
`;
}

/** Where an agent file problem is, 0-based for an editor (line 1 column 1 when the error has no position). */
export function problemRange(location: { line?: number; column?: number }): { line: number; column: number } {
	return { line: Math.max(0, (location.line ?? 1) - 1), column: Math.max(0, (location.column ?? 1) - 1) };
}
