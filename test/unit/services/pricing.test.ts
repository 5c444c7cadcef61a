import assert from 'node:assert/strict';
import { costOf, parsePrices, priceOf } from '../../../src/core/services/llm/pricing';

describe('model prices', () => {
	it('configured prices come first; the built-in list still prices the rest, dated snapshots included', () => {
		const mine = parsePrices('{"llama3": {"input": 0, "output": 0}, "gpt-4o": {"input": 1, "output": 2}}');
		assert.deepEqual(priceOf('gpt-4o', mine), { input: 1, output: 2 });
		assert.deepEqual(priceOf('gpt-4o-mini', mine), { input: 0.15, output: 0.6 }, 'the longest known prefix wins, here an exact default');
		assert.deepEqual(priceOf('gpt-4o-mini-2024-07-18'), { input: 0.15, output: 0.6 });
		assert.equal(priceOf('qwen2.5-coder'), undefined);
		assert.equal(costOf('llama3', { promptTokens: 1000, completionTokens: 1000 }, mine), 0);
		assert.equal(costOf('gpt-4o-mini', { promptTokens: 1_000_000, completionTokens: 1_000_000 }), 0.75);
		assert.equal(costOf('unknown-model', { promptTokens: 10, completionTokens: 10 }), undefined);
	});

	it('bad QO_LLM_PRICES entries are reported and skipped', () => {
		const problems: string[] = [];
		assert.deepEqual(parsePrices('{"a": {"input": 1}, "b": {"input": 1, "output": 2}}', (m) => problems.push(m)), { b: { input: 1, output: 2 } });
		assert.deepEqual(parsePrices('not json', (m) => problems.push(m)), {});
		assert.equal(problems.length, 2);
		assert.match(problems[0], /QO_LLM_PRICES\.a/);
	});
});
