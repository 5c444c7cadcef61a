// The floor: a bare critical-path ready queue (binary max-heap by longest remaining path, a concurrency limit,
// each step one async function call). It takes the same input as p-graph: string ids and dependency id lists.

export type StepFn = (index: number) => Promise<void>;

export async function runFloor(
	ids: readonly string[],
	deps: readonly (readonly string[])[],
	weight: ArrayLike<number> | undefined,
	step: StepFn,
	concurrency: number,
): Promise<void> {
	const n = ids.length;
	const indexOf = new Map<string, number>();
	for (let i = 0; i < n; i++) indexOf.set(ids[i], i);
	const indegree = new Int32Array(n);
	const outStart = new Int32Array(n + 1);
	let edges = 0;
	for (let i = 0; i < n; i++) {
		indegree[i] = deps[i].length;
		edges += deps[i].length;
		for (const d of deps[i]) outStart[indexOf.get(d)! + 1]++;
	}
	for (let i = 0; i < n; i++) outStart[i + 1] += outStart[i];
	const fill = outStart.slice(0, n);
	const out = new Int32Array(edges);
	for (let i = 0; i < n; i++) for (const d of deps[i]) out[fill[indexOf.get(d)!]++] = i;

	// Longest remaining path, itself included, in reverse topological order (Kahn, iterative).
	const order = new Int32Array(n);
	const left = indegree.slice();
	let tail = 0;
	for (let i = 0; i < n; i++) if (left[i] === 0) order[tail++] = i;
	for (let head = 0; head < tail; head++) {
		const u = order[head];
		for (let k = outStart[u]; k < outStart[u + 1]; k++) if (--left[out[k]] === 0) order[tail++] = out[k];
	}
	if (tail < n) throw new Error('the graph has a cycle');
	const remaining = new Float64Array(n);
	for (let t = n - 1; t >= 0; t--) {
		const u = order[t];
		let best = 0;
		for (let k = outStart[u]; k < outStart[u + 1]; k++) if (remaining[out[k]] > best) best = remaining[out[k]];
		remaining[u] = (weight ? weight[u] : 1) + best;
	}

	const heap = new Int32Array(n);
	let size = 0;
	const above = (a: number, b: number) => remaining[a] > remaining[b] || (remaining[a] === remaining[b] && a < b);
	const push = (x: number) => {
		let i = size++;
		while (i > 0) {
			const p = (i - 1) >> 1;
			if (!above(x, heap[p])) break;
			heap[i] = heap[p];
			i = p;
		}
		heap[i] = x;
	};
	const pop = () => {
		const top = heap[0];
		const last = heap[--size];
		let i = 0;
		for (;;) {
			let c = 2 * i + 1;
			if (c >= size) break;
			if (c + 1 < size && above(heap[c + 1], heap[c])) c++;
			if (!above(heap[c], last)) break;
			heap[i] = heap[c];
			i = c;
		}
		heap[i] = last;
		return top;
	};
	for (let i = 0; i < n; i++) if (indegree[i] === 0) push(i);

	await new Promise<void>((resolve, reject) => {
		let running = 0;
		let done = 0;
		const finish = (u: number) => {
			running--;
			done++;
			for (let k = outStart[u]; k < outStart[u + 1]; k++) if (--indegree[out[k]] === 0) push(out[k]);
			pump();
		};
		const pump = () => {
			while (running < concurrency && size > 0) {
				const u = pop();
				running++;
				step(u).then(() => finish(u), reject);
			}
			if (done === n) resolve();
		};
		pump();
	});
}
