// Environment scrubbing: child processes do not inherit variables whose names look like secrets.

/** Regexes (case-insensitive) for secret-looking variable names; configurable through SecretPolicy. */
export const DEFAULT_SECRET_PATTERNS: readonly string[] = Object.freeze([
	'KEY',
	'SECRET',
	'TOKEN',
	'PASSWORD',
	'PASSWD',
	'(^|_)PASS(_|$)',
	'_PWD$',
	'CREDENTIAL',
	'AUTH',
	'PRIVATE',
	'SESSION',
	'COOKIE',
]);

/** Names that match the default patterns but hold no secret, and that tools need (git identity, desktop session). */
const BENIGN_NAMES = new Set([
	'GIT_AUTHOR_NAME',
	'GIT_AUTHOR_EMAIL',
	'GIT_AUTHOR_DATE',
	'DBUS_SESSION_BUS_ADDRESS',
	'DESKTOP_SESSION',
	'SESSION_MANAGER',
	'XDG_SESSION_ID',
	'XDG_SESSION_TYPE',
	'XDG_SESSION_CLASS',
	'XDG_SESSION_DESKTOP',
	'TERM_SESSION_ID',
]);

export interface ScrubOptions {
	/** Regex sources matched case-insensitively against names; default DEFAULT_SECRET_PATTERNS. */
	patterns?: readonly string[];
	/** Names kept even when they match (a step's `env_allow`); compared case-insensitively. */
	allow?: readonly string[];
}

export interface ScrubResult {
	env: NodeJS.ProcessEnv;
	/** Names removed, sorted, for logs (never the values). */
	removed: string[];
}

let cachedKey: string | undefined;
let cachedRe: RegExp | undefined;

function compilePatterns(patterns: readonly string[]): RegExp {
	const key = patterns.join('\n');
	if (key === cachedKey && cachedRe) return cachedRe;
	for (const p of patterns) {
		try {
			new RegExp(p, 'i');
		} catch (err) {
			throw new Error(`invalid secret pattern "${p}": ${(err as Error).message}`);
		}
	}
	const re = patterns.length === 0 ? /(?!)/ : new RegExp(patterns.map((p) => `(?:${p})`).join('|'), 'i');
	cachedKey = key;
	cachedRe = re;
	return re;
}

/** A copy of env without secret-looking variables (undefined values dropped), and the names it removed. */
export function scrubEnv(env: NodeJS.ProcessEnv, opts: ScrubOptions = {}): ScrubResult {
	const re = compilePatterns(opts.patterns ?? DEFAULT_SECRET_PATTERNS);
	const allow = new Set((opts.allow ?? []).map((n) => n.toUpperCase()));
	const out: NodeJS.ProcessEnv = {};
	const removed: string[] = [];
	for (const name of Object.keys(env)) {
		const value = env[name];
		if (value === undefined) continue;
		const upper = name.toUpperCase();
		if (re.test(name) && !allow.has(upper) && !BENIGN_NAMES.has(upper)) {
			removed.push(name);
			continue;
		}
		out[name] = value;
	}
	removed.sort();
	return { env: out, removed };
}
