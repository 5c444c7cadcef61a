// The example project's own lint rules: no plugins, so it needs nothing beyond eslint itself.
export default [
	{
		files: ['**/*.js'],
		languageOptions: { sourceType: 'module', globals: { console: 'readonly' } },
		rules: { 'no-undef': 'error', 'no-unused-vars': 'warn', eqeqeq: 'warn', 'prefer-const': 'warn' },
	},
];
