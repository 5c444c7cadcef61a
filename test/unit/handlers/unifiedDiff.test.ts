import assert from 'node:assert/strict';
import fc from 'fast-check';
import { codeChange, codeTokens, commentSyntaxFor } from '../../../src/core/handlers/codeTokens';
import { applyEdits } from '../../../src/core/handlers/llmFix';
import { diffFiles } from '../../../src/core/handlers/llmReview';
import { unifiedDiff } from '../../../src/core/handlers/unifiedDiff';

/** Applies a unified diff of one file (as `patch` would, hunks in order) to the text before it. */
function applyDiff(before: string, diff: string): string {
	const lines = before.split(/(?<=\n)/).filter((l) => l !== '');
	const out: string[] = [];
	let at = 0;
	const body = diff.split('\n');
	let last: string[] | undefined;
	for (let i = 2; i < body.length; i++) {
		const line = body[i];
		const m = /^@@ -(\d+),(\d+) \+\d+,\d+ @@$/.exec(line);
		if (m) {
			const start = Number(m[2]) === 0 ? Number(m[1]) : Number(m[1]) - 1;
			while (at < start) out.push(lines[at++]);
			continue;
		}
		if (line === '\\ No newline at end of file') {
			if (last) last[last.length - 1] = last[last.length - 1].slice(0, -1);
			continue;
		}
		if (line === '') continue;
		const text = `${line.slice(1)}\n`;
		if (line[0] === ' ' || line[0] === '-') at++;
		if (line[0] === ' ' || line[0] === '+') {
			out.push(text);
			last = out;
		} else {
			last = undefined;
		}
	}
	while (at < lines.length) out.push(lines[at++]);
	return out.join('');
}

function lcs(a: string[], b: string[]): number {
	const row = new Array<number>(b.length + 1).fill(0);
	for (let i = 1; i <= a.length; i++) {
		let prev = 0;
		for (let j = 1; j <= b.length; j++) {
			const keep = row[j];
			row[j] = a[i - 1] === b[j - 1] ? prev + 1 : Math.max(row[j], row[j - 1]);
			prev = keep;
		}
	}
	return row[b.length];
}

describe('unified diffs of proposals', () => {
	it('prints git-style hunks with 3 lines of context, /dev/null for absent files, and a missing final newline', () => {
		const before = 'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n';
		const after = 'a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl';
		assert.equal(
			unifiedDiff('x.txt', before, after),
			'--- a/x.txt\n+++ b/x.txt\n@@ -1,5 +1,5 @@\n a\n-b\n+B\n c\n d\n e\n@@ -9,3 +9,4 @@\n i\n j\n k\n+l\n\\ No newline at end of file\n',
		);
		assert.equal(unifiedDiff('n.txt', null, 'x\n'), '--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1,1 @@\n+x\n');
		assert.equal(unifiedDiff('n.txt', 'x\n', null), '--- a/n.txt\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-x\n');
		assert.equal(unifiedDiff('same.txt', 'x\n', 'x\n'), '');
	});

	it('applying the diff to the old text gives the new one, with as few changed lines as possible', () => {
		const text = fc.array(fc.constantFrom('a\n', 'b\n', 'c\n', '\n', 'd', 'a'), { maxLength: 30 }).map((l) => l.join(''));
		fc.assert(
			fc.property(text, text, (before, after) => {
				const diff = unifiedDiff('f', before, after);
				if (before === after) return diff === '';
				assert.equal(applyDiff(before, diff), after);
				const a = before.split(/(?<=\n)/).filter(Boolean);
				const b = after.split(/(?<=\n)/).filter(Boolean);
				const changed = diff.split('\n').filter((l) => /^[-+](?![-+]{2} )/.test(l)).length;
				assert.equal(changed, a.length + b.length - 2 * lcs(a, b));
				return true;
			}),
			{ numRuns: 300 },
		);
	});
});

