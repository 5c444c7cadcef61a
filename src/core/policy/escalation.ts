// The escalation policy: which steps pause for a person even though the workflow did not ask (risky commands,
// git operations, deletions, writes outside an allow-list). Pure: the hosts feed it settings and allowed rules.
import type { Touches } from '../handlers/types';
import { compileGlob, type Glob } from '../sandbox/glob';

export interface EscalationPolicy {
	/** Regular expressions; an `exec` command segment matching one needs approval. */
	riskyCommands: string[];
	/** Command patterns (`*` = anything) allowed without asking; when non-empty, a segment matching none needs approval. */
	allowedCommands: string[];
	/** `git` operations that need approval (e.g. `checkout`, `tag`). */
	gitOperations: string[];
	/** Deleting (or moving away) a file needs approval. */
	confirmDeletes: boolean;
	/** Workspace globs steps may write without asking; when non-empty, a declared write outside them needs approval. */
	allowedWritePaths: string[];
}

export const DEFAULT_RISKY_COMMANDS: readonly string[] = Object.freeze([
	'\\brm\\s+(-[a-zA-Z]*[rR][a-zA-Z]*|--recursive)\\b',
	'\\bgit\\s+push\\b',
	'\\bgit\\s+reset\\s+--hard\\b',
	'\\bgit\\s+clean\\b',
	'\\bgit\\s+(checkout|restore)\\s+(--\\s+)?\\.(\\s|$)',
	'\\bsudo\\b',
	'\\b(curl|wget)\\b.*\\|\\s*(ba|z)?sh\\b',
	'\\bchmod\\s+-R\\b',
	'\\bchown\\b',
	'\\bmkfs\\b',
	'\\bdd\\s+if=',
	'\\b(npm|yarn|pnpm)\\s+publish\\b',
	'\\bdocker\\s+(system\\s+)?prune\\b',
	'\\bkill(all)?\\b',
	'\\b(shutdown|reboot)\\b',
]);

export const DEFAULT_ESCALATION_POLICY: Readonly<EscalationPolicy> = Object.freeze({
	riskyCommands: [...DEFAULT_RISKY_COMMANDS],
	allowedCommands: [],
	gitOperations: [],
	confirmDeletes: true,
	allowedWritePaths: [],
});

/** Why a step pauses, and the rule a person can choose to always allow. */
export interface Escalation {
	/** Stable id of the rule, e.g. `exec:risky:\bsudo\b`, `exec:command:make deploy`, `file:delete`, `git:checkout`. */
	rule: string;
	reason: string;
}

/** What "always allow" of a rule covers, for the person choosing it: `file:delete` → "every deletion in this workspace". */
export function describeRule(rule: string): string {
	const [kind, what, ...rest] = rule.split(':');
	const arg = rest.length ? `${what}:${rest.join(':')}` : what;
	if (kind === 'file' && what === 'delete') return 'every file deletion or move';
	if (kind === 'file' && what === 'outside-allowed') return `writes to ${rest.join(':')}`;
	if (kind === 'git') return `every git ${what}`;
	if (kind === 'exec' && what === 'risky') return `every command matching /${rest.join(':')}/`;
	if (kind === 'exec' && what === 'command') return `the command \`${rest.join(':')}\``;
	if (kind === 'exec' && what === 'substitution') return 'command substitutions $(…) in any command';
	return arg ?? rule;
}

/** What the policy looks at: the step's identity and what it will touch (from its parsed parameters). */
export interface EscalationSubject {
	type: string;
	operation: string;
	touches: Touches;
}

export type EscalationCheck = (step: EscalationSubject) => Escalation | undefined;

interface Compiled {
	risky: { source: string; re: RegExp }[];
	allowed: RegExp[];
	git: Set<string>;
	confirmDeletes: boolean;
	writes: Glob[];
}

/**
 * Builds the check. `allowedRules` is read on every call, so "always allow" takes effect at once.
 * A bad regular expression is reported through `onBadPattern` and ignored (a typo must not stop every run).
 */
export function createEscalationCheck(
	policy: Partial<EscalationPolicy>,
	allowedRules: () => ReadonlySet<string> = () => new Set(),
	onBadPattern?: (pattern: string, error: string) => void,
	/** A step the policy would have paused went ahead because its rule is always allowed (log it: it is a decision too). */
	onAllowed?: (escalation: Escalation, step: EscalationSubject) => void,
): EscalationCheck {
	const full = { ...DEFAULT_ESCALATION_POLICY, ...policy };
	const compiled: Compiled = {
		risky: full.riskyCommands.flatMap((source) => {
			try {
				return [{ source, re: new RegExp(source) }];
			} catch (err) {
				onBadPattern?.(source, (err as Error).message);
				return [];
			}
		}),
		allowed: full.allowedCommands.map(commandPattern),
		git: new Set(full.gitOperations),
		confirmDeletes: full.confirmDeletes,
		writes: full.allowedWritePaths.map((g) => compileGlob(g)),
	};
	return (step) => {
		const allowed = allowedRules();
		for (const e of escalations(compiled, step)) {
			if (!allowed.has(e.rule)) return e;
			onAllowed?.(e, step);
		}
		return undefined;
	};
}

