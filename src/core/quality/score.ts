// The quality score: 0–100 per file and per run, from findings. Documented in the README ("quality score").
//
//   penalty(file) = 10 × errors + 3 × warnings + 1 × infos
//   score(file)   = 100 × 0.5^(penalty / 20)          every 20 penalty points halve what is left: one error → 70.7,
//                                                      one warning → 90.1, five errors → 17.7; never below 0
//   score(run)    = mean of score(file) over the files checked; a checked file without findings scores 100
//
// "Files checked" are the files the tools said they checked (eslint and tsc list them) plus every file with a
// finding; with no file at all the run scores 100. Scores are rounded to one decimal.
import type { Finding, Severity } from './findings';

export const SCORE_WEIGHTS: Readonly<Record<Severity, number>> = Object.freeze({ error: 10, warning: 3, info: 1 });
/** Penalty points that halve a file's score. */
export const SCORE_HALF_LIFE = 20;

export interface QualityScore {
	/** The run's score: the mean over the files checked. */
	value: number;
	/** Files with findings and their scores (every other checked file scores 100). */
	files: Record<string, number>;
	/** How many files the mean is over. */
	checked: number;
}

function round1(n: number): number {
	return Math.round(n * 10) / 10;
}

/** A file's score for its penalty points. */
export function fileScore(penalty: number): number {
	return round1(100 * 0.5 ** (Math.max(0, penalty) / SCORE_HALF_LIFE));
}

/** Scores findings over the files checked (`checkedFiles` may omit files with findings: they are added). */
export function scoreFindings(findings: readonly Finding[], checkedFiles: Iterable<string> = []): QualityScore {
	const penalties = new Map<string, number>();
	for (const f of findings) penalties.set(f.file, (penalties.get(f.file) ?? 0) + SCORE_WEIGHTS[f.severity]);
	const population = new Set(checkedFiles);
	for (const file of penalties.keys()) population.add(file);
	const files: Record<string, number> = {};
	let sum = 0;
	for (const file of population) {
		const penalty = penalties.get(file);
		const s = penalty === undefined ? 100 : fileScore(penalty);
		if (penalty !== undefined) files[file] = s;
		sum += s;
	}
	const sorted: Record<string, number> = {};
	for (const file of Object.keys(files).sort((a, b) => files[a] - files[b] || (a < b ? -1 : 1))) sorted[file] = files[file];
	return { value: population.size ? round1(sum / population.size) : 100, files: sorted, checked: population.size };
}
