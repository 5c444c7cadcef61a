// The workspace is the sandbox: every path a step touches is resolved and checked here first.
import type { Stats } from 'node:fs';

export interface SandboxPolicy {
	/** Globs (workspace-relative, `/` separators) whose writes always need approval. */
	approvalGlobs: string[];
	/** Globs no `file` step may write at all (`.quantum/**`, `.git/**`). */
	protectedGlobs: string[];
}

export interface Sandbox {
	/** Absolute, real path of the workspace root. */
	readonly root: string;
	/**
	 * Resolve a workspace-relative path for reading. Refuses `..` escapes, absolute paths outside the root
	 * and symlinks (at any level) that lead outside, with a SandboxError naming the path.
	 */
	resolveRead(rel: string): Promise<string>;
	/** As resolveRead, and refuses protected paths and files with several hard links. */
	resolveWrite(rel: string): Promise<string>;
	/**
	 * resolveWrite, synchronously, with what the check saw: the caller can act on it (take a lock, journal a
	 * before-image) before anything else runs, instead of taking the same lstats again.
	 */
	resolveWriteTarget(rel: string): WriteTarget;
	/** A directory inside the workspace to run a command in (default: the root). */
	resolveCwd(rel?: string): Promise<string>;
	/** The reason a write to this path needs approval, or undefined. Pure: no disk access. */
	approvalReason(rel: string): string | undefined;
	/** Workspace-relative form (with `/`) of an absolute path inside the root. */
	relative(abs: string): string;
}

/** A path resolved and checked for writing, as it was at that instant. */
export interface WriteTarget {
	/** Real absolute path (every symlink on the way expanded and checked). */
	abs: string;
	/** lstat of `abs`; undefined when nothing is there. */
	st: Stats | undefined;
	/** Ancestors of `abs` that do not exist (a write creates them), outermost first. */
	missingParents: string[];
}
