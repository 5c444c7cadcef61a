// How LLM use reads wherever it is shown (tree tooltips, the board, the status bar): one formatter for both sides.
import type { UsageView } from './viewModels';

/** 950 → "950", 12_345 → "12.3k", 1_250_000 → "1.25M". */
export function formatTokens(n: number): string {
	if (n < 1000) return String(Math.round(n));
	if (n < 999_950) return `${(n / 1000).toFixed(n < 10_000 ? 2 : 1).replace(/\.?0+$/, '')}k`;
	return `${(n / 1_000_000).toFixed(2).replace(/\.?0+$/, '')}M`;
}

/** Dollars with four decimals under $1 (LLM calls cost fractions of a cent), two above. */
export function formatUsd(usd: number): string {
	return `$${usd < 1 ? usd.toFixed(4) : usd.toFixed(2)}`;
}

/** "12.3k tokens · $0.0042"; the cost is left out when no call had a known price, and unpriced calls are counted. */
export function usageLine(u: Pick<UsageView, 'promptTokens' | 'completionTokens' | 'costUsd' | 'calls' | 'unpricedCalls'>): string {
	const parts = [`${formatTokens(u.promptTokens + u.completionTokens)} tokens`];
	const unpriced = u.unpricedCalls ?? 0;
	if (u.costUsd !== undefined && (unpriced < u.calls || u.costUsd > 0)) parts.push(`${formatUsd(u.costUsd)}${unpriced ? ` (+${unpriced} unpriced)` : ''}`);
	return parts.join(' · ');
}

/** The same in words, for tooltips: prompt and completion apart, calls and the model. */
export function usageDetail(u: UsageView): string {
	const cost = u.costUsd !== undefined && (u.unpricedCalls ?? 0) < u.calls ? `, ${formatUsd(u.costUsd)}` : ', cost unknown (no price for the model)';
	return `${formatTokens(u.promptTokens)} prompt + ${formatTokens(u.completionTokens)} completion tokens in ${u.calls} call${u.calls === 1 ? '' : 's'}${u.model ? ` to ${u.model}` : ''}${cost}`;
}
