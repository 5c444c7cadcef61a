import assert from 'node:assert/strict';
import { linkSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SandboxError } from '../../../src/core/errors';
import type { SandboxErrorCode } from '../../../src/core/errors';
import { createSandbox, DEFAULT_SANDBOX_POLICY } from '../../../src/core/sandbox/paths';
import type { Sandbox } from '../../../src/core/sandbox/types';
import { tempDir } from '../../helpers/tmp';

async function refused(promise: Promise<unknown>, code: SandboxErrorCode, mentions: string): Promise<void> {
	await assert.rejects(promise, (err: unknown) => {
		assert.ok(SandboxError.is(err, code), `expected SandboxError ${code}, got ${String(err)}`);
		assert.ok(err.message.includes(mentions), `"${err.message}" should mention "${mentions}"`);
		return true;
	});
}

describe('sandbox paths', () => {
	let root: string;
	let outside: string;
	let sandbox: Sandbox;

	beforeEach(async () => {
		root = tempDir('qo-sandbox-');
		outside = tempDir('qo-outside-');
		writeFileSync(join(outside, 'secret.txt'), 'secret');
		mkdirSync(join(root, 'src'));
		writeFileSync(join(root, 'src', 'a.txt'), 'a');
		sandbox = await createSandbox(root);
	});

	describe('inside the workspace', () => {
		it('resolves relative paths, including missing ones and inner `..`', async () => {
			assert.equal(await sandbox.resolveRead('src/a.txt'), join(root, 'src', 'a.txt'));
			assert.equal(await sandbox.resolveWrite('src/new/b.txt'), join(root, 'src', 'new', 'b.txt'));
			assert.equal(await sandbox.resolveRead('src/../src/./a.txt'), join(root, 'src', 'a.txt'));
			assert.equal(await sandbox.resolveRead(''), root);
			assert.equal(await sandbox.resolveRead('.'), root);
		});

		it('accepts absolute paths that are inside the root', async () => {
			assert.equal(await sandbox.resolveRead(join(root, 'src', 'a.txt')), join(root, 'src', 'a.txt'));
			assert.equal(await sandbox.resolveWrite(join(root, 'b.txt')), join(root, 'b.txt'));
		});

		it('follows symlinks that stay inside, returning the real target', async () => {
			symlinkSync('src', join(root, 'link-dir'));
			symlinkSync('src/a.txt', join(root, 'link-file'));
			symlinkSync(join(root, 'src'), join(root, 'abs-link'));
			assert.equal(await sandbox.resolveRead('link-dir/a.txt'), join(root, 'src', 'a.txt'));
			assert.equal(await sandbox.resolveWrite('link-file'), join(root, 'src', 'a.txt'));
			assert.equal(await sandbox.resolveWrite('abs-link/c.txt'), join(root, 'src', 'c.txt'));
		});

		it('accepts a symlink whose target goes out and comes back in', async () => {
			const rootName = root.split('/').pop() as string;
			symlinkSync(`../${rootName}/src`, join(root, 'roundabout'));
			assert.equal(await sandbox.resolveRead('roundabout/a.txt'), join(root, 'src', 'a.txt'));
		});

		it('reports workspace-relative paths with `/`', () => {
			assert.equal(sandbox.relative(join(root, 'src', 'a.txt')), 'src/a.txt');
			assert.equal(sandbox.relative(root), '');
			assert.throws(() => sandbox.relative(outside), (err: unknown) => SandboxError.is(err, 'outside'));
		});

		it('refuses a root that does not exist', async () => {
			await assert.rejects(createSandbox(join(root, 'nope')), (err: unknown) => SandboxError.is(err));
		});
	});

	describe('escapes', () => {
		it('refuses `..` that leaves the root', async () => {
			await refused(sandbox.resolveRead('../x'), 'outside', '../x');
			await refused(sandbox.resolveWrite('src/../../x'), 'outside', 'src/../../x');
			await refused(sandbox.resolveRead('..'), 'outside', '..');
		});

		it('refuses absolute paths outside the root', async () => {
			await refused(sandbox.resolveRead('/etc/passwd'), 'absolute', '/etc/passwd');
			await refused(sandbox.resolveWrite(join(outside, 'x')), 'absolute', outside);
			await refused(sandbox.resolveRead(`${root}-sibling/x`), 'absolute', `${root}-sibling`);
		});

		it('refuses a symlinked directory that leads outside', async () => {
			symlinkSync(outside, join(root, 'out'));
			await refused(sandbox.resolveRead('out/secret.txt'), 'symlink', 'out');
			await refused(sandbox.resolveWrite('out/new.txt'), 'symlink', 'out');
		});

		it('refuses a final-component symlink to a file outside', async () => {
			symlinkSync(join(outside, 'secret.txt'), join(root, 'src', 'secret-link'));
			await refused(sandbox.resolveRead('src/secret-link'), 'symlink', 'src/secret-link');
			await refused(sandbox.resolveWrite('src/secret-link'), 'symlink', 'src/secret-link');
		});

		it('refuses a dangling symlink whose target would be outside', async () => {
			symlinkSync(join(outside, 'not-yet'), join(root, 'dangling'));
			await refused(sandbox.resolveWrite('dangling'), 'symlink', 'dangling');
			await refused(sandbox.resolveWrite('dangling/deeper.txt'), 'symlink', 'dangling');
		});

		it('refuses a relative symlink that climbs out with `..`', async () => {
			symlinkSync('../../', join(root, 'src', 'up'));
			await refused(sandbox.resolveRead('src/up/etc'), 'symlink', 'src/up');
		});

		it('refuses a chain of symlinks whose last hop leads outside', async () => {
			symlinkSync(outside, join(root, 'hop2'));
			symlinkSync('hop2', join(root, 'hop1'));
			await refused(sandbox.resolveRead('hop1/secret.txt'), 'symlink', 'hop');
		});

		it('refuses a symlink under a symlinked directory (`link/../x` follows the real parent)', async () => {
			mkdirSync(join(outside, 'inner'));
			symlinkSync(join(outside, 'inner'), join(root, 'in'));
			// `in/..` is `outside`, not the root: the sandbox must not normalize it away lexically after the link.
			symlinkSync('in/../secret.txt', join(root, 'sneaky'));
			await refused(sandbox.resolveRead('sneaky'), 'symlink', 'sneaky');
		});

		it('refuses symlink loops with a clear error', async () => {
			symlinkSync('loop-b', join(root, 'loop-a'));
			symlinkSync('loop-a', join(root, 'loop-b'));
			await refused(sandbox.resolveRead('loop-a'), 'symlink', 'too many levels');
		});

		it('refuses paths holding a NUL byte', async () => {
			await refused(sandbox.resolveRead('a\0b'), 'outside', 'NUL');
		});

		it('refuses a symlink target that climbs out of a missing folder (`missing/..`) into a link leading outside', async () => {
			symlinkSync(outside, join(root, 'x'));
			// The kernel would fail on `missing/..`; the walk must not take what follows on trust (`x` leads outside).
			symlinkSync('missing/../x', join(root, 'l'));
			await refused(sandbox.resolveWrite('l/new.txt'), 'symlink', 'x');
			await refused(sandbox.resolveRead('l/secret.txt'), 'symlink', 'x');
		});
	});

	describe('checks are never cached: a path changed between two checks is judged as it is now', () => {
		it('a folder replaced by a symlink to outside is refused', async () => {
			mkdirSync(join(root, 'src', 'deep'));
			assert.equal(await sandbox.resolveWrite('src/b.txt'), join(root, 'src', 'b.txt'));
			assert.equal(await sandbox.resolveWrite('src/deep/c.txt'), join(root, 'src', 'deep', 'c.txt'));
			renameSync(join(root, 'src'), join(root, 'src-old'));
			symlinkSync(outside, join(root, 'src'));
			await refused(sandbox.resolveWrite('src/b.txt'), 'symlink', 'src');
			await refused(sandbox.resolveWrite('src/deep/c.txt'), 'symlink', 'src');
			assert.throws(() => sandbox.resolveWriteTarget('src/b.txt'), (err: unknown) => SandboxError.is(err, 'symlink'));
		});

		it('a folder moved outside and linked back in (same directory, same inode) is refused', async () => {
			mkdirSync(join(root, 'src', 'deep'));
			assert.equal(await sandbox.resolveWrite('src/deep/c.txt'), join(root, 'src', 'deep', 'c.txt'));
			renameSync(join(root, 'src'), join(outside, 'src'));
			symlinkSync(join(outside, 'src'), join(root, 'src'));
			await refused(sandbox.resolveWrite('src/deep/c.txt'), 'symlink', 'src');
			await refused(sandbox.resolveWrite('src/a.txt'), 'symlink', 'src');
		});

		it('a file replaced by a symlink to outside, or by a hard link, is refused', async () => {
			assert.equal(await sandbox.resolveWrite('src/a.txt'), join(root, 'src', 'a.txt'));
			rmSync(join(root, 'src', 'a.txt'));
			symlinkSync(join(outside, 'secret.txt'), join(root, 'src', 'a.txt'));
			await refused(sandbox.resolveWrite('src/a.txt'), 'symlink', 'src/a.txt');
			rmSync(join(root, 'src', 'a.txt'));
			linkSync(join(outside, 'secret.txt'), join(root, 'src', 'a.txt'));
			await refused(sandbox.resolveWrite('src/a.txt'), 'hardlink', 'src/a.txt');
		});

		it('a folder the check saw missing and someone else then made a symlink is refused', async () => {
			assert.deepEqual(sandbox.resolveWriteTarget('gen/sub/x.txt').missingParents, [join(root, 'gen'), join(root, 'gen', 'sub')]);
			symlinkSync(outside, join(root, 'gen'));
			await refused(sandbox.resolveWrite('gen/sub/x.txt'), 'symlink', 'gen');
		});
	});

	describe('write targets', () => {
		it('count every missing folder, also behind a symlink whose target climbs within missing ones', () => {
			symlinkSync('a/b/../c', join(root, 'l'));
			assert.deepEqual(sandbox.resolveWriteTarget('l/x.txt').missingParents, [join(root, 'a'), join(root, 'a', 'c')]);
		});

		it('report what the check saw: the real path, its lstat and the folders a write must create', () => {
			symlinkSync('src', join(root, 'link-dir'));
			const existing = sandbox.resolveWriteTarget('link-dir/a.txt');
			assert.equal(existing.abs, join(root, 'src', 'a.txt'));
			assert.ok(existing.st?.isFile() && existing.st.size === 1);
			assert.deepEqual(existing.missingParents, []);
			const fresh = sandbox.resolveWriteTarget('link-dir/new/deeper/b.txt');
			assert.equal(fresh.abs, join(root, 'src', 'new', 'deeper', 'b.txt'));
			assert.equal(fresh.st, undefined);
			assert.deepEqual(fresh.missingParents, [join(root, 'src', 'new'), join(root, 'src', 'new', 'deeper')]);
			assert.ok(sandbox.resolveWriteTarget('src').st?.isDirectory());
		});
	});

	describe('writes', () => {
		it('refuses protected paths: .git itself and everything under it', async () => {
			mkdirSync(join(root, '.git', 'hooks'), { recursive: true });
			await refused(sandbox.resolveWrite('.git'), 'protected', '.git');
			await refused(sandbox.resolveWrite('.git/config'), 'protected', '.git/config');
			await refused(sandbox.resolveWrite('.git/hooks/pre-commit'), 'protected', '.git/hooks/pre-commit');
			await refused(sandbox.resolveWrite('vendor/lib/.git/config'), 'protected', 'vendor/lib/.git/config');
			await refused(sandbox.resolveWrite('./src/../.git/HEAD'), 'protected', '.git/HEAD');
			await refused(sandbox.resolveWrite(join(root, '.git', 'HEAD')), 'protected', '.git/HEAD');
		});

		it('refuses protected paths case-insensitively', async () => {
			await refused(sandbox.resolveWrite('.GIT/config'), 'protected', '.GIT/config');
			await refused(sandbox.resolveWrite('.Quantum/runs/x'), 'protected', '.Quantum');
		});

		it('refuses .quantum state but allows reading protected paths', async () => {
			mkdirSync(join(root, '.quantum'));
			writeFileSync(join(root, '.quantum', 'state.json'), '{}');
			await refused(sandbox.resolveWrite('.quantum'), 'protected', '.quantum');
			await refused(sandbox.resolveWrite('.quantum/state.json'), 'protected', '.quantum/state.json');
			assert.equal(await sandbox.resolveRead('.quantum/state.json'), join(root, '.quantum', 'state.json'));
			// Names that merely start alike are ordinary files.
			assert.equal(await sandbox.resolveWrite('.gitignore'), join(root, '.gitignore'));
			assert.equal(await sandbox.resolveWrite('.quantumx'), join(root, '.quantumx'));
		});

		it('refuses a symlink inside the workspace that points into .git', async () => {
			mkdirSync(join(root, '.git'));
			symlinkSync('.git', join(root, 'innocent'));
			await refused(sandbox.resolveWrite('innocent/config'), 'protected', '.git/config');
		});

		it('refuses a symlink that would launder a write past approval', async () => {
			mkdirSync(join(root, '.vscode'));
			symlinkSync('.vscode', join(root, 'editor'));
			await refused(sandbox.resolveWrite('editor/tasks.json'), 'symlink', '.vscode/tasks.json');
		});

		it('refuses to write the workspace root itself', async () => {
			await refused(sandbox.resolveWrite(''), 'protected', 'root');
			await refused(sandbox.resolveWrite('src/..'), 'protected', 'root');
		});

		it('refuses files with several hard links, naming the count', async () => {
			linkSync(join(root, 'src', 'a.txt'), join(root, 'src', 'a-twin.txt'));
			await refused(sandbox.resolveWrite('src/a.txt'), 'hardlink', '2 hard links');
			await refused(sandbox.resolveWrite('src/a-twin.txt'), 'hardlink', 'src/a-twin.txt');
			// Reading is harmless.
			assert.equal(await sandbox.resolveRead('src/a.txt'), join(root, 'src', 'a.txt'));
		});

		it('refuses a hard link to a file outside the workspace', async () => {
			linkSync(join(outside, 'secret.txt'), join(root, 'linked-secret'));
			await refused(sandbox.resolveWrite('linked-secret'), 'hardlink', 'linked-secret');
		});

		it('applies extra protected globs from the policy on top of the built-in ones', async () => {
			const strict = await createSandbox(root, { protectedGlobs: ['secrets/**'] });
			await refused(strict.resolveWrite('secrets/x'), 'protected', 'secrets/x');
			await refused(strict.resolveWrite('.git/x'), 'protected', '.git/x');
		});
	});

	describe('cwd', () => {
		it('defaults to the root and accepts directories inside', async () => {
			assert.equal(await sandbox.resolveCwd(), root);
			assert.equal(await sandbox.resolveCwd('src'), join(root, 'src'));
		});

		it('refuses files, missing directories and escapes', async () => {
			await refused(sandbox.resolveCwd('src/a.txt'), 'cwd', 'src/a.txt');
			await refused(sandbox.resolveCwd('missing'), 'cwd', 'missing');
			await refused(sandbox.resolveCwd('..'), 'outside', '..');
			await refused(sandbox.resolveCwd('/tmp'), 'absolute', '/tmp');
		});
	});

	describe('approval', () => {
		it('asks for writes that tools execute or trust, with a one-line reason', () => {
			for (const p of [
				'.vscode/settings.json',
				'.vscode/tasks.json',
				'packages/app/.vscode/launch.json',
				'team.code-workspace',
				'.github/workflows/ci.yml',
				'.git/hooks/pre-commit',
				'.env',
				'.env.local',
				'api/.env.production',
				'.npmrc',
				'.quantum-policy.json',
				'.husky/pre-commit',
			]) {
				const reason = sandbox.approvalReason(p);
				assert.ok(reason, `${p} should need approval`);
				assert.ok(!reason.includes('\n'), 'reason is one line');
				assert.ok(reason.includes(p), `reason names ${p}: ${reason}`);
			}
		});

		it('does not ask for ordinary files', () => {
			for (const p of ['src/a.txt', 'README.md', 'environment.ts', '.github/CODEOWNERS', 'vscode/x', 'docs/.vscodeignore']) {
				assert.equal(sandbox.approvalReason(p), undefined, p);
			}
		});

		it('normalizes before matching (./, inner `..`, absolute inside, case)', () => {
			assert.ok(sandbox.approvalReason('./src/../.vscode/settings.json'));
			assert.ok(sandbox.approvalReason(join(root, '.npmrc')));
			assert.ok(sandbox.approvalReason('.VSCode/settings.json'));
			assert.equal(sandbox.approvalReason('../outside/.env'), undefined);
		});

		it('adds configured approval globs with a reason naming the glob', async () => {
			const custom = await createSandbox(root, { approvalGlobs: ['deploy/**'] });
			assert.match(custom.approvalReason('deploy/prod.sh') ?? '', /deploy\/\*\*/);
			assert.ok(custom.approvalReason('.vscode/settings.json'));
		});

		it('exposes the default policy', () => {
			assert.ok(DEFAULT_SANDBOX_POLICY.protectedGlobs.includes('.quantum/**'));
			assert.ok(DEFAULT_SANDBOX_POLICY.approvalGlobs.includes('.github/workflows/**'));
		});
	});
});
