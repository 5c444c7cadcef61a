// The board page: strict CSP with a nonce, assets only from the extension's dist/webview. Pure (no vscode import),
// so the browser tests serve exactly this page.

export interface BoardPage {
	/** The webview's `cspSource` ('self' when served from a test server). */
	cspSource: string;
	nonce: string;
	scriptUri: string;
	styleUri: string;
	/** Extra <head> content (tests add a theme stylesheet standing in for the variables VS Code injects). */
	head?: string;
	/** Attributes of <body> (tests set the theme class VS Code sets). */
	bodyAttributes?: string;
}

export function renderBoardHtml(page: BoardPage): string {
	const { cspSource, nonce } = page;
	// The toolkit (FAST) adds one <style> to probe :focus-visible: it carries the nonce from the csp-nonce meta.
	const csp = ["default-src 'none'", `style-src ${cspSource} 'nonce-${nonce}'`, `script-src 'nonce-${nonce}'`].join('; ');
	return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta property="csp-nonce" content="${nonce}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
${page.head ?? ''}<link rel="stylesheet" href="${page.styleUri}">
<title>Quantum Orchestrator</title>
</head>
<body${page.bodyAttributes ? ` ${page.bodyAttributes}` : ''}>
<div id="qo-board"></div>
<script type="module" nonce="${nonce}" src="${page.scriptUri}"></script>
</body>
</html>`;
}
