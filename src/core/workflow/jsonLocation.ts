// Where things are in JSON text: a JSON-path → line/column scanner for valid text and a diagnosis of invalid text.

/** One step of a JSON path: a property name or an array index. */
export type PathKey = string | number;

// ---------------------------------------------------------------------------------------------------------------
// JSON paths → lines and columns

/** Offsets → 1-based lines and columns. */
export class LineIndex {
	private readonly starts: number[] = [0];
	constructor(text: string) {
		for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
	}
	/** 1-based line and column; columns count UTF-16 units. */
	at(offset: number): { line: number; column: number } {
		let lo = 0;
		let hi = this.starts.length - 1;
		while (lo < hi) {
			const mid = (lo + hi + 1) >> 1;
			if (this.starts[mid] <= offset) lo = mid;
			else hi = mid - 1;
		}
		return { line: lo + 1, column: offset - this.starts[lo] + 1 };
	}
}

/** Offsets of paths' values (names when `atKey`) in valid JSON text; a missing path gets its deepest found prefix. */
export function locatePaths(text: string, targets: readonly { keys: readonly PathKey[]; atKey?: boolean }[]): number[] {
	const root: PathNode = {};
	let count = 0;
	for (const t of targets) {
		let node = root;
		for (const k of t.keys) {
			node.children ??= new Map();
			let child = node.children.get(k);
			if (!child) {
				node.children.set(k, (child = {}));
				count++;
			}
			node = child;
		}
	}
	locate(text, root, count);
	return targets.map((t) => {
		let node: PathNode | undefined = root;
		let offset = root.value ?? -1;
		for (let k = 0; k < t.keys.length && node; k++) {
			node = node.children?.get(t.keys[k]);
			if (node?.value === undefined) break;
			offset = k === t.keys.length - 1 && t.atKey && node.key !== undefined ? node.key : node.value;
		}
		return offset;
	});
}

/** A trie of the JSON paths problems point at; locate() fills in offsets. */
interface PathNode {
	children?: Map<PathKey, PathNode>;
	/** Offset of the value. */
	value?: number;
	/** Offset of the property name, for object members. */
	key?: number;
}

/** Fills in the trie's offsets in one iterative pass, entering only containers on a wanted path. */
function locate(text: string, root: PathNode, count: number): void {
	let i = skipWs(text, 0);
	root.value = i;
	const opener = text[i];
	if (!root.children || (opener !== '{' && opener !== '[')) return;
	const frames: { node: PathNode; obj: boolean; index: number }[] = [{ node: root, obj: opener === '{', index: 0 }];
	i++;
	while (frames.length && i < text.length) {
		i = skipWs(text, i);
		const c = text[i];
		if (c === ',') {
			i++;
			continue;
		}
		if (c === '}' || c === ']') {
			frames.pop();
			i++;
			continue;
		}
		const frame = frames[frames.length - 1];
		let child: PathNode | undefined;
		let keyAt = -1;
		if (frame.obj) {
			keyAt = i;
			const end = stringEnd(text, i);
			const rawKey = text.slice(i, end);
			const key = rawKey.includes('\\') ? (JSON.parse(rawKey) as string) : rawKey.slice(1, -1);
			i = skipWs(text, skipWs(text, end) + 1);
			child = frame.node.children?.get(key);
		} else {
			child = frame.node.children?.get(frame.index++);
		}
		if (child) {
			if (child.value === undefined && --count === 0) {
				child.value = i;
				if (keyAt >= 0) child.key = keyAt;
				return;
			}
			child.value = i;
			if (keyAt >= 0) child.key = keyAt;
			if (child.children && (text[i] === '{' || text[i] === '[')) {
				frames.push({ node: child, obj: text[i] === '{', index: 0 });
				i++;
				continue;
			}
		}
		i = skipValue(text, i);
	}
}

function skipWs(text: string, i: number): number {
	for (;;) {
		const c = text.charCodeAt(i);
		if (c === 32 || c === 10 || c === 13 || c === 9) i++;
		else return i;
	}
}

