// Durations in bounded memory: a log-bucketed histogram (the DDSketch idea). A value v > 0 goes to bucket
// i = ceil(log_γ v) with γ = (1+α)/(1−α), and a bucket reads back as 2γ^i/(γ+1), so every quantile it returns is
// within a relative error α of the exact (nearest-rank) quantile of the values recorded. α = 2%: durations from 1 ms
// to a month take at most ~540 buckets, kept sparse (only buckets that were hit); zero durations are counted apart
// and read back exactly. Sketches merge by adding buckets, so figures from several processes add up exactly.

/** The relative error bound of every quantile a sketch returns. */
export const RELATIVE_ERROR = 0.02;
const GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR);
const LOG_GAMMA = Math.log(GAMMA);
/** At most this many buckets; past it the lowest are folded together (only the smallest quantiles lose precision). */
const MAX_BUCKETS = 1024;

/** The serialized form (`.quantum/metrics.json`): bucket index → count, plus the zeros. */
export interface SketchData {
	zeros: number;
	buckets: Record<string, number>;
}

export function emptySketch(): SketchData {
	return { zeros: 0, buckets: {} };
}

export function sketchCount(s: SketchData): number {
	let n = s.zeros;
	for (const c of Object.values(s.buckets)) n += c;
	return n;
}

export function addToSketch(s: SketchData, value: number, count = 1): void {
	if (!(value > 0)) {
		s.zeros += count;
		return;
	}
	const i = Math.ceil(Math.log(value) / LOG_GAMMA);
	addBucket(s, i, count);
}

function addBucket(s: SketchData, i: number, c: number): void {
	if (s.buckets[i] !== undefined) {
		s.buckets[i] += c;
		return;
	}
	s.buckets[i] = c;
	const keys = Object.keys(s.buckets);
	if (keys.length > MAX_BUCKETS) {
		const sorted = keys.map(Number).sort((a, b) => a - b);
		const [lowest, next] = sorted;
		s.buckets[next] += s.buckets[lowest];
		delete s.buckets[lowest];
	}
}

/** Adds `from` into `into`. */
export function mergeSketch(into: SketchData, from: SketchData): void {
	into.zeros += from.zeros;
	for (const [i, c] of Object.entries(from.buckets)) addBucket(into, Number(i), c);
}

/**
 * The q-quantile (0 < q ≤ 1) by nearest rank: the value at position ceil(q·n) of the sorted values, within
 * RELATIVE_ERROR of it. Undefined when the sketch is empty.
 */
export function sketchQuantile(s: SketchData, q: number): number | undefined {
	const n = sketchCount(s);
	if (n === 0) return undefined;
	const rank = Math.max(1, Math.ceil(q * n));
	if (rank <= s.zeros) return 0;
	let seen = s.zeros;
	for (const i of Object.keys(s.buckets).map(Number).sort((a, b) => a - b)) {
		seen += s.buckets[i];
		if (seen >= rank) return (2 * Math.pow(GAMMA, i)) / (GAMMA + 1);
	}
	return undefined;
}

/** A sketch read from a file: counts that are not positive integers are dropped. */
export function sanitizeSketch(raw: unknown): SketchData {
	const out = emptySketch();
	if (!raw || typeof raw !== 'object') return out;
	const r = raw as { zeros?: unknown; buckets?: unknown };
	if (Number.isInteger(r.zeros) && (r.zeros as number) > 0) out.zeros = r.zeros as number;
	if (r.buckets && typeof r.buckets === 'object') {
		for (const [k, v] of Object.entries(r.buckets as Record<string, unknown>)) {
			if (/^-?\d+$/.test(k) && Number.isInteger(v) && (v as number) > 0) out.buckets[k] = v as number;
		}
	}
	return out;
}
