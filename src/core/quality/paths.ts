// Tools print paths relative to where they ran, or absolute: findings name files relative to the workspace.
import { isAbsolute, relative, resolve, sep } from 'node:path';

export interface PathContext {
	/** Absolute, real workspace root. */
	root: string;
	/** Absolute directory the tool ran in. */
	cwd: string;
}

/** A path a tool printed, as a finding names it: workspace-relative with `/`, absolute only when outside it. */
export function workspacePath(ctx: PathContext, printed: string): string {
	const p = printed.startsWith('file://') ? decodeURIComponent(printed.slice(7)) : printed;
	const abs = isAbsolute(p) ? p : resolve(ctx.cwd, p);
	const rel = relative(ctx.root, abs);
	if (rel === '') return '.';
	if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return abs.split(sep).join('/');
	return rel.split(sep).join('/');
}

/** Whether a workspace path names project code (not a dependency, not outside the workspace). */
export function isProjectFile(file: string): boolean {
	return !isAbsolute(file) && !/(^|\/)node_modules\//.test(file) && !file.startsWith('../');
}
