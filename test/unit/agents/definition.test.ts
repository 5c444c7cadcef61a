import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_AGENT_NAMES, builtinAgents } from '../../../src/core/agents/builtin';
import {
	defineAgent,
	loadWorkspaceAgents,
	parseAgentFile,
	READ_ONLY_TOOLS,
	renderCommand,
	type CommandAgentDefinition,
} from '../../../src/core/agents/definition';
import { AgentError } from '../../../src/core/errors';
import { tempDir } from '../../helpers/tmp';

function workspaceWith(files: Record<string, string>): string {
	const root = tempDir('qo-agents-');
	mkdirSync(join(root, '.quantum', 'agents'), { recursive: true });
	for (const [name, text] of Object.entries(files)) writeFileSync(join(root, '.quantum', 'agents', name), text);
	return root;
}

const DOCS = `---
name: docs-writer
description: Writes documentation
capabilities: [docs, Writing]
model: small-model
tools: [read_file, write_file]
max_concurrent_tasks: 2
---

You write clear documentation.
`;

describe('agent definitions', () => {
	it('loads workspace agents: front matter, defaults, and the Markdown body as the system prompt', async () => {
		const root = workspaceWith({
			'docs-writer.md': DOCS,
			'helper.md': '---\ncapabilities: [analysis]\n---\nHelp.\n',
			'notes.txt': 'not an agent',
		});
		const { agents, problems } = await loadWorkspaceAgents(root);
		assert.deepEqual(problems, []);
		assert.deepEqual(
			agents.map((a) => a.name),
			['docs-writer', 'helper'],
		);
		const [docs, helper] = agents;
		assert.equal(docs.kind, 'llm');
		assert.deepEqual(docs.capabilities, ['docs', 'writing']);
		assert.equal(docs.max_concurrent_tasks, 2);
		assert.equal(docs.system_prompt, 'You write clear documentation.');
		assert.deepEqual(docs.source, { kind: 'workspace', file: join(root, '.quantum', 'agents', 'docs-writer.md') });
		assert.ok(docs.kind === 'llm' && docs.model === 'small-model' && docs.tools.join() === 'read_file,write_file');
		// No name: the file's; no tools: read-only; no limit: one task at a time.
		assert.equal(helper.name, 'helper');
		assert.ok(helper.kind === 'llm');
		assert.deepEqual(helper.tools, READ_ONLY_TOOLS);
		assert.equal(helper.max_concurrent_tasks, 1);
	});

	it('a missing agents folder is no agents and no problems', async () => {
		const result = await loadWorkspaceAgents(tempDir());
		assert.deepEqual(result.agents, []);
		assert.deepEqual(result.problems, []);
	});

	it('bad YAML names the file and line, and the good files still load', async () => {
		const root = workspaceWith({
			'a-good.md': DOCS,
			'broken.md': '---\nname: broken\ncapabilities: [code\ndescription: x\n---\nbody\n',
		});
		const { agents, problems, invalid } = await loadWorkspaceAgents(root);
		assert.deepEqual(
			agents.map((a) => a.name),
			['docs-writer'],
		);
		assert.equal(problems.length, 1);
		const p = problems[0];
		assert.ok(AgentError.is(p, 'front-matter'));
		assert.equal(p.location.file, join(root, '.quantum', 'agents', 'broken.md'));
		assert.equal(p.location.line, 4, p.describe());
		assert.match(p.describe(), /broken\.md:4:\d+: invalid YAML: /);
		assert.deepEqual(invalid, [{ file: p.location.file }]);
	});

	it('a bad field names its front-matter key and line, with a "did you mean"', () => {
		const text = '---\nname: x\ncapabilities:\n  - code\ntools: [read_file, writ_file]\nmax_concurrent_tasks: two\ncolour: red\n---\n';
		const { agent, problems, name } = parseAgentFile(text, '/w/.quantum/agents/x.md');
		assert.equal(agent, undefined);
		assert.equal(name, 'x');
		const described = problems.map((p) => p.describe());
		assert.deepEqual(described, [
			"/w/.quantum/agents/x.md:5:20 tools[1]: unknown tool \"writ_file\" (did you mean 'write_file'?); tools: read_file, write_file, modify_file, list_files, search, run_command, git",
			'/w/.quantum/agents/x.md:6:23 max_concurrent_tasks: expected number, received string',
			"/w/.quantum/agents/x.md:7:1 colour: unknown key 'colour'; keys: name, description, kind, capabilities, model, tools, step_types, max_concurrent_tasks, command, timeout_ms, retries",
		]);
		assert.ok(problems.every((p) => AgentError.is(p, 'definition') && p.agent === 'x'));
	});

	it('a missing required key points at the front matter', () => {
		const { problems } = parseAgentFile('---\nname: x\ndescription: no capabilities\n---\n', 'x.md');
		assert.deepEqual(
			problems.map((p) => p.describe()),
			["x.md:2:1 capabilities: missing required key 'capabilities'"],
		);
	});

	it('a file without front matter, or with an unclosed one, says how to write it', () => {
		assert.match(parseAgentFile('# Just Markdown\n', 'a.md').problems[0].describe(), /^a\.md:1:1: no YAML front matter/);
		assert.match(parseAgentFile('---\nname: a\n', 'a.md').problems[0].describe(), /^a\.md:1:1: the front matter is not closed/);
		assert.match(parseAgentFile('---\n- a\n- b\n---\n', 'a.md').problems[0].message, /a YAML mapping/);
	});

	it('reads files with a byte-order mark and Windows line endings', () => {
		const { agent, problems } = parseAgentFile('\uFEFF---\r\nname: w\r\ncapabilities: [code]\r\n---\r\nPrompt.\r\n', 'w.md');
		assert.deepEqual(problems, []);
		assert.equal(agent?.name, 'w');
		assert.equal(agent?.system_prompt, 'Prompt.');
	});

	it('two files with the same name: the second is a duplicate problem and ignored', async () => {
		const root = workspaceWith({ 'a.md': DOCS, 'b.md': DOCS.replace('Writes documentation', 'Other') });
		const { agents, problems } = await loadWorkspaceAgents(root);
		assert.equal(agents.length, 1);
		assert.equal(agents[0].description, 'Writes documentation');
		assert.ok(AgentError.is(problems[0], 'duplicate'));
		assert.match(problems[0].describe(), /b\.md:1:1: agent 'docs-writer' is already defined in a\.md/);
	});

	it('command agents: kind inferred from `command`, defaults, and kind-specific keys checked', () => {
		const ok = parseAgentFile('---\nname: lint\ncapabilities: [lint]\ncommand: [node, tools/lint.js, "{{prompt}}"]\n---\n', 'lint.md').agent;
		assert.ok(ok?.kind === 'command');
		assert.equal(ok.timeout_ms, 600_000);
		assert.equal(ok.retries, 0);

		const messages = (text: string) => parseAgentFile(text, 'c.md').problems.map((p) => p.describe());
		assert.deepEqual(messages('---\ncapabilities: [a]\nkind: command\n---\n'), [
			'c.md:3:7 kind: a command agent needs `command`: an argv list such as [node, scripts/agent.js, "{{prompt}}"] (preferred) or a shell line',
		]);
		assert.deepEqual(messages('---\ncapabilities: [a]\nkind: llm\ncommand: x\nretries: 2\n---\n'), [
			"c.md:4:10 command: 'command' is for command agents (kind: command)",
			"c.md:5:10 retries: 'retries' is for command agents (kind: command)",
		]);
		assert.deepEqual(messages('---\ncapabilities: [a]\ncommand: [x, "{{promt}}"]\ntools: [git]\n---\n'), [
			'c.md:3:14 command[1]: unknown placeholder {{promt}} (did you mean {{prompt}}?); placeholders: {{prompt}}, {{workspace}}, {{files}}',
			"c.md:4:8 tools: 'tools' limits the tool loop of llm agents; a command agent runs its own command",
		]);
		// Kind rules are checked even when other keys are wrong: every problem at once, in line order.
		assert.deepEqual(messages('---\nkind: llm\ncommand: x\nmax_concurrent_tasks: 0\n---\n'), [
			"c.md:2:1 capabilities: missing required key 'capabilities'",
			"c.md:3:10 command: 'command' is for command agents (kind: command)",
			'c.md:4:23 max_concurrent_tasks: Too small: expected number to be >=1',
		]);
		assert.match(messages('---\ncapabilities: [a]\ncommand: tool --ask "{{prompt}}"\n---\n')[0], /write \{\{prompt\}\} without quotes/);
	});

	it('an argv command passes the prompt and each file as one argument each, never through a shell', () => {
		const agent = defineAgent({
			name: 'echo',
			capabilities: ['x'],
			command: [process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', '--', '{{prompt}}', 'at={{workspace}}', '{{files}}'],
		}) as CommandAgentDefinition;
		const prompt = `it's "quoted"; $(touch /tmp/pwned) \`id\` & echo`;
		const inv = renderCommand(agent, { prompt, workspace: '/w s', files: ['a b.ts', '-c.ts'] });
		assert.equal(inv.shell, false);
		const out = execFileSync(inv.command, inv.args!, { encoding: 'utf8' });
		assert.deepEqual(JSON.parse(out), [prompt, 'at=/w s', 'a b.ts', '-c.ts']);
	});

	it('a shell-line command quotes every value, so the shell sees each as one word', () => {
		const agent = defineAgent({
			name: 'sh',
			capabilities: ['x'],
			command: `${JSON.stringify(process.execPath)} -e 'process.stdout.write(JSON.stringify(process.argv.slice(1)))' -- {{prompt}} {{files}}`,
		}) as CommandAgentDefinition;
		for (const prompt of [`it's "quoted"; $(echo pwned) \`id\` | cat && exit 3`, '', "'", 'new\nline']) {
			const inv = renderCommand(agent, { prompt, workspace: '/w', files: ['a b', "c'd"] });
			assert.equal(inv.shell, true);
			assert.equal(inv.args, undefined);
			const out = execFileSync('/bin/sh', ['-c', inv.command], { encoding: 'utf8' });
			assert.deepEqual(JSON.parse(out), [prompt, 'a b', "c'd"]);
		}
	});

	it('a prompt with a NUL character is refused, naming the agent', () => {
		const agent = defineAgent({ name: 'n', capabilities: ['x'], command: ['tool', '{{prompt}}'] }) as CommandAgentDefinition;
		assert.throws(() => renderCommand(agent, { prompt: 'a\0b', workspace: '/w' }), (err: unknown) => AgentError.is(err, 'render') && err.agent === 'n');
	});

	it('defineAgent lists every problem of a definition given in code', () => {
		assert.throws(
			() => defineAgent({ name: 'bad name!', capabilities: [], tols: [] } as never),
			(err: unknown) => {
				assert.ok(AgentError.is(err, 'definition'));
				assert.match(err.message, /name: a name is letters/);
				assert.match(err.message, /capabilities: list at least one capability/);
				assert.match(err.message, /tols: unknown key 'tols' \(did you mean 'tools'\?\)/);
				return true;
			},
		);
	});

	it('the built-in agents are valid, focused, and the reviewer and architect only read', () => {
		const agents = builtinAgents();
		assert.deepEqual(
			agents.map((a) => a.name),
			[...BUILTIN_AGENT_NAMES],
		);
		assert.deepEqual(BUILTIN_AGENT_NAMES, ['architect', 'coder', 'reviewer', 'tester']);
		const by = Object.fromEntries(agents.map((a) => [a.name, a]));
		assert.deepEqual(by.architect.capabilities, ['design', 'planning', 'analysis']);
		assert.deepEqual(by.coder.capabilities, ['code', 'implement', 'refactor', 'fix']);
		assert.deepEqual(by.reviewer.capabilities, ['review', 'analysis', 'security']);
		assert.deepEqual(by.tester.capabilities, ['test', 'quality']);
		for (const name of ['architect', 'reviewer']) {
			const a = by[name];
			assert.ok(a.kind === 'llm' && a.tools.every((t) => READ_ONLY_TOOLS.includes(t)), `${name} is read-only`);
		}
		for (const a of agents) {
			assert.equal(a.source.kind, 'builtin');
			assert.ok(a.system_prompt.length > 400, `${a.name} has a real system prompt`);
			assert.match(a.system_prompt, /Be concise/);
		}
	});

	it('the example workspace agents are valid', async () => {
		const { agents, problems } = await loadWorkspaceAgents(join(__dirname, '../../../examples/workspace'));
		assert.deepEqual(problems, []);
		const kinds = Object.fromEntries(agents.map((a) => [a.name, a.kind]));
		assert.equal(kinds['docs-writer'], 'llm');
		assert.ok(Object.values(kinds).includes('command'));
	});

	it('the example command agent runs for real through its argv', async () => {
		const workspace = join(__dirname, '../../../examples/workspace');
		const { agents } = await loadWorkspaceAgents(workspace);
		const agent = agents.find((a) => a.name === 'todo-finder');
		assert.ok(agent?.kind === 'command');
		const dir = tempDir();
		writeFileSync(join(dir, 'a.ts'), 'const a = 1;\n// TODO: name this better\n');
		const inv = renderCommand(agent, { prompt: 'find the notes; rm -rf /', workspace, files: [join(dir, 'a.ts')] });
		const out = execFileSync(inv.command, inv.args!, { cwd: workspace, encoding: 'utf8', timeout: inv.timeout_ms });
		assert.match(out, /^task: find the notes; rm -rf \//);
		assert.match(out, /a\.ts:2: TODO name this better/);
		assert.match(out, /1 note in 1 file/);
	});
});
