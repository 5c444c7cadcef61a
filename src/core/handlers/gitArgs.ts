// What each git step runs: the parameter schemas operations share, their argument lists, and how a command is shown.
import { z } from 'zod';

// Refs, branch and tag names never start with '-', so they cannot be read as options.
export const refName = (what: string) =>
	z
		.string()
		.min(1)
		.regex(/^[^-\s][^\s]*$/, `${what} must not start with "-" or contain spaces`);
export const repoParam = z.string().optional().describe('Repository directory, workspace-relative (default: the workspace root).');
export const pathsParam = z
	.union([z.string().min(1), z.array(z.string().min(1)).min(1)])
	.describe('Workspace-relative path or paths (git pathspecs, e.g. "src" or ".").');

export function toArray(p: string | string[] | undefined): string[] {
	return p === undefined ? [] : typeof p === 'string' ? [p] : p;
}

function quote(arg: string): string {
	return /^[\w@%+=:,./^~-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function shownCommand(args: string[], repo: string | undefined): string {
	return `git ${args.map(quote).join(' ')}${repo ? ` (in ${repo})` : ''}`;
}

export function commands(args: string[], repo: string | undefined) {
	return { reads: [], writes: [], commands: [shownCommand(args, repo)] };
}

export function commitArgs(p: { message: string; all?: boolean; allow_empty?: boolean }, specs: string[]): string[] {
	return [
		'commit',
		`--message=${p.message}`,
		...(p.all ? ['--all'] : []),
		...(p.allow_empty ? ['--allow-empty'] : []),
		...(specs.length ? ['--', ...specs] : []),
	];
}

export function branchArgs(p: { name: string; checkout?: boolean; start_point?: string }): string[] {
	const start = p.start_point ? [p.start_point] : [];
	return p.checkout ? ['checkout', '-b', p.name, ...start] : ['branch', p.name, ...start];
}

export function checkoutArgs(p: { ref: string; create?: boolean }): string[] {
	return p.create ? ['checkout', '-b', p.ref] : ['checkout', p.ref, '--'];
}

export function diffArgs(p: { ref?: string; cached?: boolean; stat?: boolean }, specs: string[]): string[] {
	return [
		'diff',
		'--no-color',
		'--no-ext-diff',
		...(p.cached ? ['--cached'] : []),
		...(p.stat ? ['--stat'] : []),
		...(p.ref ? [p.ref] : []),
		'--',
		...specs,
	];
}

const LOG_FORMAT = '--format=%H%x1f%h%x1f%an%x1f%ae%x1f%aI%x1f%D%x1f%s%x1f%b%x1e';

export function logArgs(p: { max_count?: number; ref?: string }, specs: string[]): string[] {
	return ['log', `--max-count=${p.max_count ?? 10}`, LOG_FORMAT, ...(p.ref ? [p.ref] : []), '--', ...specs];
}

export function tagArgs(p: { name: string; message?: string; ref?: string }): string[] {
	return ['tag', ...(p.message !== undefined ? ['-a', `--message=${p.message}`] : []), p.name, ...(p.ref ? [p.ref] : [])];
}
