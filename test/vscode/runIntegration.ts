// Runs test/integration inside the real extension host of a private code-server, driven from headless chromium.
//   tsx test/vscode/runIntegration.ts [--grep PATTERN] [--extension DIR] [--keep] [--timeout MS] [--verbose]
// Exit code: 0 all passed, 1 a test failed, 2 the harness could not run the tests (or timed out).
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';
import { launchBrowser, newPage, RESULTS_DIR, screenshot } from './browser';
import { startCodeServer } from './codeServer';
import { missingPieces, REPO_ROOT } from './installation';
import { buildIntegrationTests } from './integrationBundle';
import { copyFixtureWorkspace } from './workspaceCopy';

interface Options {
	grep?: string;
	extension: string;
	keep: boolean;
	timeoutMs: number;
	verbose: boolean;
}

// The workbench's own chatter (connections, chat, offline lookups) shares the channel with the tests' output.
const NOISE = [
	/^\[(?:AgentHost|AgentHost:remote|ChatModelSelection|AccountPolicyGate|reconnection-grace-time|Service Worker)\]/,
	/^(?:Resolving|Resolved) connection token|^Creating a socket|^Updating additional builtin/,
	/ENOTFOUND|authentication provider 'github'|vsda/,
];

export function parseArgs(argv: string[]): Options {
	const opts: Options = {
		grep: process.env.QO_TEST_GREP,
		extension: REPO_ROOT,
		keep: false,
		timeoutMs: Number(process.env.QO_TEST_TIMEOUT_MS ?? 300_000),
		verbose: process.env.QO_TEST_VERBOSE === '1',
	};
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i];
		if (arg === '--grep') opts.grep = argv[++i];
		else if (arg === '--extension') opts.extension = argv[++i] ?? REPO_ROOT;
		else if (arg === '--keep') opts.keep = true;
		else if (arg === '--timeout') opts.timeoutMs = Number(argv[++i]);
		else if (arg === '--verbose') opts.verbose = true;
		else throw new Error(`unknown argument ${arg}`);
	}
	return opts;
}

export async function runIntegration(opts: Options): Promise<number> {
	const missing = missingPieces();
	if (missing.length) {
		console.error(`Cannot run the integration tests, missing: ${missing.join(', ')}. Run: npm run test:vscode:setup`);
		return 2;
	}
	warnIfUnbuilt(opts.extension);
	const t0 = Date.now();
	const testsEntry = await buildIntegrationTests();
	const workspace = copyFixtureWorkspace('qo-workspace-', opts.keep);
	const server = await startCodeServer({ smokeTestDriver: true, keep: opts.keep, env: opts.grep ? { QO_TEST_GREP: opts.grep } : {} });
	const browser = await launchBrowser();
	let code: number | string = 'not started';
	try {
		const page = await newPage(browser);
		let finish: (code: number | string) => void = () => undefined;
		const exited = new Promise<number | string>((r) => (finish = r));
		await page.exposeFunction('codeAutomationLog', (_type: string, args: unknown[]) => {
			const line = format(...(args ?? []));
			if (opts.verbose || !NOISE.some((re) => re.test(line))) console.log(line);
		});
		await page.exposeFunction('codeAutomationExit', (exitCode: number) => finish(exitCode));
		page.on('pageerror', (err) => opts.verbose && console.log(`[page] ${err.message}`));
		const payload = JSON.stringify([
			['extensionDevelopmentPath', server.remoteUri(opts.extension)],
			['extensionTestsPath', server.remoteUri(testsEntry)],
		]);
		console.log(`code-server ${server.url}  workspace ${workspace.path}`);
		await page.goto(`${server.url}?folder=${encodeURIComponent(workspace.path)}&payload=${encodeURIComponent(payload)}`);
		const timer = setTimeout(() => finish('timeout'), opts.timeoutMs);
		code = await exited;
		clearTimeout(timer);
		if (code !== 0) {
			const shot = await screenshot(page, `integration-${Date.now()}`);
			if (shot) console.log(`screenshot: ${shot}`);
		}
	} finally {
		await browser.close();
		if (code !== 0) saveLogs(server.dir);
		await server.stop();
		if (!opts.keep) workspace.remove();
	}
	console.log(`extension host exit code: ${code} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
	return code === 0 ? 0 : typeof code === 'number' ? 1 : 2;
}

function warnIfUnbuilt(extension: string): void {
	const main = (JSON.parse(readFileSync(join(extension, 'package.json'), 'utf8')) as { main?: string }).main;
	if (main && !existsSync(join(extension, main))) console.warn(`warning: the extension's main ${main} is missing (npm run build)`);
}

/** Keeps the workbench and extension host logs of a failed run in test-results/. */
function saveLogs(serverDir: string): void {
	const target = join(RESULTS_DIR, `integration-logs-${Date.now()}`);
	mkdirSync(target, { recursive: true });
	for (const [from, to] of [[join(serverDir, 'data', 'logs'), 'logs'], [join(serverDir, 'server.log'), 'server.log']]) {
		if (existsSync(from)) cpSync(from, join(target, to), { recursive: true });
	}
	console.log(`logs: ${target}`);
}

if (require.main === module) {
	runIntegration(parseArgs(process.argv.slice(2))).then(
		(code) => process.exit(code),
		(err: unknown) => {
			console.error('integration runner failed:', err);
			process.exit(2);
		},
	);
}
