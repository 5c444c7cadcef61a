import assert from 'node:assert/strict';
import { access, chmod, cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SandboxError, StepError } from '../../../src/core/errors';
import type { StepErrorCode } from '../../../src/core/errors';
import { fileHandler } from '../../../src/core/handlers/file';
import type { WorkspaceFs } from '../../../src/core/handlers/types';
import { createSandbox } from '../../../src/core/sandbox/paths';
import type { Sandbox } from '../../../src/core/sandbox/types';
import { Journal } from '../../../src/core/state/journal';
import { createRunDir, stateDirFor } from '../../../src/core/state/runStore';
import { createTransaction, rollback } from '../../../src/core/state/transaction';
import { tempDir } from '../../helpers/tmp';
import { describeOp, makeContext, paramsError, runOp } from './stepContext';
import type { TestContext } from './stepContext';

/**
 * A journal-free WorkspaceFs that writes through the sandbox: the file handler's behaviour must not depend on the
 * journal, so the suite runs against this and against the real transaction.
 */
function plainFs(sandbox: Sandbox): WorkspaceFs {
	const exists = async (abs: string) =>
		access(abs).then(
			() => true,
			() => false,
		);
	const eexist = (rel: string) => Object.assign(new Error(`${rel} exists`), { code: 'EEXIST' });
	return {
		readFile: async (rel) => readFile(await sandbox.resolveRead(rel)),
		async writeFile(rel, data, opts) {
			const abs = await sandbox.resolveWrite(rel);
			if (opts?.mustExist && !(await exists(abs))) throw Object.assign(new Error(`${rel} does not exist`), { code: 'ENOENT' });
			await mkdir(dirname(abs), { recursive: true });
			await writeFile(abs, data, { flag: opts?.exclusive ? 'wx' : 'w', mode: opts?.mode });
			if (opts?.mode !== undefined) await chmod(abs, opts.mode);
		},
		remove: async (rel) => rm(await sandbox.resolveWrite(rel), { recursive: true }),
		mkdir: async (rel) => {
			await mkdir(await sandbox.resolveWrite(rel), { recursive: true });
		},
		async copy(from, to, opts) {
			const dst = await sandbox.resolveWrite(to);
			if (!opts?.overwrite && (await exists(dst))) throw eexist(to);
			await mkdir(dirname(dst), { recursive: true });
			await cp(await sandbox.resolveRead(from), dst, { recursive: true, force: true });
		},
		async move(from, to, opts) {
			const src = await sandbox.resolveWrite(from);
			const dst = await sandbox.resolveWrite(to);
			if (!opts?.overwrite && (await exists(dst))) throw eexist(to);
			await mkdir(dirname(dst), { recursive: true });
			await rename(src, dst);
		},
		exists: async (rel) => exists(await sandbox.resolveRead(rel)),
	};
}

interface Setup {
	ctx: TestContext;
	/** Ends the run: nothing for the plain fs; for the transaction, closes the journal. */
	done(): Promise<void>;
}

async function plainSetup(ws: string): Promise<Setup> {
	const sandbox = await createSandbox(ws);
	return { ctx: await makeContext(ws, { fs: plainFs(sandbox) }), done: async () => {} };
}

let runCounter = 0;
async function transactionSetup(ws: string): Promise<Setup & { rollback(): Promise<{ conflicts: unknown[] }> }> {
	const sandbox = await createSandbox(ws);
	const runId = `test-${++runCounter}`;
	const paths = await createRunDir(stateDirFor(ws), runId);
	const journal = await Journal.open(paths.journal);
	const tx = createTransaction({ runId, workspace: ws, sandbox, journal });
	return {
		ctx: await makeContext(ws, { fs: tx.fsFor('s1') }),
		rollback: () => rollback({ runId, workspace: ws, sandbox, journal }),
		async done() {
			tx.dispose();
			await journal.close();
		},
	};
}

async function failsWith(promise: Promise<unknown>, code: StepErrorCode, ...mentions: string[]): Promise<void> {
	await assert.rejects(promise, (err: unknown) => {
		assert.ok(StepError.is(err, code), `expected StepError ${code}, got ${String(err)}`);
		for (const m of mentions) assert.ok(err.message.includes(m), `"${err.message}" should mention "${m}"`);
		return true;
	});
}

