// Medians, log-log slopes and number formatting.

export function median(xs: readonly number[]): number {
	if (xs.length === 0) return NaN;
	const s = [...xs].sort((a, b) => a - b);
	const m = s.length >> 1;
	return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A sample tagged with its repetition, so runners measured next to each other can be compared pairwise. */
export interface Tagged {
	rep: number;
	value: number;
}

/**
 * Median over repetitions of a[rep] ÷ b[rep]: samples taken seconds apart share the machine's load, so paired ratios
 * are steadier than a ratio of medians on a noisy machine.
 */
export function pairedRatio(a: readonly Tagged[], b: readonly Tagged[]): number {
	const byRep = new Map(b.map((s) => [s.rep, s.value]));
	const ratios: number[] = [];
	for (const s of a) {
		const d = byRep.get(s.rep);
		if (d !== undefined && d > 0) ratios.push(s.value / d);
	}
	return median(ratios);
}

/** Least-squares slope of log(y) against log(x): 1 means time grows linearly with size. */
export function logLogSlope(points: readonly { x: number; y: number }[]): number {
	const ps = points.filter((p) => p.x > 0 && p.y > 0);
	if (ps.length < 2) return NaN;
	const xs = ps.map((p) => Math.log(p.x));
	const ys = ps.map((p) => Math.log(p.y));
	const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
	const my = ys.reduce((a, b) => a + b, 0) / ys.length;
	let num = 0;
	let den = 0;
	for (let i = 0; i < xs.length; i++) {
		num += (xs[i] - mx) * (ys[i] - my);
		den += (xs[i] - mx) ** 2;
	}
	return num / den;
}

export function fmtMs(ms: number): string {
	if (!Number.isFinite(ms)) return '–';
	if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
	if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
	if (ms >= 100) return `${ms.toFixed(0)} ms`;
	if (ms >= 10) return `${ms.toFixed(1)} ms`;
	return `${ms.toFixed(2)} ms`;
}

export function fmtNs(ns: number): string {
	if (!Number.isFinite(ns)) return '–';
	return ns >= 10_000 ? `${(ns / 1000).toFixed(1)} µs` : `${ns.toFixed(0)} ns`;
}

export function fmtRatio(r: number, digits = 2): string {
	return Number.isFinite(r) ? `${r.toFixed(digits)}x` : '–';
}

export function fmtMiB(bytes: number): string {
	return Number.isFinite(bytes) ? `${(bytes / 1048576).toFixed(1)} MiB` : '–';
}

export function fmtCount(n: number): string {
	return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n);
}
