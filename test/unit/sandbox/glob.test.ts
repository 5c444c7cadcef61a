import assert from 'node:assert/strict';
import { compileGlob, matchGlob } from '../../../src/core/sandbox/glob';

describe('sandbox glob matcher', () => {
	it('`**` matches zero or more whole segments', () => {
		assert.equal(matchGlob('.git/**', '.git'), true);
		assert.equal(matchGlob('.git/**', '.git/hooks/pre-commit'), true);
		assert.equal(matchGlob('**/.git', 'a/b/.git'), true);
		assert.equal(matchGlob('**/.git', '.git'), true);
		assert.equal(matchGlob('**/.git/**', 'sub/.git/config'), true);
		assert.equal(matchGlob('.git/**', '.gitignore'), false);
		assert.equal(matchGlob('.git/**', 'src/.git'), false);
	});

	it('`*` and `?` stay within one segment', () => {
		assert.equal(matchGlob('*.code-workspace', 'x.code-workspace'), true);
		assert.equal(matchGlob('*.code-workspace', 'a/x.code-workspace'), false);
		assert.equal(matchGlob('**/*.code-workspace', 'a/b/x.code-workspace'), true);
		assert.equal(matchGlob('.env*', '.env'), true);
		assert.equal(matchGlob('.env*', '.env.local'), true);
		assert.equal(matchGlob('.env*', 'env'), false);
		assert.equal(matchGlob('file?.txt', 'file1.txt'), true);
		assert.equal(matchGlob('file?.txt', 'file12.txt'), false);
		assert.equal(matchGlob('a/*/c', 'a/b/c'), true);
		assert.equal(matchGlob('a/*/c', 'a/b/x/c'), false);
	});

	it('backtracks across several `**`', () => {
		assert.equal(matchGlob('**/a/**/b', 'x/a/y/a/z/b'), true);
		assert.equal(matchGlob('**/a/**/b', 'x/a/y/c'), false);
		assert.equal(matchGlob('**', ''), true);
		assert.equal(matchGlob('**', 'any/thing'), true);
	});

	it('treats regex characters in patterns literally', () => {
		assert.equal(matchGlob('a+b(c).txt', 'a+b(c).txt'), true);
		assert.equal(matchGlob('a.b', 'axb'), false);
		assert.equal(matchGlob('[ab]*', 'a'), false);
	});

	it('matches case-insensitively only when asked', () => {
		assert.equal(matchGlob('.vscode/**', '.VSCode/settings.json'), false);
		assert.equal(compileGlob('.vscode/**', { nocase: true }).test('.VSCode/settings.json'), true);
		assert.equal(compileGlob('*.Env', { nocase: true }).test('x.ENV'), true);
	});
});
