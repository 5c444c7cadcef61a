// A small bounded-parallelism loop (p-limit is ESM-only and the core is CommonJS-typed; this is all we need of it).

/**
 * Run fn over items with at most `limit` in flight. After the first failure no new item starts; the running ones
 * settle and that first error is rethrown.
 */
export async function forEachLimit<T>(
	items: readonly T[],
	limit: number,
	fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
	let next = 0;
	let failed = false;
	let firstError: unknown;
	const worker = async (): Promise<void> => {
		while (!failed && next < items.length) {
			const i = next++;
			try {
				await fn(items[i], i);
			} catch (err) {
				if (!failed) firstError = err;
				failed = true;
			}
		}
	};
	const workers: Promise<void>[] = [];
	for (let w = 0; w < Math.max(1, Math.min(limit, items.length)); w++) workers.push(worker());
	await Promise.all(workers);
	if (failed) throw firstError;
}