/** Offset just past the string starting at `i` (which is a `"`). */
function stringEnd(text: string, i: number): number {
	for (let j = i + 1; j < text.length; j++) {
		const c = text.charCodeAt(j);
		if (c === 92 /* \ */) j++;
		else if (c === 34 /* " */) return j + 1;
	}
	return text.length;
}

/** Offset just past the (valid) JSON value starting at `i`. */
function skipValue(text: string, i: number): number {
	const c = text[i];
	if (c === '"') return stringEnd(text, i);
	if (c === '{' || c === '[') {
		let depth = 0;
		for (let j = i; j < text.length; j++) {
			const d = text.charCodeAt(j);
			if (d === 34) j = stringEnd(text, j) - 1;
			else if (d === 123 || d === 91) depth++;
			else if (d === 125 || d === 93) {
				if (--depth === 0) return j + 1;
			}
		}
		return text.length;
	}
	let j = i;
	while (j < text.length && !',}] \t\r\n'.includes(text[j])) j++;
	return j;
}

// ---------------------------------------------------------------------------------------------------------------
// Malformed JSON: an iterative checker that finds the first error and says it in words

const OBJECT = 1;
const ARRAY = 0;

/** The first syntax error in JSON text (offset and message), or undefined when the text is valid JSON. */
export function diagnoseJson(text: string): { offset: number; message: string } | undefined {
	const len = text.length;
	const stack: number[] = [];
	const opened: number[] = [];
	let i = skipWs(text, 0);
	if (i >= len) return { offset: i, message: 'the file is empty: expected a JSON object' };
	let state: 'value' | 'key' | 'after' = 'value';
	let commaAt = -1;
	let justOpened = false;
	for (;;) {
		i = skipWs(text, i);
		const c = text[i];
		if (state === 'value') {
			if (i >= len) return { offset: i, message: unclosed(text, stack, opened, 'a value') };
			if (c === '{' || c === '[') {
				stack.push(c === '{' ? OBJECT : ARRAY);
				opened.push(i);
				i++;
				justOpened = true;
				state = c === '{' ? 'key' : 'value';
				commaAt = -1;
				if (c === '[') {
					i = skipWs(text, i);
					if (text[i] === ']') {
						stack.pop();
						opened.pop();
						i++;
						state = 'after';
					}
				}
				continue;
			}
			if (c === '"') {
				const e = readString(text, i);
				if (typeof e !== 'number') return e;
				i = e;
			} else if (c === '-' || (c >= '0' && c <= '9')) {
				const e = readNumber(text, i);
				if (typeof e !== 'number') return e;
				i = e;
			} else if (text.startsWith('true', i) || text.startsWith('null', i)) {
				i += 4;
			} else if (text.startsWith('false', i)) {
				i += 5;
			} else if ((c === ']' || c === '}') && commaAt >= 0) {
				return { offset: commaAt, message: `trailing comma before '${c}'` };
			} else {
				return { offset: i, message: unexpected(text, i, 'a value') };
			}
			commaAt = -1;
			state = 'after';
			continue;
		}
		if (state === 'key') {
			if (i >= len) return { offset: i, message: unclosed(text, stack, opened, 'a property name') };
			if (c === '}') {
				if (!justOpened) return { offset: commaAt >= 0 ? commaAt : i, message: "trailing comma before '}'" };
				stack.pop();
				opened.pop();
				i++;
				state = 'after';
				continue;
			}
			if (c !== '"') {
				if (c === "'" || /[A-Za-z_$]/.test(c)) return { offset: i, message: 'property names must be in double quotes' };
				return { offset: i, message: unexpected(text, i, justOpened ? "a property name in double quotes or '}'" : 'a property name in double quotes') };
			}
			const e = readString(text, i);
			if (typeof e !== 'number') return e;
			i = skipWs(text, e);
			if (text[i] !== ':') return { offset: i, message: i >= len ? unclosed(text, stack, opened, "':'") : unexpected(text, i, "':' after the property name") };
			i++;
			justOpened = false;
			commaAt = -1;
			state = 'value';
			continue;
		}
		// after a value
		if (stack.length === 0) {
			if (i >= len) return undefined;
			return { offset: i, message: `unexpected ${show(text, i)} after the end of the JSON value` };
		}
		const top = stack[stack.length - 1];
		const closer = top === OBJECT ? '}' : ']';
		if (i >= len) return { offset: i, message: unclosed(text, stack, opened, `',' or '${closer}'`) };
		if (c === ',') {
			commaAt = i;
			i++;
			justOpened = false;
			state = top === OBJECT ? 'key' : 'value';
			continue;
		}
		if (c === closer) {
			stack.pop();
			opened.pop();
			i++;
			continue;
		}
		const missing = c === '"' || c === '{' || c === '[' || /[-0-9tfn]/.test(c) ? ' (missing comma?)' : '';
		return { offset: i, message: `${unexpected(text, i, `',' or '${closer}'`)}${missing}` };
	}
}

