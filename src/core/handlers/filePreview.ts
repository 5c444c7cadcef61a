// What a file step is about to do, as before/after text: the extension shows it as a diff before the user approves.
import { readFile } from 'node:fs/promises';
import { describeError } from '../errors';
import type { Sandbox } from '../sandbox/types';
import { replaceText, type ModifyParams } from './file';

export interface FileChangePreview {
	/** Workspace-relative path of the file that changes. */
	path: string;
	/** Current content ('' when the file does not exist yet). */
	before: string;
	/** Content after the step; undefined when it cannot be known before the step runs. */
	after: string | undefined;
	/** Set when after is unknown or the content is not text: one line saying why. */
	note?: string;
}

/** Bigger files are not previewed: a diff of megabytes helps nobody decide. */
const PREVIEW_LIMIT = 2 * 1024 * 1024;

/** The before/after of a `file` step with these (substituted) parameters; undefined for operations that write no content. */
export async function previewFileChange(sandbox: Sandbox, operation: string, params: Record<string, unknown>): Promise<FileChangePreview | undefined> {
	const str = (k: string) => (typeof params[k] === 'string' ? (params[k] as string) : undefined);
	const path = str('path');
	if (!path) return undefined;
	switch (operation) {
		case 'create': {
			const before = await current(sandbox, path);
			if (params.encoding === 'base64') return { path, before: before.text, after: undefined, note: 'binary content (base64)' };
			return { path, before: before.text, after: str('content') ?? '' };
		}
		case 'modify': {
			const before = await current(sandbox, path);
			if (before.note) return { path, before: before.text, after: undefined, note: before.note };
			const p = params as unknown as ModifyParams;
			try {
				const after = p.content !== undefined ? p.content : p.append !== undefined ? before.text + p.append : replaceText(p, before.text).text;
				return { path, before: before.text, after };
			} catch (err) {
				return { path, before: before.text, after: undefined, note: describeError(err) };
			}
		}
		case 'delete': {
			const before = await current(sandbox, path);
			return { path, before: before.text, after: '', note: before.note };
		}
		case 'copy':
		case 'move': {
			const to = str('to');
			if (!to) return undefined;
			const [source, target] = await Promise.all([current(sandbox, path), current(sandbox, to)]);
			return { path: to, before: target.text, after: source.note ? undefined : source.text, note: source.note ?? target.note };
		}
		default:
			return undefined;
	}
}

async function current(sandbox: Sandbox, rel: string): Promise<{ text: string; note?: string }> {
	try {
		const data = await readFile(await sandbox.resolveRead(rel));
		if (data.length > PREVIEW_LIMIT) return { text: '', note: `${rel} is larger than ${PREVIEW_LIMIT / 1024 / 1024} MiB: not previewed` };
		if (data.includes(0)) return { text: '', note: `${rel} is binary: not previewed` };
		return { text: data.toString('utf8') };
	} catch (err) {
		const code = (err as NodeJS.ErrnoException).code;
		if (code === 'ENOENT' || code === 'ENOTDIR') return { text: '' };
		if (code === 'EISDIR') return { text: '', note: `${rel} is a directory` };
		return { text: '', note: describeError(err) };
	}
}
