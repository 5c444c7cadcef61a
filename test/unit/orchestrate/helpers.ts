// Test-only pieces for orchestration tests: an `agent task` handler whose work a test scripts, a `quality` handler
// with no real tools behind it, and small real package.json workspaces.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { createDefaultRegistry, HandlerRegistry } from '../../../src/core/handlers';
import { agentTaskParams, type AgentTaskParams } from '../../../src/core/handlers/agentParams';
import { defineOperation, type StepContext } from '../../../src/core/handlers/types';
import { tempDir } from '../../helpers/tmp';

export type AgentBehaviour = (params: AgentTaskParams, ctx: StepContext) => Promise<unknown>;

/** The built-in handlers without agent and quality, which these tests replace with scripted ones. */
export function baseRegistry(): HandlerRegistry {
	const registry = new HandlerRegistry();
	for (const h of createDefaultRegistry().all()) if (h.type !== 'agent' && h.type !== 'quality') registry.register(h);
	return registry;
}

/** The built-in handlers plus a test-only `agent task` whose work is `behaviour` (default: nothing, output `{ done: true }`). */
export function registryWithAgents(behaviour: AgentBehaviour = async () => ({ done: true })): HandlerRegistry {
	return baseRegistry().register({
		type: 'agent',
		description: 'test-only agent tasks',
		operations: {
			task: defineOperation({
				params: agentTaskParams,
				effect: 'workspace',
				summary: (p) => `agent task [${p.capabilities.join(', ')}]: ${p.prompt.slice(0, 40)}`,
				run: (p, ctx) => behaviour(p, ctx),
			}),
		},
	});
}

/** Adds a test-only `quality` handler with lint and test operations taking no parameters. */
export function withQuality(registry: HandlerRegistry): HandlerRegistry {
	const op = (name: string) => defineOperation({ params: z.object({}).strict(), effect: 'none', summary: () => `quality ${name}`, run: async () => ({ findings: [] }) });
	return registry.register({ type: 'quality', description: 'test-only checks', operations: { lint: op('lint'), test: op('test') } });
}

/** A real temporary workspace: a package.json with these scripts, and these files. */
export function projectWorkspace(scripts: Record<string, string>, files: Record<string, string> = {}): string {
	const ws = tempDir('qo-orch-');
	writeFileSync(join(ws, 'package.json'), JSON.stringify({ name: 'demo', version: '1.0.0', scripts }, null, 2));
	for (const [rel, content] of Object.entries(files)) {
		mkdirSync(dirname(join(ws, rel)), { recursive: true });
		writeFileSync(join(ws, rel), content);
	}
	return ws;
}

/** `node -e` as a package script: prints `text` and exits with `code`. */
export function nodeScript(text: string, code = 0): string {
	return `node -e "console.log('${text}'); process.exit(${code})"`;
}
