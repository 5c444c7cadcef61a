// A small glob matcher for sandbox policies: `**` (any number of segments), `*` and `?` (within one segment).
// Node 20's path.matchesGlob is experimental, so the policy does not depend on it.

/** A compiled glob; `test` takes a workspace-relative path with `/` separators. */
export interface Glob {
	readonly pattern: string;
	test(path: string): boolean;
}

type Segment = { kind: 'any' } | { kind: 'literal'; text: string } | { kind: 'pattern'; re: RegExp };

function compileSegment(seg: string, nocase: boolean): Segment {
	if (seg === '**') return { kind: 'any' };
	if (!/[*?]/.test(seg)) return { kind: 'literal', text: nocase ? seg.toLowerCase() : seg };
	let source = '';
	for (const ch of seg) {
		if (ch === '*') source += '[^/]*';
		else if (ch === '?') source += '[^/]';
		else source += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
	}
	return { kind: 'pattern', re: new RegExp(`^${source}$`, nocase ? 'is' : 's') };
}

function matchOne(seg: Segment, part: string, nocase: boolean): boolean {
	if (seg.kind === 'literal') return seg.text === (nocase ? part.toLowerCase() : part);
	if (seg.kind === 'pattern') return seg.re.test(part);
	return true;
}

/** Compile a glob; `nocase` matches case-insensitively (as macOS and Windows file systems do). */
export function compileGlob(pattern: string, opts: { nocase?: boolean } = {}): Glob {
	const nocase = opts.nocase ?? false;
	const segments = pattern
		.split('/')
		.filter((s, i, all) => s !== '' && !(s === '**' && all[i - 1] === '**'))
		.map((s) => compileSegment(s, nocase));
	return {
		pattern,
		test(path: string): boolean {
			const parts = path.split('/').filter((s) => s !== '' && s !== '.');
			// Wildcard matching over segments, backtracking to the last `**` (linear in practice).
			let p = 0;
			let s = 0;
			let starP = -1;
			let starS = 0;
			while (s < parts.length) {
				const seg = segments[p];
				if (seg !== undefined && seg.kind !== 'any' && matchOne(seg, parts[s], nocase)) {
					p++;
					s++;
				} else if (seg !== undefined && seg.kind === 'any') {
					starP = p++;
					starS = s;
				} else if (starP >= 0) {
					p = starP + 1;
					s = ++starS;
				} else {
					return false;
				}
			}
			while (p < segments.length && segments[p].kind === 'any') p++;
			return p === segments.length;
		},
	};
}

/** One-off match; prefer compileGlob for patterns used repeatedly. */
export function matchGlob(pattern: string, path: string, opts: { nocase?: boolean } = {}): boolean {
	return compileGlob(pattern, opts).test(path);
}
