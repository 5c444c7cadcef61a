// A binary min-heap of step indices: lower priority first, then longer remaining critical path, then file order.

export class ReadyQueue {
	private heap: Int32Array;
	private size = 0;

	constructor(
		capacity: number,
		/** Undefined when every step has the same priority: one comparison less at each level of the heap. */
		private readonly priority: ArrayLike<number> | undefined,
		private readonly remaining: ArrayLike<number>,
	) {
		this.heap = new Int32Array(Math.max(1, capacity));
	}

	get length(): number {
		return this.size;
	}

	// The comparison (priority, then remaining, then index) is written out in push and pop rather than called: a
	// step costs several comparisons, and the first thousands of steps run in the interpreter, where calls cost.
	push(index: number): void {
		if (this.size === this.heap.length) {
			const bigger = new Int32Array(this.heap.length * 2);
			bigger.set(this.heap);
			this.heap = bigger;
		}
		const { heap, priority, remaining } = this;
		const p = priority === undefined ? 0 : priority[index];
		const r = remaining[index];
		let i = this.size++;
		while (i > 0) {
			const parent = (i - 1) >> 1;
			const b = heap[parent];
			// Stop unless index goes before b.
			if (priority !== undefined && p !== priority[b]) {
				if (p > priority[b]) break;
			} else {
				const rb = remaining[b];
				if (r < rb || (r === rb && index > b)) break;
			}
			heap[i] = b;
			i = parent;
		}
		heap[i] = index;
	}

	pop(): number {
		if (this.size === 0) return -1;
		const { heap, priority, remaining } = this;
		const top = heap[0];
		const last = heap[--this.size];
		const size = this.size;
		const lp = priority === undefined ? 0 : priority[last];
		const lr = remaining[last];
		let i = 0;
		const half = size >> 1;
		while (i < half) {
			let child = 2 * i + 1;
			let c = heap[child];
			const right = child + 1;
			if (right < size) {
				const d = heap[right];
				if (priority !== undefined && priority[d] !== priority[c] ? priority[d] < priority[c] : remaining[d] > remaining[c] || (remaining[d] === remaining[c] && d < c)) {
					child = right;
					c = d;
				}
			}
			// Stop unless c goes before last.
			if (priority !== undefined && priority[c] !== lp) {
				if (priority[c] > lp) break;
			} else {
				const rc = remaining[c];
				if (rc < lr || (rc === lr && c > last)) break;
			}
			heap[i] = c;
			i = child;
		}
		heap[i] = last;
		return top;
	}
}
