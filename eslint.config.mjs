import tseslint from 'typescript-eslint';

const noVscode = {
	'no-restricted-imports': ['error', {
		paths: [{ name: 'vscode', message: 'The core, protocol, CLI and webview never import vscode: go through a port in src/core/ports/.' }],
	}],
};

export default tseslint.config(
	{ ignores: ['dist/**', 'node_modules/**', 'bench/out/**', '.test-tmp/**', 'bin/**', '*.mjs', 'webview-ui/dist/**', '.scratch/**'] },
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
);
