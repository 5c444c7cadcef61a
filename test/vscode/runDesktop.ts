// The same integration suites in desktop VS Code through @vscode/test-electron, for machines that can download it
// (or that have it: QO_VSCODE_EXECUTABLE). CI here cannot reach the download server: it uses runIntegration.ts.
//   tsx test/vscode/runDesktop.ts [--version 1.139.1]
import { runTests } from '@vscode/test-electron';
import { buildIntegrationTests } from './integrationBundle';
import { REPO_ROOT } from './installation';
import { copyFixtureWorkspace } from './workspaceCopy';

async function main(): Promise<number> {
	const at = process.argv.indexOf('--version');
	const version = at > 0 ? process.argv[at + 1] : '1.139.1';
	const entry = await buildIntegrationTests();
	const workspace = copyFixtureWorkspace('qo-desktop-');
	try {
		return await runTests({
			version,
			vscodeExecutablePath: process.env.QO_VSCODE_EXECUTABLE || undefined,
			extensionDevelopmentPath: REPO_ROOT,
			extensionTestsPath: entry,
			launchArgs: [workspace.path, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes'],
		});
	} catch (err) {
		process.stderr.write(`desktop VS Code tests could not run: ${err instanceof Error ? err.message : String(err)}\n`);
		return 2;
	} finally {
		workspace.remove();
	}
}

void main().then((code) => process.exit(code));
