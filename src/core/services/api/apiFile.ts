// .quantum/api.json: how local clients (the git hooks, scripts) find the server — { "port", "token" }, readable by
// the owner only: created with mode 0600 and renamed into place, so no other user ever sees it, whole or in part.
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { readFileSync, unlinkSync } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../../state/atomicFs';

export const API_FILE = 'api.json';

export interface ApiFile {
	port: number;
	token: string;
}

export async function writeApiFile(file: string, contents: ApiFile): Promise<void> {
	await mkdir(path.dirname(file), { recursive: true });
	await writeFileAtomic(file, `${JSON.stringify(contents, null, '\t')}\n`, { mode: 0o600, what: 'API address file' });
}

function holds(text: string, token: string): boolean {
	try {
		return (JSON.parse(text) as Partial<ApiFile>).token === token;
	} catch {
		return false;
	}
}

/** Removes the file if it is still this server's (another server may have taken the workspace over since). */
export async function removeApiFile(file: string, token: string): Promise<void> {
	const text = await readFile(file, 'utf8').catch(() => undefined);
	if (text !== undefined && holds(text, token)) await unlink(file).catch(() => undefined);
}

/** As removeApiFile, for an exit that cannot wait (a second Ctrl-C). */
export function removeApiFileSync(file: string, token: string): void {
	try {
		if (holds(readFileSync(file, 'utf8'), token)) unlinkSync(file);
	} catch {
		// gone already
	}
}
