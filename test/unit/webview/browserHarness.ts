// Serves the built board bundle in the HTML the extension generates (same CSP), on loopback, for a real Chromium.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { renderBoardHtml } from '../../../src/vscode/webview/boardHtml';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const NONCE = 'test-nonce-4f2a9c';

const repo = resolve(__dirname, '../../..');
const bundle = join(repo, 'dist/webview/main.js');
const styles = join(repo, 'dist/webview/main.css');

function newest(dir: string): number {
	let t = 0;
	for (const entry of readdirSync(dir, { withFileTypes: true })) {
		const p = join(dir, entry.name);
		t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
	}
	return t;
}

/** Builds with the project's esbuild config when the bundle is missing or older than its sources (`mocha` run alone). */
export function ensureBundle(): void {
	const sources = Math.max(newest(join(repo, 'webview-ui/src')), newest(join(repo, 'src/protocol')));
	if (existsSync(bundle) && existsSync(styles) && statSync(bundle).mtimeMs >= sources) return;
	execFileSync(process.execPath, ['esbuild.config.mjs'], { cwd: repo, stdio: 'inherit' });
}

/**
 * The very page the extension host generates (renderBoardHtml), with `'self'` where the host writes
 * `webview.cspSource`, plus a theme stylesheet standing in for the variables VS Code injects.
 */
export function boardHtml(): string {
	return renderBoardHtml({
		cspSource: "'self'",
		nonce: NONCE,
		scriptUri: '/webview/main.js',
		styleUri: '/webview/main.css',
		head: '<link rel="stylesheet" href="/theme.css">\n',
		bodyAttributes: 'class="vscode-dark" data-vscode-theme-kind="vscode-dark"',
	});
}

/** A subset of VS Code's Dark Modern colours, as VS Code sets them on the webview's <html>. */
export const DARK_THEME = `html {
	--vscode-font-family: system-ui, "Ubuntu", "Droid Sans", sans-serif;
	--vscode-font-size: 13px;
	--vscode-font-weight: normal;
	--vscode-editor-font-family: "DejaVu Sans Mono", "Droid Sans Mono", monospace;
	--vscode-editor-font-size: 13px;
	--vscode-foreground: #cccccc;
	--vscode-descriptionForeground: #9d9d9d;
	--vscode-disabledForeground: #cccccc80;
	--vscode-errorForeground: #f85149;
	--vscode-focusBorder: #0078d4;
	--vscode-sideBar-background: #181818;
	--vscode-sideBarSectionHeader-foreground: #cccccc;
	--vscode-editor-background: #1f1f1f;
	--vscode-editor-foreground: #cccccc;
	--vscode-panel-border: #2b2b2b;
	--vscode-widget-border: #313131;
	--vscode-editorWidget-background: #202020;
	--vscode-textCodeBlock-background: #2b2b2b;
	--vscode-textLink-foreground: #4daafc;
	--vscode-textLink-activeForeground: #4daafc;
	--vscode-button-background: #0078d4;
	--vscode-button-foreground: #ffffff;
	--vscode-button-hoverBackground: #026ec1;
	--vscode-button-border: #ffffff12;
	--vscode-button-secondaryBackground: #313131;
	--vscode-button-secondaryForeground: #cccccc;
	--vscode-button-secondaryHoverBackground: #3c3c3c;
	--vscode-checkbox-background: #313131;
	--vscode-checkbox-border: #3c3c3c;
	--vscode-checkbox-foreground: #cccccc;
	--vscode-input-background: #313131;
	--vscode-input-foreground: #cccccc;
	--vscode-input-border: #3c3c3c;
	--vscode-input-placeholderForeground: #989898;
	--vscode-badge-background: #616161;
	--vscode-badge-foreground: #f8f8f8;
	--vscode-progressBar-background: #0078d4;
	--vscode-charts-red: #f14c4c;
	--vscode-charts-blue: #3794ff;
	--vscode-charts-yellow: #cca700;
	--vscode-charts-orange: #d18616;
	--vscode-charts-green: #89d185;
	--vscode-charts-purple: #b180d7;
	--vscode-testing-iconPassed: #73c991;
	--vscode-testing-iconFailed: #f14c4c;
	--vscode-inputValidation-errorBackground: #5a1d1d;
	--vscode-inputValidation-errorBorder: #be1100;
	--vscode-inputValidation-warningBackground: #352a05;
	--vscode-inputValidation-warningBorder: #b89500;
	--vscode-list-activeSelectionBackground: #04395e;
	--vscode-notificationsInfoIcon-foreground: #3794ff;
}
body {
	margin: 0;
	padding: 0 12px;
	background: var(--vscode-sideBar-background);
	color: var(--vscode-foreground);
	font-family: var(--vscode-font-family);
	font-size: var(--vscode-font-size);
}
`;

export interface BoardServer {
	url: string;
	close(): Promise<void>;
}

export async function serveBoard(): Promise<BoardServer> {
	const files: Record<string, { type: string; body: () => string | Buffer }> = {
		'/': { type: 'text/html', body: boardHtml },
		'/theme.css': { type: 'text/css', body: () => DARK_THEME },
		'/webview/main.js': { type: 'text/javascript', body: () => readFileSync(bundle) },
		'/webview/main.css': { type: 'text/css', body: () => readFileSync(styles) },
	};
	const server: Server = createServer((req, res) => {
		const file = files[(req.url ?? '/').split('?')[0]];
		if (!file) {
			res.writeHead(404).end();
			return;
		}
		res.writeHead(200, { 'content-type': `${file.type}; charset=utf-8`, 'cache-control': 'no-store' }).end(file.body());
	});
	await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
	const { port } = server.address() as AddressInfo;
	return {
		url: `http://127.0.0.1:${port}/`,
		close: () => new Promise<void>((ok) => server.close(() => ok())),
	};
}
