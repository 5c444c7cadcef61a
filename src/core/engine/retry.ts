// Retry delays: exponential backoff with full jitter, capped.
import type { RetryPolicy } from '../workflow/schema';

/** Delay before attempt `attempt` (2 = the first retry): random in [base/2, base] where base doubles, capped. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
	const base = Math.min(policy.max_backoff_ms, policy.backoff_ms * 2 ** Math.max(0, attempt - 2));
	return Math.round(base / 2 + (random() * base) / 2);
}
