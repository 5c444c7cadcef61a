// Unified diffs of text (git's format, 3 lines of context) for proposals a person reads before approving.
// Myers' O((N+M)D) line diff after trimming the common head and tail; a huge difference falls back to replace-all.

type Op = { t: '=' | '-' | '+'; a: number; b: number };

/** Beyond this many differing lines the diff is "all of it replaced": still correct, just not minimal. */
const MAX_EDIT_DISTANCE = 4000;

/** Lines with their line ends, so a missing final newline is a difference like any other. */
function splitLines(text: string): string[] {
	const lines = text.split(/(?<=\n)/);
	return lines.length === 1 && lines[0] === '' ? [] : lines;
}

function myers(a: readonly string[], b: readonly string[]): Op[] | undefined {
	const n = a.length;
	const m = b.length;
	const max = Math.min(n + m, MAX_EDIT_DISTANCE);
	const off = max + 1;
	const v = new Int32Array(2 * max + 3);
	// trace[d]: v as iteration d found it, for k in [-d-1, d+1] (index k + d + 1).
	const trace: Int32Array[] = [];
	let found = -1;
	outer: for (let d = 0; d <= max; d++) {
		trace.push(v.slice(off - d - 1, off + d + 2));
		for (let k = -d; k <= d; k += 2) {
			let x = k === -d || (k !== d && v[off + k - 1] < v[off + k + 1]) ? v[off + k + 1] : v[off + k - 1] + 1;
			let y = x - k;
			while (x < n && y < m && a[x] === b[y]) {
				x++;
				y++;
			}
			v[off + k] = x;
			if (x >= n && y >= m) {
				found = d;
				break outer;
			}
		}
	}
	if (found < 0) return undefined;
	const ops: Op[] = [];
	let x = n;
	let y = m;
	for (let d = found; d > 0; d--) {
		const snap = trace[d];
		const at = (k: number) => snap[k + d + 1];
		const k = x - y;
		const prevK = k === -d || (k !== d && at(k - 1) < at(k + 1)) ? k + 1 : k - 1;
		const prevX = at(prevK);
		const prevY = prevX - prevK;
		while (x > prevX && y > prevY) ops.push({ t: '=', a: --x, b: --y });
		if (x === prevX) ops.push({ t: '+', a: x, b: --y });
		else ops.push({ t: '-', a: --x, b: y });
	}
	while (x > 0 && y > 0) ops.push({ t: '=', a: --x, b: --y });
	return ops.reverse();
}

/** The edit script from a to b: equal, deleted (a index) and inserted (b index) lines, in order. */
function diffLines(a: readonly string[], b: readonly string[]): Op[] {
	let head = 0;
	while (head < a.length && head < b.length && a[head] === b[head]) head++;
	let tail = 0;
	while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
	const midA = a.slice(head, a.length - tail);
	const midB = b.slice(head, b.length - tail);
	const mid = myers(midA, midB) ?? [...midA.map((_, i): Op => ({ t: '-', a: i, b: 0 })), ...midB.map((_, i): Op => ({ t: '+', a: midA.length, b: i }))];
	const ops: Op[] = [];
	for (let i = 0; i < head; i++) ops.push({ t: '=', a: i, b: i });
	for (const op of mid) ops.push({ t: op.t, a: op.a + head, b: op.b + head });
	for (let i = tail; i > 0; i--) ops.push({ t: '=', a: a.length - i, b: b.length - i });
	return ops;
}

function shown(prefix: string, line: string): string {
	return line.endsWith('\n') ? `${prefix}${line}` : `${prefix}${line}\n\\ No newline at end of file\n`;
}

/**
 * `--- a/path` / `+++ b/path` and hunks; null stands for an absent file (created or deleted: /dev/null).
 * Empty when nothing differs.
 */
export function unifiedDiff(path: string, before: string | null, after: string | null, context = 3): string {
	if (before === after) return '';
	const a = splitLines(before ?? '');
	const b = splitLines(after ?? '');
	const ops = diffLines(a, b);
	const changes = ops.flatMap((op, i) => (op.t === '=' ? [] : [i]));
	if (changes.length === 0) return '';
	let out = `--- ${before === null ? '/dev/null' : `a/${path}`}\n+++ ${after === null ? '/dev/null' : `b/${path}`}\n`;
	let c = 0;
	while (c < changes.length) {
		// A hunk runs from `context` lines before a change to `context` after the last change closer than 2×context.
		let last = c;
		while (last + 1 < changes.length && changes[last + 1] - changes[last] <= 2 * context) last++;
		const from = Math.max(0, changes[c] - context);
		const to = Math.min(ops.length - 1, changes[last] + context);
		let aStart = -1;
		let bStart = -1;
		let aLen = 0;
		let bLen = 0;
		let body = '';
		for (let i = from; i <= to; i++) {
			const op = ops[i];
			if (op.t !== '+') {
				if (aStart < 0) aStart = op.a;
				aLen++;
			}
			if (op.t !== '-') {
				if (bStart < 0) bStart = op.b;
				bLen++;
			}
			body += op.t === '=' ? shown(' ', a[op.a]) : op.t === '-' ? shown('-', a[op.a]) : shown('+', b[op.b]);
		}
		// An empty side names the line before it (0 at the top), as diff and git do.
		const aAt = aLen ? aStart + 1 : linesBefore(ops, from, 'a');
		const bAt = bLen ? bStart + 1 : linesBefore(ops, from, 'b');
		out += `@@ -${aAt},${aLen} +${bAt},${bLen} @@\n${body}`;
		c = last + 1;
	}
	return out;
}

function linesBefore(ops: Op[], index: number, side: 'a' | 'b'): number {
	let count = 0;
	for (let i = 0; i < index; i++) if (ops[i].t === '=' || ops[i].t === (side === 'a' ? '-' : '+')) count++;
	return count;
}
