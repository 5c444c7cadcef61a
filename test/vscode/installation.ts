// Where test/vscode/setup.sh installs the real VS Code (code-server on Node 24) and the browser the tests drive.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '..', '..');
export const CODE_SERVER_VERSION = '4.139.1';
const NODE_VERSION = '24.9.0';

export interface Installation {
	/** QO_VSCODE_DIR: everything setup.sh installed, and each run's private state. */
	dir: string;
	/** Node 24, the only Node code-server 4.139 runs on. */
	node: string;
	/** code-server's entry script, run with `node` above. */
	entry: string;
	chromium: string;
}

export function installation(): Installation {
	const dir = resolve(process.env.QO_VSCODE_DIR ?? join(REPO_ROOT, '.vscode-test'));
	return {
		dir,
		node: join(dir, `node-v${NODE_VERSION}`, 'bin', 'node'),
		entry: join(dir, 'code-server', 'lib', 'node_modules', 'code-server', 'out', 'node', 'entry.js'),
		chromium: process.env.QO_CHROMIUM ?? '/usr/bin/chromium',
	};
}

/** What is missing for a real-VS-Code run, empty when everything is installed. */
export function missingPieces(inst = installation()): string[] {
	const missing: string[] = [];
	if (!existsSync(inst.node)) missing.push(`Node 24 (${inst.node})`);
	if (!existsSync(inst.entry)) missing.push(`code-server ${CODE_SERVER_VERSION} (${inst.entry})`);
	if (!existsSync(inst.chromium)) missing.push(`chromium (${inst.chromium})`);
	return missing;
}