function unclosed(text: string, stack: number[], opened: number[], expected: string): string {
	if (!stack.length) return `unexpected end of file — expected ${expected}`;
	const at = new LineIndex(text).at(opened[opened.length - 1]);
	const what = stack[stack.length - 1] === OBJECT ? '{' : '[';
	return `unexpected end of file — '${what}' opened at line ${at.line}, column ${at.column} is never closed`;
}

function readString(text: string, start: number): number | { offset: number; message: string } {
	for (let i = start + 1; i < text.length; i++) {
		const c = text.charCodeAt(i);
		if (c === 34) return i + 1;
		if (c === 92) {
			const e = text[i + 1];
			if (e === 'u') {
				if (!/^[0-9A-Fa-f]{4}$/.test(text.slice(i + 2, i + 6))) return { offset: i, message: 'invalid \\u escape in string: expected 4 hex digits' };
				i += 5;
			} else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
				i++;
			} else {
				return { offset: i, message: `invalid escape '\\${e ?? ''}' in string` };
			}
		} else if (c === 10 || c === 13) {
			return { offset: start, message: 'unterminated string (a string cannot span lines: write \\n)' };
		} else if (c < 32) {
			return { offset: i, message: 'control character in string (escape it, e.g. \\t)' };
		}
	}
	return { offset: start, message: 'unterminated string' };
}

function readNumber(text: string, start: number): number | { offset: number; message: string } {
	let i = start;
	const digit = () => text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57;
	if (text[i] === '-') i++;
	if (text[i] === '0') {
		i++;
		if (digit()) return { offset: start, message: 'numbers cannot have leading zeros' };
	} else if (digit()) {
		while (digit()) i++;
	} else {
		return { offset: start, message: unexpected(text, start, 'a value') };
	}
	if (text[i] === '.') {
		i++;
		if (!digit()) return { offset: start, message: "invalid number: expected digits after '.'" };
		while (digit()) i++;
	}
	if (text[i] === 'e' || text[i] === 'E') {
		i++;
		if (text[i] === '+' || text[i] === '-') i++;
		if (!digit()) return { offset: start, message: 'invalid number: expected digits in the exponent' };
		while (digit()) i++;
	}
	return i;
}

function unexpected(text: string, i: number, expected: string): string {
	const c = text[i];
	if (c === "'") return `strings must use double quotes — expected ${expected}`;
	if (c === '/' && (text[i + 1] === '/' || text[i + 1] === '*')) return 'comments are not allowed in JSON';
	const word = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(text.slice(i, i + 30))?.[0];
	const hint = word && expected === 'a value' && !['NaN', 'Infinity', 'undefined'].includes(word) ? ' (strings need double quotes)' : '';
	return `unexpected ${show(text, i)} — expected ${expected}${hint}`;
}

function show(text: string, i: number): string {
	const word = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(text.slice(i, i + 30));
	if (word) return `'${word[0]}'`;
	const cp = text.codePointAt(i) ?? 0;
	const ch = String.fromCodePoint(cp);
	return cp < 32 || (cp >= 0x7f && cp < 0xa0) || cp === 0xfeff ? `character U+${cp.toString(16).toUpperCase().padStart(4, '0')}` : `'${ch}'`;
}
