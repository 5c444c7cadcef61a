import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine } from '../../../src/core/engine';
import type { EngineEvent } from '../../../src/core/engine/events';
import { createOpenAiClient } from '../../../src/core/services/llm/client';
import { startFakeOpenAi, type FakeOpenAi } from '../../helpers/openAiServer';
import { tempDir } from '../../helpers/tmp';

const generate = (parameters: Record<string, unknown>) => JSON.stringify({ name: 'llm', instructions: [{ id: 'gen', type: 'llm', operation: 'generate', parameters }] });

describe('llm generate (against a real OpenAI-protocol server on loopback)', function () {
	this.timeout(30_000);
	let server: FakeOpenAi | undefined;
	afterEach(async () => {
		await server?.close();
		server = undefined;
	});

	it('streams the answer, writes output_path through the journal, and rollback removes the file', async () => {
		server = await startFakeOpenAi('export const answer = 42;\n');
		const ws = tempDir();
		const llm = createOpenAiClient({ baseUrl: server.baseUrl, model: 'test-model', apiKey: 'sk-test-123' });
		const engine = await createEngine({ workspace: ws, llm });
		const events: EngineEvent[] = [];
		engine.events.on((e) => events.push(e));
		const wf = engine.parse(generate({ prompt: 'Write the answer', system: 'Be brief', output_path: 'src/answer.ts' }), join(ws, 'wf.json'));
		const result = await engine.run(wf);
		assert.equal(result.status, 'succeeded', result.message);
		assert.equal(readFileSync(join(ws, 'src/answer.ts'), 'utf8'), 'export const answer = 42;\n');
		const seen = server.requests[0];
		assert.equal(seen.path, '/v1/chat/completions');
		assert.equal(seen.authorization, 'Bearer sk-test-123');
		assert.equal(seen.body.model, 'test-model');
		assert.equal(seen.body.stream, true);
		assert.deepEqual(seen.body.messages, [
			{ role: 'system', content: 'Be brief' },
			{ role: 'user', content: 'Write the answer' },
		]);
		const streamed = events.filter((e) => e.type === 'step-output').map((e) => (e as { text: string }).text);
		assert.equal(streamed.join(''), 'export const answer = 42;\n');
		assert.ok(streamed.length >= 3, 'the answer arrived in pieces');
		await engine.rollback(result.runId);
		assert.equal(existsSync(join(ws, 'src/answer.ts')), false);
	});

	it('retries a 429 after its Retry-After, and fails a 400 at once with the status', async () => {
		let calls = 0;
		server = await startFakeOpenAi('ok', (_req, n, res) => {
			calls++;
			if (n === 0) {
				res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' });
				res.end(JSON.stringify({ error: { message: 'slow down', type: 'rate_limit' } }));
				return true;
			}
			if (n === 2) {
				res.writeHead(400, { 'content-type': 'application/json' });
				res.end(JSON.stringify({ error: { message: 'bad model', type: 'invalid_request_error' } }));
				return true;
			}
		});
		const ws = tempDir();
		const engine = await createEngine({ workspace: ws, llm: createOpenAiClient({ baseUrl: server.baseUrl, model: 'm', maxRetries: 2 }) });
		const first = await engine.run(engine.parse(generate({ prompt: 'hi' }), join(ws, 'a.json')));
		assert.equal(first.status, 'succeeded', first.message);
		assert.equal(calls, 2, 'one retry after the 429');
		const second = await engine.run(engine.parse(generate({ prompt: 'hi', model: 'nope' }), join(ws, 'b.json')));
		assert.equal(second.status, 'failed');
		assert.match(second.message ?? '', /HTTP 400.*bad model/);
		assert.equal(calls, 3, 'a 400 is not retried');
	});

	it('without an endpoint the step fails saying how to configure one', async () => {
		const ws = tempDir();
		const engine = await createEngine({ workspace: ws });
		const r = await engine.run(engine.parse(generate({ prompt: 'hi' }), join(ws, 'a.json')));
		assert.equal(r.status, 'failed');
		assert.match(r.message ?? '', /no LLM endpoint is configured: set QO_LLM_BASE_URL/);
	});

	it('an endpoint given as a function is asked at each use: a host swaps it without recreating the engine', async () => {
		server = await startFakeOpenAi('swapped in\n');
		const ws = tempDir();
		const host: { llm?: ReturnType<typeof createOpenAiClient> } = {};
		const engine = await createEngine({ workspace: ws, llm: () => host.llm });
		const before = await engine.run(engine.parse(generate({ prompt: 'hi' }), join(ws, 'a.json')));
		assert.equal(before.status, 'failed');
		assert.match(before.message ?? '', /no LLM endpoint is configured/);
		const plan = await engine.plan(engine.parse(generate({ prompt: 'hi' }), join(ws, 'a.json')));
		assert.equal(engine.planLookups().usageOf?.(plan.steps[0])?.model, 'gpt-4o-mini', 'projections use the default model while none is configured');
		host.llm = createOpenAiClient({ baseUrl: server.baseUrl, model: 'later-model', apiKey: 'sk-later' });
		assert.equal(engine.planLookups().usageOf?.(plan.steps[0])?.model, 'later-model');
		const after = await engine.run(engine.parse(generate({ prompt: 'hi', output_path: 'out.txt' }), join(ws, 'b.json')));
		assert.equal(after.status, 'succeeded', after.message);
		assert.equal(readFileSync(join(ws, 'out.txt'), 'utf8'), 'swapped in\n');
		assert.equal(server.requests[0].authorization, 'Bearer sk-later');
		assert.equal(server.requests[0].body.model, 'later-model');
	});

	it('qo run takes the endpoint, model and key from the environment and never prints the key', async () => {
		server = await startFakeOpenAi('generated by the model\n');
		const ws = tempDir();
		writeFileSync(join(ws, 'g.json'), generate({ prompt: 'hello', output_path: 'out.txt' }));
		const qo = join(__dirname, '..', '..', '..', 'bin', 'qo.js');
		const env = { ...process.env, QO_LLM_BASE_URL: server.baseUrl, QO_LLM_MODEL: 'cli-model', OPENAI_API_KEY: 'sk-secret-987', NO_COLOR: '1' };
		// Not spawnSync: it would block the event loop this test's server runs on.
		const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
			const child = spawn(process.execPath, [qo, 'run', 'g.json', '--verbose'], { cwd: ws, env });
			let stdout = '';
			let stderr = '';
			child.stdout.on('data', (d: Buffer) => (stdout += d));
			child.stderr.on('data', (d: Buffer) => (stderr += d));
			child.on('close', (status) => resolve({ status, stdout, stderr }));
		});
		assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
		assert.equal(readFileSync(join(ws, 'out.txt'), 'utf8'), 'generated by the model\n');
		assert.equal(server.requests[0].body.model, 'cli-model');
		assert.doesNotMatch(`${r.stdout}${r.stderr}`, /sk-secret-987/);
	});
});