describe('the code of a documented file', () => {
	const ts = commentSyntaxFor('src/a.ts')!;

	it('comments, whitespace and layout are not code; a changed token, string or an added statement is', () => {
		const code = 'const url = "http://x/*y*/";\nexport function f(a, b) { return a+b; }\n';
		assert.equal(codeChange(code, `// top\n${code.replace('{ return', '{\n  /** sum */\n  return').replace('a+b', 'a + b')}`, ts), undefined);
		assert.match(codeChange(code, code.replace('http://x', 'https://x'), ts) ?? '', /the original has `"http:\/\/x\/\*y\*\/"` \(line 1 of the original\) where yours has `"https:/);
		assert.match(codeChange(code, `${code}f(1, 2);\n`, ts) ?? '', /the original has the end of the file where yours has `f`/);
		assert.deepEqual(
			codeTokens('a /* x */ b // y\n`t ${1}` "s\\"q"', ts).map((t) => [t.text, t.line]),
			[['a', 1], ['b', 1], ['`t ${1}`', 2], ['"s\\"q"', 2]],
		);
	});

	it('python docstrings count as comments; hash comments do too', () => {
		const py = commentSyntaxFor('m.py')!;
		const before = 'def f(x):\n    return x + 1\n';
		const after = 'def f(x):\n    """Adds one."""\n    # really\n    return x + 1\n';
		assert.equal(codeChange(before, after, py), undefined);
		assert.ok(codeChange(before, after.replace('x + 1', 'x + 2'), py));
		assert.equal(commentSyntaxFor('notes.txt'), undefined);
	});
});

describe('fix edits', () => {
	const files = new Map<string, string | null>([
		['src/a.ts', 'one\ntwo\ntwo\n'],
		['src/new.ts', null],
	]);

	it('apply in order, each find matching exactly once in the text the earlier edits left', () => {
		const r = applyEdits(files, [
			{ path: 'src/a.ts', find: 'one\ntwo', replace: 'ONE\nTWO' },
			{ path: './src/a.ts', find: 'TWO\ntwo', replace: 'TWO\n2' },
			{ path: 'src/new.ts', content: 'new\n' },
		]);
		assert.equal(r.problem, undefined);
		assert.deepEqual(
			[...(r as { after: Map<string, string> }).after],
			[
				['src/a.ts', 'ONE\nTWO\n2\n'],
				['src/new.ts', 'new\n'],
			],
		);
	});

	it('name what is wrong: an ambiguous or missing find, a file not allowed, find in a file that does not exist, no change', () => {
		const problem = (edits: Parameters<typeof applyEdits>[1]) => applyEdits(files, edits).problem;
		assert.match(problem([{ path: 'src/a.ts', find: 'two', replace: '2' }]) ?? '', /edits\[0\]\.find occurs more than once in src\/a\.ts/);
		assert.match(problem([{ path: 'src/a.ts', find: 'three', replace: '3' }]) ?? '', /edits\[0\]\.find does not occur in src\/a\.ts: copy the text exactly/);
		assert.match(problem([{ path: 'src/b.ts', content: '' }]) ?? '', /"src\/b\.ts" is not one of the files you may change \(src\/a\.ts, src\/new\.ts\)/);
		assert.match(problem([{ path: 'src/new.ts', find: 'x', replace: 'y' }]) ?? '', /src\/new\.ts does not exist, so there is nothing to find; give its whole `content`/);
		assert.match(problem([{ path: 'src/a.ts', find: 'one', replace: 'one' }]) ?? '', /the edits change nothing/);
		assert.match(problem([{ path: 'src/a.ts', find: 'one' }]) ?? '', /`find` needs a `replace`/);
		assert.match(problem([{ path: 'src/a.ts', find: 'one', replace: 'x', content: 'y' }]) ?? '', /give either `find` with `replace`, or `content`/);
		assert.equal(problem([]), undefined, 'no edits: the model found no fix in these files');
	});
});

describe('files a diff names', () => {
	it('git and plain diff -u headers, renames, deletions, and the last line each hunk reaches', () => {
		const diff = [
			'diff --git a/src/a.ts b/src/a.ts',
			'--- a/src/a.ts',
			'+++ b/src/a.ts',
			'@@ -10,3 +10,4 @@ function x',
			' a',
			'--- removed SQL comment',
			'+++ added one',
			'+b',
			' c',
			'diff --git a/new.ts b/new.ts',
			'new file mode 100644',
			'--- /dev/null',
			'+++ b/new.ts',
			'@@ -0,0 +1 @@',
			'+n',
			'diff --git a/old.ts b/old.ts',
			'--- a/old.ts',
			'+++ /dev/null',
			'@@ -1,2 +0,0 @@',
			'-x',
			'-y',
			'--- lib/c.js\t2024-01-01 00:00:00',
			'+++ lib/c.js\t2024-01-02 00:00:00',
			'@@ -1 +1 @@',
			'-1',
			'+2',
		].join('\n');
		assert.deepEqual(
			[...diffFiles(diff)],
			[
				['src/a.ts', 13],
				['new.ts', 1],
				['old.ts', 2],
				['lib/c.js', 1],
			],
		);
	});
});
