import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LearningStore } from '../../../src/core/agents/learning';
import { AgentRegistry, findExecutable, type AgentChange } from '../../../src/core/agents/registry';
import { AgentError } from '../../../src/core/errors';
import { tempDir } from '../../helpers/tmp';

function fakeClock(start = 1_000_000) {
	let t = start;
	return { now: () => t, advance: (ms: number) => (t += ms) };
}

function workspaceWith(files: Record<string, string>): string {
	const root = tempDir('qo-agents-');
	mkdirSync(join(root, '.quantum', 'agents'), { recursive: true });
	for (const [name, text] of Object.entries(files)) writeFileSync(join(root, '.quantum', 'agents', name), text);
	return root;
}

const NODE_PATH = { PATH: dirname(process.execPath) };

describe('agent registry', () => {
	it('starts with the built-in agents', () => {
		const reg = new AgentRegistry();
		assert.deepEqual(reg.names(), ['architect', 'coder', 'reviewer', 'tester']);
		assert.equal(reg.get('coder')?.source.kind, 'builtin');
		assert.deepEqual(new AgentRegistry({ builtins: false }).names(), []);
	});

	it('workspace agents override built-ins by name, say so, and the built-in returns when the override goes', async () => {
		const root = workspaceWith({
			'coder.md': '---\ncapabilities: [code, python]\n---\nPython only.\n',
			'docs.md': '---\ncapabilities: [docs]\n---\n',
		});
		const reg = new AgentRegistry();
		const { notes, problems } = await reg.loadWorkspace(root);
		assert.deepEqual(problems, []);
		assert.deepEqual(notes, ['coder: coder.md overrides the built-in agent']);
		assert.deepEqual(reg.get('coder')?.capabilities, ['code', 'python']);
		const entry = reg.list().find((e) => e.definition.name === 'coder')!;
		assert.deepEqual(
			entry.overrides.map((d) => d.source.kind),
			['builtin'],
		);
		assert.deepEqual(reg.names(), ['architect', 'coder', 'docs', 'reviewer', 'tester']);

		assert.equal(reg.unregister('coder')?.source.kind, 'workspace');
		assert.equal(reg.get('coder')?.source.kind, 'builtin');
		// Reloading a workspace without the files drops its agents.
		await reg.loadWorkspace(tempDir());
		assert.equal(reg.has('docs'), false);
	});

	it('an invalid workspace override leaves the built-in in use and shows up in health', async () => {
		const root = workspaceWith({ 'coder.md': '---\nname: coder\ncapabilities: [code]\ntools: [teleport]\n---\n', 'junk.md': 'no front matter' });
		const reg = new AgentRegistry();
		const { notes, problems } = await reg.loadWorkspace(root);
		assert.deepEqual(notes, ['coder: coder.md is invalid, so the built-in agent is used']);
		assert.equal(problems.length, 2);
		assert.equal(reg.get('coder')?.source.kind, 'builtin');
		const health = await reg.healthAll({ llmConfigured: true });
		const coder = health.find((h) => h.agent === 'coder')!;
		assert.equal(coder.ok, false);
		assert.match(coder.problems[0], /^coder\.md is invalid \(line 4: tools\[0\]: unknown tool "teleport".*\); the built-in agent is used instead$/);
		const junk = health.find((h) => h.agent === 'junk')!;
		assert.equal(junk.ok, false);
		assert.match(junk.problems[0], /^invalid definition: line 1: no YAML front matter/);
		assert.ok(health.filter((h) => h.agent !== 'coder' && h.agent !== 'junk').every((h) => h.ok));
	});

	it('register validates, overrides with a note, refuses a second registration unless replacing', () => {
		const reg = new AgentRegistry();
		const changes: AgentChange[] = [];
		reg.onDidChange((c) => changes.push(c));
		assert.deepEqual(reg.register({ name: 'reviewer', capabilities: ['review'] }), ['reviewer: the registered definition overrides the built-in agent']);
		assert.deepEqual(reg.register({ name: 'helper', capabilities: ['x'] }), []);
		assert.throws(() => reg.register({ name: 'helper', capabilities: ['y'] }), (err: unknown) => AgentError.is(err, 'duplicate'));
		reg.register({ name: 'helper', capabilities: ['y'] }, { replace: true });
		assert.deepEqual(reg.get('helper')?.capabilities, ['y']);
		assert.throws(() => reg.register({ name: 'bad', capabilities: [] }), (err: unknown) => AgentError.is(err, 'definition'));
		// A definition object from elsewhere (e.g. a built-in copy) can be registered as it is.
		const copy = { ...reg.get('tester')!, name: 'tester2' };
		reg.register(copy);
		assert.equal(reg.get('tester2')?.kind, 'llm');
		assert.deepEqual(
			changes.map((c) => c.kind),
			['registered', 'registered', 'registered', 'registered'],
		);
	});

	it('an unknown agent is a clear error listing the agents', () => {
		const reg = new AgentRegistry();
		assert.throws(
			() => reg.workload('codr'),
			(err: unknown) => {
				assert.ok(AgentError.is(err, 'unknown-agent'));
				assert.equal(err.message, "no agent named 'codr' (did you mean 'coder'?); agents: architect, coder, reviewer, tester");
				return true;
			},
		);
	});

	it('health: an llm agent needs an endpoint; a command agent needs its executable', async () => {
		const root = tempDir();
		mkdirSync(join(root, 'bin'));
		writeFileSync(join(root, 'bin', 'agent.sh'), '#!/bin/sh\necho hi\n');
		chmodSync(join(root, 'bin', 'agent.sh'), 0o755);
		writeFileSync(join(root, 'bin', 'not-executable.sh'), '#!/bin/sh\n');
		chmodSync(join(root, 'bin', 'not-executable.sh'), 0o644);
		const reg = new AgentRegistry({ builtins: false });
		reg.register({ name: 'writer', capabilities: ['docs'] });
		reg.register({ name: 'node-agent', capabilities: ['x'], command: ['node', 'tools/a.js', '{{prompt}}'] });
		reg.register({ name: 'script', capabilities: ['x'], command: ['{{workspace}}/bin/agent.sh', '{{prompt}}'] });
		reg.register({ name: 'shell-line', capabilities: ['x'], command: 'LANG=C ./bin/agent.sh --ask {{prompt}}' });
		reg.register({ name: 'missing', capabilities: ['x'], command: ['qo-no-such-tool-4711', '{{prompt}}'] });
		reg.register({ name: 'not-exec', capabilities: ['x'], command: ['./bin/not-executable.sh'] });
		const env = { llmConfigured: false, env: NODE_PATH, workspaceRoot: root };
		const health = Object.fromEntries((await reg.healthAll(env)).map((h) => [h.agent, h]));
		assert.deepEqual(health.writer.problems, [
			'no LLM endpoint is configured: set QO_LLM_BASE_URL (or OPENAI_BASE_URL) for qo, or the endpoint in the settings',
		]);
		assert.equal(health['node-agent'].ok, true);
		assert.equal(health.script.ok, true);
		assert.equal(health['shell-line'].ok, true);
		assert.deepEqual(health.missing.problems, ["the command 'qo-no-such-tool-4711' was not found on PATH"]);
		assert.deepEqual(health['not-exec'].problems, ["the command './bin/not-executable.sh' was not found or is not executable"]);
		assert.equal((await reg.health('writer', { ...env, llmConfigured: true })).ok, true);
	});

	it('findExecutable searches PATH and resolves paths against the workspace', async () => {
		assert.equal(await findExecutable('node', { env: NODE_PATH }), join(dirname(process.execPath), 'node'));
		assert.equal(await findExecutable('node', { env: { PATH: '' } }), undefined);
		assert.equal(await findExecutable('./nope', { cwd: tempDir() }), undefined);
	});

	it('workload: slots up to max_concurrent_tasks, released once', () => {
		const reg = new AgentRegistry();
		const changes: AgentChange[] = [];
		reg.onDidChange((c) => changes.push(c));
		assert.deepEqual(reg.workload('coder'), { agent: 'coder', running: 0, max: 2, available: 2, full: false });
		const a = reg.acquire('coder')!;
		const b = reg.acquire('coder')!;
		assert.equal(reg.acquire('coder'), undefined, 'full');
		assert.deepEqual(reg.workload('coder'), { agent: 'coder', running: 2, max: 2, available: 0, full: true });
		a.release();
		a.release();
		assert.equal(reg.workload('coder').running, 1);
		b.release();
		assert.equal(reg.workload('coder').running, 0);
		assert.deepEqual(
			changes.map((c) => c.kind),
			['workload', 'workload', 'workload', 'workload'],
		);
	});

	it('metrics: utilisation over the window, success rate, mean duration, tokens', () => {
		const clock = fakeClock();
		const reg = new AgentRegistry({ clock, metricsWindowMs: 60_000 });
		clock.advance(60_000);
		// coder has two slots: one busy for 30 s of the 60 s window is a quarter of its capacity.
		const lease = reg.acquire('coder')!;
		clock.advance(30_000);
		assert.equal(reg.metrics('coder').utilisation, 0.25, 'a running task counts while it runs');
		lease.release({ ok: true, stepType: 'task', tokens: { input: 10, output: 5 } });
		clock.advance(30_000);
		let m = reg.metrics('coder');
		assert.equal(m.utilisation, 0.25);
		assert.equal(m.tasks, 1);
		assert.equal(m.successRate, 1);
		assert.equal(m.meanDurationMs, 30_000, 'the lease measured the duration');
		assert.deepEqual([m.tokensIn, m.tokensOut], [10, 5]);

		reg.recordOutcome('coder', { ok: false, durationMs: 6000 });
		m = reg.metrics('coder');
		assert.equal(m.tasks, 2);
		assert.equal(m.failures, 1);
		assert.equal(m.successRate, 0.5);
		assert.equal(m.meanDurationMs, 30_000, 'failures do not shape the mean duration');
		assert.equal(m.utilisation, 0.3);
		// The window moves on: a minute later nothing is busy.
		clock.advance(61_000);
		assert.equal(reg.metrics('coder').utilisation, 0);
		assert.equal(reg.metrics('tester').successRate, undefined);
	});

	it('utilisation early on is measured since the registry began, never above 1', () => {
		const clock = fakeClock();
		const reg = new AgentRegistry({ clock });
		clock.advance(1000);
		reg.recordOutcome('tester', { ok: true, durationMs: 50_000 });
		assert.equal(reg.metrics('tester').utilisation, 1);
	});

	it('outcomes also go to the learning store', () => {
		const learning = LearningStore.empty(tempDir());
		const reg = new AgentRegistry({ learning });
		reg.recordOutcome('coder', { ok: true, durationMs: 100, stepType: 'task' });
		reg.acquire('tester')!.release({ ok: false, stepType: 'task' });
		assert.equal(learning.stats('coder', 'task')?.successes, 1);
		assert.equal(learning.stats('tester', 'task')?.tasks, 1);
	});

	it('a throwing listener does not stop the others, and disposed listeners hear nothing', () => {
		const reg = new AgentRegistry();
		const heard: string[] = [];
		reg.onDidChange(() => {
			throw new Error('view bug');
		});
		const sub = reg.onDidChange((c) => heard.push(c.kind));
		reg.register({ name: 'x', capabilities: ['y'] });
		sub.dispose();
		reg.unregister('x');
		assert.deepEqual(heard, ['registered']);
	});
});
