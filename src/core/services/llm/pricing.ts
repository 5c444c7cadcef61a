// What a model costs, per million tokens, so token counts become money; unknown models count tokens only.
import type { LlmUsage } from './client';

export interface ModelPrice {
	/** USD per million prompt (input) tokens. */
	input: number;
	/** USD per million completion (output) tokens. */
	output: number;
}

/** Completion tokens assumed for a call that sets no max_tokens, for reservations and projections. */
export const DEFAULT_COMPLETION_TOKENS = 1024;

/** Tokens in a text, roughly (about 4 characters a token for English and code); for estimates only. */
export function estimateTokens(text: string): number {
	return Math.ceil(text.length / 4);
}

/** List prices (USD / 1M tokens) of common hosted models; settings or QO_LLM_PRICES add and override. */
export const DEFAULT_PRICES: Readonly<Record<string, ModelPrice>> = Object.freeze({
	'gpt-4o': { input: 2.5, output: 10 },
	'gpt-4o-mini': { input: 0.15, output: 0.6 },
	'gpt-4.1': { input: 2, output: 8 },
	'gpt-4.1-mini': { input: 0.4, output: 1.6 },
	'gpt-4.1-nano': { input: 0.1, output: 0.4 },
	'o3-mini': { input: 1.1, output: 4.4 },
	'o4-mini': { input: 1.1, output: 4.4 },
});

/**
 * The price of a model: exact name first, then the longest known prefix (dated snapshots like gpt-4o-2024-08-06);
 * `prices` (settings, QO_LLM_PRICES) before DEFAULT_PRICES.
 */
export function priceOf(model: string, prices: Readonly<Record<string, ModelPrice>> = {}): ModelPrice | undefined {
	return lookup(model, { ...DEFAULT_PRICES, ...prices });
}

function lookup(model: string, table: Readonly<Record<string, ModelPrice>>): ModelPrice | undefined {
	if (Object.hasOwn(table, model)) return table[model];
	let best: string | undefined;
	for (const name of Object.keys(table)) if (model.startsWith(`${name}-`) && (!best || name.length > best.length)) best = name;
	return best ? table[best] : undefined;
}

/** USD for this usage, or undefined when the model's price is unknown (local models, unlisted ones). */
export function costOf(model: string, usage: LlmUsage, prices?: Readonly<Record<string, ModelPrice>>): number | undefined {
	const price = priceOf(model, prices);
	return price ? (usage.promptTokens * price.input + usage.completionTokens * price.output) / 1_000_000 : undefined;
}

/** Prices from QO_LLM_PRICES, JSON `{"model": {"input": 0.5, "output": 1.5}}`; bad entries are reported, not fatal. */
export function parsePrices(text: string | undefined, onProblem: (message: string) => void = () => undefined): Record<string, ModelPrice> {
	if (!text) return {};
	let raw: unknown;
	try {
		raw = JSON.parse(text);
	} catch {
		onProblem('QO_LLM_PRICES is not JSON; expected {"model": {"input": USD per 1M tokens, "output": USD per 1M tokens}}');
		return {};
	}
	const prices: Record<string, ModelPrice> = {};
	for (const [model, p] of Object.entries((raw ?? {}) as Record<string, unknown>)) {
		const price = p as Partial<ModelPrice> | null;
		if (typeof price?.input === 'number' && typeof price.output === 'number' && price.input >= 0 && price.output >= 0) prices[model] = { input: price.input, output: price.output };
		else onProblem(`QO_LLM_PRICES.${model}: expected {"input": number, "output": number}`);
	}
	return prices;
}