function fileSuite(name: string, setup: (ws: string) => Promise<Setup>): void {
	describe(`file handler (${name})`, () => {
		let ws: string;
		let s: Setup;
		const file = (op: string, raw: Record<string, unknown>) => runOp(fileHandler, op, raw, s.ctx);
		const text = (rel: string) => readFileSync(join(ws, rel), 'utf8');

		beforeEach(async () => {
			ws = tempDir('qo-file-');
			writeFileSync(join(ws, 'notes.txt'), 'alpha beta alpha\n');
			mkdirSync(join(ws, 'dir', 'sub'), { recursive: true });
			writeFileSync(join(ws, 'dir', 'a.txt'), 'a');
			writeFileSync(join(ws, 'dir', 'sub', 'b.txt'), 'b');
			s = await setup(ws);
		});

		afterEach(async () => s.done());

		describe('create', () => {
			it('writes the content, creating parent directories, and outputs path and bytes', async () => {
				assert.deepEqual(await file('create', { path: 'new/deep/x.txt', content: 'héllo' }), { path: 'new/deep/x.txt', bytes: 6 });
				assert.equal(text('new/deep/x.txt'), 'héllo');
			});

			it('creates an empty file when no content is given', async () => {
				await file('create', { path: 'empty' });
				assert.equal(text('empty'), '');
			});

			it('refuses to replace an existing file unless overwrite is set', async () => {
				await failsWith(file('create', { path: 'notes.txt', content: 'x' }), 'exists', 'notes.txt');
				assert.equal(text('notes.txt'), 'alpha beta alpha\n');
				await file('create', { path: 'notes.txt', content: 'x', overwrite: true });
				assert.equal(text('notes.txt'), 'x');
			});

			it('sets the mode from an octal string or a number', async () => {
				await file('create', { path: 'run.sh', content: '#!/bin/sh\n', mode: '0755' });
				await file('create', { path: 'ro.txt', content: 'r', mode: 0o444 });
				assert.equal(statSync(join(ws, 'run.sh')).mode & 0o777, 0o755);
				assert.equal(statSync(join(ws, 'ro.txt')).mode & 0o777, 0o444);
				assert.ok(paramsError(fileHandler, 'create', { path: 'x', mode: '999' }));
			});

			it('writes binary content given in base64 byte for byte', async () => {
				const bytes = Buffer.from([0, 255, 128, 10, 13, 0xe2, 0x82]);
				await file('create', { path: 'bin.dat', content: bytes.toString('base64'), encoding: 'base64' });
				assert.deepEqual(readFileSync(join(ws, 'bin.dat')), bytes);
				await failsWith(file('create', { path: 'bad.dat', content: 'not base64!', encoding: 'base64' }), 'parameters', 'base64');
				assert.equal(existsSync(join(ws, 'bad.dat')), false);
			});
		});

		describe('modify', () => {
			it('replaces the whole content', async () => {
				assert.deepEqual(await file('modify', { path: 'notes.txt', content: 'new' }), { path: 'notes.txt', bytes: 3 });
				assert.equal(text('notes.txt'), 'new');
			});

			it('replaces every occurrence of find by default, literally', async () => {
				const out = await file('modify', { path: 'notes.txt', find: 'alpha', replace: '$& $1' });
				assert.deepEqual(out, { path: 'notes.txt', bytes: 17, replacements: 2 });
				assert.equal(text('notes.txt'), '$& $1 beta $& $1\n');
			});

			it('replaces only the first occurrence with all: false', async () => {
				await file('modify', { path: 'notes.txt', find: 'alpha', replace: 'omega', all: false });
				assert.equal(text('notes.txt'), 'omega beta alpha\n');
			});

			it('replaces regular expression matches with group references', async () => {
				const out = await file('modify', { path: 'notes.txt', find: '(al)(pha)', replace: '$2$1', regex: true });
				assert.equal((out as { replacements: number }).replacements, 2);
				assert.equal(text('notes.txt'), 'phaal beta phaal\n');
			});

			it('fails when find matches nothing, naming the file and the text, and leaves the file alone', async () => {
				await failsWith(file('modify', { path: 'notes.txt', find: 'gamma', replace: 'x' }), 'not-found', 'notes.txt', '"gamma"');
				assert.equal(text('notes.txt'), 'alpha beta alpha\n');
			});

			it('refuses an invalid regular expression as a parameter error', async () => {
				await failsWith(file('modify', { path: 'notes.txt', find: '(', regex: true }), 'parameters', 'regular expression');
			});

			it('appends text at the end', async () => {
				await file('modify', { path: 'notes.txt', append: 'gamma\n' });
				assert.equal(text('notes.txt'), 'alpha beta alpha\ngamma\n');
			});

			it('fails on a missing file in every mode', async () => {
				await failsWith(file('modify', { path: 'missing.txt', content: 'x' }), 'not-found', 'missing.txt');
				await failsWith(file('modify', { path: 'missing.txt', append: 'x' }), 'not-found', 'missing.txt');
				await failsWith(file('modify', { path: 'missing.txt', find: 'a', replace: 'b' }), 'not-found', 'missing.txt');
				assert.equal(existsSync(join(ws, 'missing.txt')), false);
			});

			it('takes exactly one of content, find/replace and append', () => {
				assert.match(paramsError(fileHandler, 'modify', { path: 'x' }) ?? '', /exactly one/);
				assert.match(paramsError(fileHandler, 'modify', { path: 'x', content: 'a', append: 'b' }) ?? '', /exactly one/);
				assert.match(paramsError(fileHandler, 'modify', { path: 'x', content: 'a', replace: 'b' }) ?? '', /go with `find`/);
				assert.equal(paramsError(fileHandler, 'modify', { path: 'x', find: 'a', replace: 'b' }), undefined);
			});
		});

		describe('delete', () => {
			it('deletes a file', async () => {
				assert.deepEqual(await file('delete', { path: 'notes.txt' }), { path: 'notes.txt', deleted: true });
				assert.equal(existsSync(join(ws, 'notes.txt')), false);
			});

			it('deletes a directory only with recursive', async () => {
				await failsWith(file('delete', { path: 'dir' }), 'failed', 'dir', 'recursive');
				assert.ok(existsSync(join(ws, 'dir', 'sub', 'b.txt')));
				await file('delete', { path: 'dir', recursive: true });
				assert.equal(existsSync(join(ws, 'dir')), false);
			});

			it('fails on a missing path unless missing_ok', async () => {
				await failsWith(file('delete', { path: 'nope' }), 'not-found', 'nope');
				assert.deepEqual(await file('delete', { path: 'nope', missing_ok: true }), { path: 'nope', deleted: false });
			});
		});

		describe('read', () => {
			it('outputs the content as text, or base64', async () => {
				assert.equal(await file('read', { path: 'notes.txt' }), 'alpha beta alpha\n');
				writeFileSync(join(ws, 'bin'), Buffer.from([0, 1, 255]));
				assert.equal(await file('read', { path: 'bin', encoding: 'base64' }), Buffer.from([0, 1, 255]).toString('base64'));
			});

			it('fails on a missing file, naming it', async () => {
				await failsWith(file('read', { path: 'missing.txt' }), 'not-found', 'missing.txt');
			});
		});

		describe('copy and move', () => {
			it('copies a file, keeping the source', async () => {
				assert.deepEqual(await file('copy', { path: 'notes.txt', to: 'copies/notes.txt' }), { path: 'notes.txt', to: 'copies/notes.txt' });
				assert.equal(text('copies/notes.txt'), 'alpha beta alpha\n');
				assert.ok(existsSync(join(ws, 'notes.txt')));
			});

			it('copies a directory with its contents', async () => {
				await file('copy', { path: 'dir', to: 'dir2' });
				assert.equal(text('dir2/sub/b.txt'), 'b');
				assert.equal(text('dir2/a.txt'), 'a');
			});

			it('moves a file', async () => {
				await file('move', { path: 'notes.txt', to: 'moved.txt' });
				assert.equal(text('moved.txt'), 'alpha beta alpha\n');
				assert.equal(existsSync(join(ws, 'notes.txt')), false);
			});

			it('refuses to replace an existing destination unless overwrite is set', async () => {
				for (const op of ['copy', 'move']) {
					await failsWith(file(op, { path: 'notes.txt', to: 'dir/a.txt' }), 'exists', 'dir/a.txt');
					assert.equal(text('dir/a.txt'), 'a');
				}
				await file('copy', { path: 'notes.txt', to: 'dir/a.txt', overwrite: true });
				assert.equal(text('dir/a.txt'), 'alpha beta alpha\n');
				writeFileSync(join(ws, 'other.txt'), 'other');
				await file('move', { path: 'other.txt', to: 'dir/a.txt', overwrite: true });
				assert.equal(text('dir/a.txt'), 'other');
			});

			it('fails when the source is missing', async () => {
				await failsWith(file('copy', { path: 'ghost', to: 'x' }), 'not-found', 'ghost');
				await failsWith(file('move', { path: 'ghost', to: 'x' }), 'not-found', 'ghost');
			});
		});

		describe('mkdir', () => {
			it('creates nested directories and accepts an existing one', async () => {
				await file('mkdir', { path: 'a/b/c' });
				assert.ok(statSync(join(ws, 'a', 'b', 'c')).isDirectory());
				await file('mkdir', { path: 'a/b/c' });
			});
		});

		describe('sandbox', () => {
			it('refuses writes outside the workspace and writes nothing there', async () => {
				const outside = tempDir('qo-file-outside-');
				await assert.rejects(file('create', { path: '../escape.txt', content: 'x' }), (e: unknown) => SandboxError.is(e, 'outside'));
				await assert.rejects(file('create', { path: join(outside, 'x'), content: 'x' }), (e: unknown) => SandboxError.is(e, 'absolute'));
				symlinkSync(outside, join(ws, 'link-out'));
				await assert.rejects(file('create', { path: 'link-out/x.txt', content: 'x' }), (e: unknown) => SandboxError.is(e, 'symlink'));
				await assert.rejects(file('copy', { path: 'notes.txt', to: 'link-out/n.txt' }), (e: unknown) => SandboxError.is(e, 'symlink'));
				await assert.rejects(file('read', { path: 'link-out/anything' }), (e: unknown) => SandboxError.is(e, 'symlink'));
				assert.deepEqual(readdirSync(outside), []);
			});

			it('refuses to write .git and .quantum', async () => {
				mkdirSync(join(ws, '.git'));
				await assert.rejects(file('create', { path: '.git/config', content: 'x' }), (e: unknown) => SandboxError.is(e, 'protected'));
				await assert.rejects(file('delete', { path: '.git', recursive: true }), (e: unknown) => SandboxError.is(e, 'protected'));
				await assert.rejects(file('mkdir', { path: '.quantum/x' }), (e: unknown) => SandboxError.is(e, 'protected'));
				assert.ok(existsSync(join(ws, '.git')));
			});

			it('refuses to write through a hard link', async () => {
				linkSync(join(ws, 'notes.txt'), join(ws, 'twin.txt'));
				await assert.rejects(file('modify', { path: 'twin.txt', append: 'x' }), (e: unknown) => SandboxError.is(e, 'hardlink'));
				assert.equal(text('notes.txt'), 'alpha beta alpha\n');
			});
		});
	});
}

