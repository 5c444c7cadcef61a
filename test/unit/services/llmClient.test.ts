import assert from 'node:assert/strict';
import { z } from 'zod';
import { StepError } from '../../../src/core/errors';
import { createOpenAiClient } from '../../../src/core/services/llm/client';
import { parseRoleModels } from '../../../src/core/services/llm/settings';
import { completeStructured, extractJson } from '../../../src/core/services/llm/structured';
import { lastUserText, startScriptedOpenAi, type ScriptedOpenAi } from '../../helpers/scriptedOpenAi';

describe('LLM client and structured answers (real openai SDK against a scripted server on loopback)', function () {
	this.timeout(30_000);
	let server: ScriptedOpenAi | undefined;
	afterEach(async () => {
		await server?.close();
		server = undefined;
	});
	const signal = new AbortController().signal;

	it('streams tool calls assembled from fragments, and sends tool results back by id', async () => {
		server = await startScriptedOpenAi([
			{ toolCalls: [{ name: 'read_file', arguments: { path: 'src/a.ts' } }, { name: 'search', arguments: { query: 'signup' } }] },
			{ text: 'done' },
		]);
		const llm = createOpenAiClient({ baseUrl: server.baseUrl, model: 'm' });
		const tools = [
			{ name: 'read_file', description: 'read', parameters: { type: 'object', properties: { path: { type: 'string' } } } },
			{ name: 'search', description: 'search', parameters: { type: 'object', properties: { query: { type: 'string' } } } },
		];
		const first = await llm.complete({ prompt: 'go', tools }, signal);
		assert.equal(first.finishReason, 'tool_calls');
		assert.deepEqual(
			first.toolCalls.map((c) => [c.id, c.name, JSON.parse(c.arguments)]),
			[
				['call_0', 'read_file', { path: 'src/a.ts' }],
				['call_1', 'search', { query: 'signup' }],
			],
		);
		const second = await llm.complete(
			{
				messages: [
					{ role: 'user', content: 'go' },
					{ role: 'assistant', content: '', toolCalls: first.toolCalls },
					{ role: 'tool', toolCallId: 'call_0', content: 'export const a = 1;' },
					{ role: 'tool', toolCallId: 'call_1', content: 'no matches' },
				],
				tools,
			},
			signal,
		);
		assert.equal(second.text, 'done');
		const sent = server.requests[1];
		assert.equal(sent.tools?.length, 2);
		assert.equal(sent.messages[1].tool_calls?.[0].function.name, 'read_file');
		assert.equal(sent.messages[2].tool_call_id, 'call_0');
		assert.ok(second.usage.promptTokens > 0 && second.usage.completionTokens > 0);
	});

	it('an invalid structured answer is sent back with the problem, and a valid second answer is used', async () => {
		server = await startScriptedOpenAi([{ text: '{"steps": [{"id": 3}]}' }, { text: '```json\n{"steps": [{"id": "a"}]}\n```' }]);
		const llm = createOpenAiClient({ baseUrl: server.baseUrl, model: 'm' });
		const schema = z.object({ steps: z.array(z.object({ id: z.string() })) });
		const result = await completeStructured(llm, { prompt: 'plan it' }, schema, { signal, label: 'plan' });
		assert.deepEqual(result.value, { steps: [{ id: 'a' }] });
		assert.equal(result.attempts, 2);
		assert.match(lastUserText(server.requests[1]), /That plan is invalid: steps\[0\]\.id: .*expected string/i);
		assert.equal(server.requests[0].response_format?.type, 'json_object');
		assert.match(server.requests[0].messages[0].content ?? '', /JSON Schema/);
	});

	it('gives up after the attempts and says what the last answer got wrong', async () => {
		server = await startScriptedOpenAi([{ text: 'Sure! Here is the plan.', repeat: true }]);
		const llm = createOpenAiClient({ baseUrl: server.baseUrl, model: 'm' });
		await assert.rejects(
			completeStructured(llm, { prompt: 'plan it' }, z.object({ a: z.number() }), { signal, attempts: 2, label: 'plan' }),
			(err: unknown) => StepError.is(err) && err.permanent && /no valid plan in 2 tries; the last one: not JSON/.test(err.message),
		);
		assert.equal(server.requests.length, 2);
	});

	it('a semantic check can reject a schema-valid answer', async () => {
		server = await startScriptedOpenAi([{ json: { n: 5 } }, { json: { n: 2 } }]);
		const llm = createOpenAiClient({ baseUrl: server.baseUrl, model: 'm' });
		const result = await completeStructured(llm, { prompt: 'x' }, z.object({ n: z.number() }), { signal }, (v) => (v.n > 3 ? 'n must be at most 3' : undefined));
		assert.equal(result.value.n, 2);
		assert.match(lastUserText(server.requests[1]), /n must be at most 3/);
	});

	it('extracts JSON from fences and surrounding prose', () => {
		assert.deepEqual(extractJson('Here:\n```json\n{"a":1}\n```\nthanks'), { a: 1 });
		assert.deepEqual(extractJson('The answer is {"a":[1,2]} as asked'), { a: [1, 2] });
		assert.throws(() => extractJson('nothing here'), /not JSON/);
	});

	it('per-role models come from QO_LLM_ROLE_MODELS and fall back to the default model', () => {
		assert.deepEqual(parseRoleModels('planner=big, coder=small,bad,=x'), { planner: 'big', coder: 'small' });
		const llm = createOpenAiClient({ baseUrl: 'http://127.0.0.1:1/v1', model: 'default', roleModels: { planner: 'big' } });
		assert.equal(llm.modelFor?.('planner'), 'big');
		assert.equal(llm.modelFor?.('tester'), 'default');
	});
});
