// `qo agents`: the agents `agent` steps can be given to — built-in and `.quantum/agents/*.md` — with their health
// and what runs taught about them; `qo agents show NAME` for one in full; `qo agents check` for the files' problems.
import * as path from 'node:path';
import type { Command } from 'commander';
import type { AgentDefinition } from '../core/agents/definition';
import type { AgentHealth } from '../core/agents/registry';
import type { Engine } from '../core/engine';
import { formatDuration } from '../core/format';
import { rejectAll } from '../core/ports';
import { llmSettingsFromEnv } from '../core/services/llm/settings';
import { EXIT, type Cli, type GlobalOptions } from './cli';

function source(d: AgentDefinition, root = ''): string {
	if (d.source.kind !== 'workspace') return d.source.kind === 'builtin' ? 'built-in' : 'registered';
	return root ? path.relative(root, d.source.file).split(path.sep).join('/') : d.source.file;
}

function workOf(d: AgentDefinition): string {
	if (d.kind === 'llm') return `tools: ${d.tools.join(', ') || 'none'}${d.model ? `; model ${d.model}` : ''}`;
	return `command: ${Array.isArray(d.command) ? d.command.join(' ') : d.command}`;
}

function learned(engine: Engine, name: string): string {
	const s = engine.learning.stats(name);
	if (!s || s.tasks === 0) return 'no tasks yet';
	const rate = Math.round((100 * s.successes) / s.tasks);
	const mean = s.meanMs !== undefined ? `, mean ${formatDuration(s.meanMs)}` : '';
	return `${s.tasks} task${s.tasks === 1 ? '' : 's'}, ${rate}% succeeded${mean}, ${(s.tokensIn + s.tokensOut).toLocaleString('en-US')} tokens`;
}

async function health(engine: Engine): Promise<Map<string, AgentHealth>> {
	const all = await engine.agents.healthAll({ llmConfigured: llmSettingsFromEnv(process.env) !== undefined, workspaceRoot: engine.workspace });
	return new Map(all.map((h) => [h.agent, h]));
}

export function addAgentsCommand(program: Command, cli: Cli, globals: () => GlobalOptions): void {
	const agents = program
		.command('agents')
		.description('the agents agent steps are given to: built-in and .quantum/agents/*.md, with health and track record')
		.option('--json', 'machine-readable list')
		.action(async (o) => {
			const engine = await cli.engine(globals(), rejectAll);
			const byName = await health(engine);
			const list = engine.agents.list().map(({ definition: d, overrides }) => ({ d, overrides, h: byName.get(d.name) }));
			if (o.json) {
				cli.out(
					JSON.stringify(
						list.map(({ d, overrides, h }) => ({
							name: d.name,
							kind: d.kind,
							source: source(d, engine.workspace),
							description: d.description,
							capabilities: d.capabilities,
							max_concurrent_tasks: d.max_concurrent_tasks,
							...(d.kind === 'llm' ? { tools: d.tools, model: d.model } : { command: d.command }),
							overrides: overrides.map((x) => source(x, engine.workspace)),
							health: h ? { ok: h.ok, problems: h.problems } : undefined,
							learned: engine.learning.stats(d.name) ?? null,
						})),
					),
				);
				return;
			}
			for (const { d, overrides, h } of list) {
				const mark = h && !h.ok ? '!' : ' ';
				cli.out(`${mark} ${d.name}  (${d.kind}, ${source(d, engine.workspace)}${overrides.length ? `, overrides the ${overrides.map((o) => source(o, engine.workspace)).join(', ')} one` : ''})`);
				if (d.description) cli.out(`    ${d.description}`);
				cli.out(`    capabilities: ${d.capabilities.join(', ')}; up to ${d.max_concurrent_tasks} at once; ${workOf(d)}`);
				cli.out(`    record: ${learned(engine, d.name)}`);
				for (const p of h?.problems ?? []) cli.out(`    problem: ${p}`);
			}
			for (const h of byName.values()) if (!engine.agents.has(h.agent)) for (const p of h.problems) cli.out(`! ${h.agent}: ${p}`);
			cli.out('\nAllocation: capability 40% + load 30% + past performance 20% + specialisation 10%; "agent" in a step overrides it.');
		});

	agents
		.command('show')
		.description("one agent in full, with its system prompt")
		.argument('<name>', 'agent name')
		.action(async (name: string) => {
			const engine = await cli.engine(globals(), rejectAll);
			const d = engine.agents.require(name);
			const h = (await health(engine)).get(name);
			cli.out(`${d.name} (${d.kind}, ${source(d, engine.workspace)})`);
			if (d.description) cli.out(d.description);
			cli.out(`capabilities: ${d.capabilities.join(', ')}`);
			if (d.step_types.length) cli.out(`step types: ${d.step_types.join(', ')}`);
			cli.out(`up to ${d.max_concurrent_tasks} task${d.max_concurrent_tasks === 1 ? '' : 's'} at once`);
			cli.out(workOf(d));
			if (d.kind === 'command') cli.out(`timeout ${formatDuration(d.timeout_ms)}, ${d.retries} retr${d.retries === 1 ? 'y' : 'ies'}`);
			cli.out(`record: ${learned(engine, d.name)}`);
			for (const p of h?.problems ?? []) cli.out(`problem: ${p}`);
			if (d.system_prompt.trim()) cli.out(`\n${d.system_prompt.trim()}`);
		});

	agents
		.command('check')
		.description('check .quantum/agents/*.md: every problem with its file and line (exit 2 when there are any)')
		.action(async () => {
			const engine = await cli.engine(globals(), rejectAll);
			const problems = await engine.reloadAgents();
			const bad = engine.agents.problems();
			if (bad.length === 0) {
				cli.out(`${engine.agents.list().filter((e) => e.definition.source.kind === 'workspace').length} workspace agent file(s) are valid.`);
				for (const n of problems) cli.out(`  note: ${n}`);
				return;
			}
			for (const p of bad) cli.err(p.describe());
			cli.exitCode = EXIT.invalid;
		});
}