fileSuite('journal-free WorkspaceFs', plainSetup);
fileSuite('journaled transaction', transactionSetup);

describe('file handler through the transaction', () => {
	function snapshot(ws: string): Record<string, string> {
		const out: Record<string, string> = {};
		const walk = (rel: string) => {
			for (const name of readdirSync(join(ws, rel)).sort()) {
				const r = rel ? `${rel}/${name}` : name;
				if (r === '.quantum') continue;
				const st = lstatSync(join(ws, r));
				if (st.isDirectory()) {
					out[`${r}/`] = `dir ${(st.mode & 0o777).toString(8)}`;
					walk(r);
				} else out[r] = `${(st.mode & 0o777).toString(8)} ${readFileSync(join(ws, r)).toString('base64')}`;
			}
		};
		walk('');
		return out;
	}

	it('every operation is rolled back to the exact prior bytes and modes', async () => {
		const ws = tempDir('qo-file-rb-');
		writeFileSync(join(ws, 'notes.txt'), 'alpha beta alpha\n');
		writeFileSync(join(ws, 'bin.dat'), Buffer.from([0, 1, 2, 255]), { mode: 0o600 });
		mkdirSync(join(ws, 'dir', 'sub'), { recursive: true });
		writeFileSync(join(ws, 'dir', 'sub', 'b.txt'), 'b');
		writeFileSync(join(ws, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
		const before = snapshot(ws);
		const s = await transactionSetup(ws);
		const file = (op: string, raw: Record<string, unknown>) => runOp(fileHandler, op, raw, s.ctx);
		try {
			await file('create', { path: 'new/x.txt', content: 'x', mode: '0700' });
			await file('modify', { path: 'notes.txt', find: 'alpha', replace: 'omega' });
			await file('modify', { path: 'notes.txt', append: 'more' });
			await file('create', { path: 'bin.dat', content: Buffer.from([9, 9]).toString('base64'), encoding: 'base64', overwrite: true });
			await file('copy', { path: 'dir', to: 'dir-copy' });
			await file('move', { path: 'run.sh', to: 'bin/run.sh' });
			await file('delete', { path: 'dir', recursive: true });
			await file('mkdir', { path: 'empty/deeper' });
			assert.notDeepEqual(snapshot(ws), before);
			const result = await s.rollback();
			assert.deepEqual(result.conflicts, []);
			assert.deepEqual(snapshot(ws), before);
		} finally {
			await s.done();
		}
	});
});

describe('file handler plans', () => {
	const ws = tempDir('qo-file-plan-');

	it('declares reads and writes for each operation', async () => {
		const t = async (op: string, raw: Record<string, unknown>) => (await describeOp(fileHandler, op, raw, ws)).touches;
		assert.deepEqual(await t('create', { path: 'a' }), { reads: [], writes: ['a'] });
		assert.deepEqual(await t('modify', { path: 'a', append: 'x' }), { reads: ['a'], writes: ['a'] });
		assert.deepEqual(await t('delete', { path: 'a' }), { reads: [], writes: ['a'] });
		assert.deepEqual(await t('read', { path: 'a' }), { reads: ['a'], writes: [] });
		assert.deepEqual(await t('copy', { path: 'a', to: 'b' }), { reads: ['a'], writes: ['b'] });
		assert.deepEqual(await t('move', { path: 'a', to: 'b' }), { reads: ['a'], writes: ['a', 'b'] });
		assert.deepEqual(await t('mkdir', { path: 'd' }), { reads: [], writes: ['d'] });
	});

	it('asks for approval when a write reaches files tools execute or trust', async () => {
		const a = async (op: string, raw: Record<string, unknown>) => (await describeOp(fileHandler, op, raw, ws)).approval;
		assert.match((await a('create', { path: '.vscode/tasks.json' })) ?? '', /\.vscode\/tasks\.json/);
		assert.ok(await a('modify', { path: '.env', append: 'X=1' }));
		assert.ok(await a('copy', { path: 'ci.yml', to: '.github/workflows/ci.yml' }));
		assert.ok(await a('move', { path: '.npmrc', to: 'old.npmrc' }));
		assert.ok(await a('delete', { path: 'team.code-workspace' }));
		assert.equal(await a('create', { path: 'src/index.ts' }), undefined);
		assert.equal(await a('copy', { path: '.env', to: 'env.backup' }), undefined);
		assert.equal((await describeOp(fileHandler, 'read', { path: '.env' }, ws)).approval, undefined);
	});

	it('summarizes each operation in one line', async () => {
		const sum = async (op: string, raw: Record<string, unknown>) => (await describeOp(fileHandler, op, raw, ws)).summary;
		assert.equal(await sum('create', { path: 'a.txt' }), 'create a.txt');
		assert.equal(await sum('modify', { path: 'a.txt', find: 'x', replace: 'y' }), 'replace every "x" in a.txt');
		assert.equal(await sum('delete', { path: 'd', recursive: true }), 'delete d (recursively)');
		assert.equal(await sum('move', { path: 'a', to: 'b' }), 'move a to b');
	});

	it('marks reads (read, list, search) as pure and every other operation as a workspace effect', () => {
		const reads = new Set(['read', 'list', 'search']);
		for (const [name, op] of Object.entries(fileHandler.operations)) assert.equal(op.effect, reads.has(name) ? 'none' : 'workspace', name);
	});
});