function* escalations(p: Compiled, step: EscalationSubject): Generator<Escalation> {
	const { type, operation, touches } = step;
	if (type === 'git' && p.git.has(operation)) {
		yield { rule: `git:${operation}`, reason: `git ${operation} is on the escalation list` };
	}
	// quality steps name a command only when the workflow gives one (detected tools are the project's own).
	if (type === 'exec' || type === 'quality') {
		for (const line of touches.commands ?? []) yield* commandEscalations(p, line);
	}
	if (type === 'file' && p.confirmDeletes && (operation === 'delete' || operation === 'move')) {
		const what = operation === 'delete' ? 'deletes' : 'moves away';
		yield { rule: 'file:delete', reason: `it ${what} ${touches.writes[0] ?? 'a file'}` };
	}
	// Every step's declared file writes, not only `file` steps': an llm step's output_path or applied fix is a write too.
	if (p.writes.length > 0) {
		for (const w of touches.writes) {
			if (!p.writes.some((g) => g.test(w))) {
				yield { rule: `file:outside-allowed:${w}`, reason: `${w} is outside the allowed write paths (${p.writes.map((g) => g.pattern).join(', ')})` };
			}
		}
	}
}

function* commandEscalations(p: Compiled, line: string): Generator<Escalation> {
	const segments = splitShellLine(line);
	for (const seg of segments) {
		for (const r of p.risky) {
			if (r.re.test(seg.text)) yield { rule: `exec:risky:${r.source}`, reason: `\`${seg.text}\` matches the risky-command pattern /${r.source}/` };
		}
	}
	// The whole line too: a pattern such as `curl … | sh` spans segments.
	for (const r of p.risky) {
		if (segments.length > 1 && r.re.test(line) && !segments.some((s) => r.re.test(s.text))) {
			yield { rule: `exec:risky:${r.source}`, reason: `\`${line}\` matches the risky-command pattern /${r.source}/` };
		}
	}
	if (p.allowed.length === 0) return;
	for (const seg of segments) {
		if (seg.substitution) {
			yield { rule: `exec:substitution`, reason: `\`${seg.text}\` runs a command substitution the allow-list cannot check` };
		} else if (!p.allowed.some((re) => re.test(seg.text))) {
			yield { rule: `exec:command:${seg.text}`, reason: `\`${seg.text}\` is not on the allowed-commands list` };
		}
	}
}

/** `npm run *` → /^npm run .*$/ : `*` matches anything, everything else literally; whitespace runs are one space. */
function commandPattern(pattern: string): RegExp {
	const source = pattern
		.trim()
		.split(/\s+/)
		.map((word) => word.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*'))
		.join('\\s+');
	return new RegExp(`^${source}$`, 's');
}

export interface ShellSegment {
	/** The segment, trimmed, quotes kept as written. */
	text: string;
	/** Contains `$(`, a backtick or `<(`/`>(`: a command hidden inside another. */
	substitution: boolean;
}

/**
 * Splits a shell line into the commands it runs: on `;`, `&&`, `||`, `|`, `&` and newlines outside quotes.
 * Not a shell parser; it errs towards more, smaller segments, which only ever asks more.
 */
export function splitShellLine(line: string): ShellSegment[] {
	const out: ShellSegment[] = [];
	let cur = '';
	let substitution = false;
	let quote: '"' | "'" | undefined;
	const push = () => {
		const text = cur.trim();
		if (text) out.push({ text, substitution });
		cur = '';
		substitution = false;
	};
	for (let i = 0; i < line.length; i++) {
		const ch = line[i];
		const next = line[i + 1];
		if (quote === "'") {
			cur += ch;
			if (ch === "'") quote = undefined;
			continue;
		}
		if (ch === '\\' && next !== undefined) {
			cur += ch + next;
			i++;
			continue;
		}
		if (ch === '`' || (ch === '$' && next === '(') || ((ch === '<' || ch === '>') && next === '(')) substitution = true;
		if (quote === '"') {
			cur += ch;
			if (ch === '"') quote = undefined;
			continue;
		}
		if (ch === '"' || ch === "'") {
			quote = ch;
			cur += ch;
			continue;
		}
		if (ch === ';' || ch === '\n' || ch === '|' || ch === '&') {
			// `>&2`, `2>&1` and `&>` are redirections, not separators.
			if (ch === '&' && (line[i - 1] === '>' || line[i - 1] === '<' || next === '>')) {
				cur += ch;
				continue;
			}
			push();
			if ((ch === '|' || ch === '&') && next === ch) i++;
			continue;
		}
		cur += ch;
	}
	push();
	return out;
}
