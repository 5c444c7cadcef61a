// "Did you mean": the nearest known name to a misspelt one, shared by every check that names things.

/** The closest candidate within a small edit distance, for "did you mean". */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
	const max = Math.max(1, Math.floor(word.length / 3));
	let best: string | undefined;
	let bestDistance = max + 1;
	for (const c of candidates) {
		if (Math.abs(c.length - word.length) > max) continue;
		const d = distance(word.toLowerCase(), c.toLowerCase(), bestDistance);
		if (d < bestDistance) {
			best = c;
			bestDistance = d;
		}
	}
	return best;
}

/** Edit distance counting a swap of neighbours as one edit (optimal string alignment), stopping early at `cap`. */
function distance(a: string, b: string, cap: number): number {
	let before: number[] = [];
	let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
	for (let i = 1; i <= a.length; i++) {
		const cur = [i];
		let rowMin = i;
		for (let j = 1; j <= b.length; j++) {
			let d = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
			if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2] + 1);
			cur[j] = d;
			if (d < rowMin) rowMin = d;
		}
		if (rowMin >= cap) return cap;
		before = prev;
		prev = cur;
	}
	return prev[b.length];
}
