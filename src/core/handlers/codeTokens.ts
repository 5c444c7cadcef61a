// "Only comments were added": a file's code tokens (comments and whitespace dropped, strings kept whole) compared
// before and after. A cheap lexer per comment syntax, not a parser: both texts go through the same one, so its
// blind spots (regex literals, Rust lifetimes) cancel out unless a comment lands inside one.

export interface CommentSyntax {
	line: string[];
	block: [string, string][];
	/** Quotes that open a string ending at the same quote; a newline ends those not in `multiline`. */
	quotes: string[];
	multiline: string[];
	/** Triple-quoted strings are documentation (Python docstrings) and count as comments. */
	docStrings?: boolean;
}

const C_LIKE: CommentSyntax = { line: ['//'], block: [['/*', '*/']], quotes: ['"', "'", '`'], multiline: ['`'] };
const HASH: CommentSyntax = { line: ['#'], block: [], quotes: ['"', "'"], multiline: [] };

const SYNTAX: Record<string, CommentSyntax> = {
	...Object.fromEntries(
		['ts', 'tsx', 'mts', 'cts', 'js', 'jsx', 'mjs', 'cjs', 'java', 'c', 'h', 'cc', 'cpp', 'cxx', 'hpp', 'hh', 'cs', 'go', 'rs', 'kt', 'kts', 'swift', 'scala', 'dart', 'scss', 'less'].map(
			(ext) => [ext, C_LIKE],
		),
	),
	php: { ...C_LIKE, line: ['//', '#'] },
	css: { ...C_LIKE, line: [] },
	...Object.fromEntries(['rb', 'sh', 'bash', 'zsh', 'yaml', 'yml', 'toml', 'r', 'pl'].map((ext) => [ext, HASH])),
	py: { ...HASH, multiline: ['"""', "'''"], quotes: ['"""', "'''", '"', "'"], docStrings: true },
	pyi: { ...HASH, multiline: ['"""', "'''"], quotes: ['"""', "'''", '"', "'"], docStrings: true },
	sql: { line: ['--'], block: [['/*', '*/']], quotes: ["'", '"'], multiline: ["'"] },
	lua: { line: ['--'], block: [['--[[', ']]']], quotes: ['"', "'"], multiline: [] },
};

/** File extensions whose comment syntax is known. */
export const COMMENT_EXTENSIONS: readonly string[] = Object.keys(SYNTAX).sort();

export function commentSyntaxFor(path: string): CommentSyntax | undefined {
	const m = /\.([^./\\]+)$/.exec(path);
	return m ? SYNTAX[m[1].toLowerCase()] : undefined;
}

export interface CodeToken {
	text: string;
	/** 1-based line where it starts. */
	line: number;
}

const WORD = /[\p{L}\p{N}_$]/u;

export function codeTokens(text: string, syntax: CommentSyntax): CodeToken[] {
	const tokens: CodeToken[] = [];
	let line = 1;
	let i = 0;
	const skipTo = (end: number) => {
		for (; i < end; i++) if (text[i] === '\n') line++;
	};
	outer: while (i < text.length) {
		const ch = text[i];
		if (/\s/.test(ch)) {
			skipTo(i + 1);
			continue;
		}
		for (const [open, close] of syntax.block) {
			if (text.startsWith(open, i)) {
				const end = text.indexOf(close, i + open.length);
				skipTo(end < 0 ? text.length : end + close.length);
				continue outer;
			}
		}
		for (const marker of syntax.line) {
			if (text.startsWith(marker, i)) {
				const end = text.indexOf('\n', i);
				skipTo(end < 0 ? text.length : end);
				continue outer;
			}
		}
		for (const q of syntax.quotes) {
			if (!text.startsWith(q, i)) continue;
			const start = i;
			const startLine = line;
			let j = i + q.length;
			while (j < text.length && !text.startsWith(q, j)) {
				if (text[j] === '\\') j++;
				else if (text[j] === '\n' && !syntax.multiline.includes(q)) break;
				j++;
			}
			const end = Math.min(text.length, text.startsWith(q, j) ? j + q.length : j);
			skipTo(end);
			if (!(syntax.docStrings && q.length === 3)) tokens.push({ text: text.slice(start, end), line: startLine });
			continue outer;
		}
		if (WORD.test(ch)) {
			let j = i + 1;
			while (j < text.length && WORD.test(text[j])) j++;
			tokens.push({ text: text.slice(i, j), line });
			i = j;
			continue;
		}
		tokens.push({ text: ch, line });
		i++;
	}
	return tokens;
}

/** Where `after` changes the code of `before` (beyond comments and whitespace), in words a model can act on; undefined when it does not. */
export function codeChange(before: string, after: string, syntax: CommentSyntax): string | undefined {
	const a = codeTokens(before, syntax);
	const b = codeTokens(after, syntax);
	const n = Math.min(a.length, b.length);
	let i = 0;
	while (i < n && a[i].text === b[i].text) i++;
	if (i === a.length && i === b.length) return undefined;
	const show = (t: CodeToken | undefined) => (t ? `\`${t.text.length > 40 ? `${t.text.slice(0, 39)}…` : t.text}\`` : 'the end of the file');
	const where = b[i] ? `line ${b[i].line} of your file` : 'the end of your file';
	const was = a[i] ? ` (line ${a[i].line} of the original)` : '';
	return `the code changed at ${where}: the original has ${show(a[i])}${was} where yours has ${show(b[i])}; only add comments, change no code`;
}
