import tseslint from 'typescript-eslint';

const noVscode = {
	'no-restricted-imports': ['error', {
		paths: [{ name: 'vscode', message: 'The core, protocol, CLI and webview never import vscode: go through a port in src/core/ports/.' }],
	}],
};

// The webview runs in a browser sandbox: besides `vscode`, no Node built-ins and none of the host-side layers.
const webviewSandbox = {
	'no-restricted-imports': ['error', {
		paths: noVscode['no-restricted-imports'][1].paths,
		patterns: [
			{ group: ['node:*'], message: 'The webview runs in a browser: no Node built-ins.' },
			{ group: ['**/src/core/**', '**/src/vscode/**', '**/src/cli/**'], message: 'The webview may import src/protocol only.' },
		],
	}],
};

export default tseslint.config(
	{ ignores: ['dist/**', 'node_modules/**', 'bench/out/**', '.test-tmp/**', 'bin/**', '*.mjs', 'webview-ui/dist/**', '.scratch/**', 'examples/quality/**'] },
	...tseslint.configs.recommended,
	{
		rules: {
			'@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
			'@typescript-eslint/consistent-type-imports': 'error',
			'no-console': 'off',
		},
	},
	{ files: ['src/core/**', 'src/protocol/**', 'src/cli/**', 'webview-ui/**'], rules: noVscode },
	{ files: ['src/core/**', 'src/vscode/**'], rules: { 'no-console': 'error' } },
	{ files: ['webview-ui/**'], rules: webviewSandbox },
);
