// Which files in the inbox are workflows to pick up, and where they go afterwards (done/, failed/) without clashing.
import { lstat, rename } from 'node:fs/promises';
import * as path from 'node:path';
import { isMissing } from '../../state/io';

export const DONE_FOLDER = 'done';
export const FAILED_FOLDER = 'failed';

/** Endings of files still being written by a downloader, an editor or a tool that renames when done. */
const TEMPORARY_ENDINGS = ['.tmp', '.temp', '.part', '.partial', '.crdownload', '.download', '.swp', '.swx', '~'];

/**
 * A file the inbox picks up: `*.json`, not hidden (`.x.json`, editors' `.#x.json`), not an Office-style `~$x.json`
 * lock, not a temporary name (those end in .tmp, .part, … and are renamed to `*.json` when complete).
 */
export function isInboxFileName(name: string): boolean {
	const lower = name.toLowerCase();
	if (!lower.endsWith('.json') || lower === '.json') return false;
	if (name.startsWith('.') || name.startsWith('~') || name.startsWith('#')) return false;
	return !TEMPORARY_ENDINGS.some((e) => lower.endsWith(e));
}

/** `deploy.json` → `deploy.result.json`: the result written next to a moved file. */
export function resultNameFor(name: string): string {
	return `${name.replace(/\.json$/i, '')}.result.json`;
}

async function exists(file: string): Promise<boolean> {
	try {
		await lstat(file);
		return true;
	} catch (err) {
		if (isMissing(err)) return false;
		throw err;
	}
}

/** `20261125T101500123Z`: sorts by time, and is a valid file name everywhere. */
export function fileStamp(at: number): string {
	return new Date(at).toISOString().replace(/[-:.]/g, '');
}

/**
 * A name in `dir` for `name` that clashes neither with a file there nor with that file's result: `name` itself, else
 * `<stem>-<timestamp>.json`, else with a counter after the timestamp.
 */
export async function freeName(dir: string, name: string, at: number): Promise<string> {
	const free = async (n: string) => !(await exists(path.join(dir, n))) && !(await exists(path.join(dir, resultNameFor(n))));
	if (await free(name)) return name;
	const stem = name.replace(/\.json$/i, '');
	const stamped = `${stem}-${fileStamp(at)}`;
	for (let i = 1; ; i++) {
		const candidate = i === 1 ? `${stamped}.json` : `${stamped}-${i}.json`;
		if (await free(candidate)) return candidate;
	}
}

/**
 * Moves `file` into `dir` (a subfolder of the file's folder: same file system, so the rename is atomic) under a free
 * name; returns the new path. Only one mover works on an inbox at a time (its lock), so the free name stays free.
 */
export async function moveInto(file: string, dir: string, at: number): Promise<string> {
	const dest = path.join(dir, await freeName(dir, path.basename(file), at));
	await rename(file, dest);
	return dest;
}
