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

	push(index: number): void {
		if (this.size === this.heap.length) {
			const bigger = new Int32Array(this.heap.length * 2);
			bigger.set(this.heap);
			this.heap = bigger;
		}
		const heap = this.heap;
		let i = this.size++;
		while (i > 0) {
			const parent = (i - 1) >> 1;
			if (!this.before(index, heap[parent])) break;
			heap[i] = heap[parent];
			i = parent;
		}
		heap[i] = index;
	}

	pop(): number {
		if (this.size === 0) return -1;
		const heap = this.heap;
		const top = heap[0];
		const last = heap[--this.size];
		let i = 0;
		const half = this.size >> 1;
		while (i < half) {
			let child = 2 * i + 1;
			const right = child + 1;
			if (right < this.size && this.before(heap[right], heap[child])) child = right;
			if (!this.before(heap[child], last)) break;
			heap[i] = heap[child];
			i = child;
		}
		heap[i] = last;
		return top;
	}

	private before(a: number, b: number): boolean {
		const priority = this.priority;
		if (priority !== undefined) {
			const pa = priority[a];
			const pb = priority[b];
			if (pa !== pb) return pa < pb;
		}
		const ra = this.remaining[a];
		const rb = this.remaining[b];
		if (ra !== rb) return ra > rb;
		return a < b;
	}
}
