// The watched inbox (`.quantum/inbox/` by default): a workflow file dropped there is validated and submitted once,
// then moved to done/ or failed/ with `<name>.result.json` next to it, updated when its run ends. A file is read only
// once chokidar saw it stop changing, and JSON that does not parse yet waits until the file has been unchanged for a
// grace period: a writer that pauses is never mistaken for a broken file.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { FSWatcher } from 'chokidar';
import type { Engine } from '../../engine';
import { describeError, StateError, WorkflowError } from '../../errors';
import { nullLogger, type Logger } from '../../ports';
import { writeJsonAtomic } from '../../state/atomicFs';
import { isMissing } from '../../state/io';
import { acquireRunLock, runLockHolder, type ReleaseLock } from '../../state/runLock';
import { readRunSummary } from '../../state/runStore';
import type { Workflow } from '../../workflow/schema';
import type { ConcurrencyPolicy, DispatchedRun, Dispatcher, SubmissionResult } from '../triggers/dispatcher';
import { WorkflowReloader, type ReloadEvent } from './hotReload';
import { DONE_FOLDER, FAILED_FOLDER, isInboxFileName, moveInto, resultNameFor } from './inboxFiles';
import { isAccepted, iso, problemsOf, type InboxResult } from './inboxResult';

export const DEFAULT_INBOX_FOLDER = 'inbox';

export interface InboxOptions {
	engine: Engine;
	dispatcher: Dispatcher;
	/** The folder to watch (relative: to the workspace); default `<state folder>/inbox`. */
	folder?: string;
	/** When a run from the inbox (of the same group) is still going; default 'queue'. */
	policy?: ConcurrencyPolicy;
	/** Let steps that need approval wait for an answer (through the API or the extension) instead of refusing the file. */
	waitForDecisions?: boolean;
	/** The dispatcher's group for inbox runs; default one per workflow name (`inbox:<name>`), null: no grouping. */
	group?: string | null;
	/** A file must be unchanged this long before it is read (chokidar's awaitWriteFinish); default 500 ms. */
	stabilityMs?: number;
	/** How often a file's size is polled while waiting for it to settle; default 100 ms. */
	pollMs?: number;
	/** A file whose JSON does not parse is failed only after it has been unchanged this long; default 10 s. */
	incompleteGraceMs?: number;
	/** Workflow files elsewhere (relative: to the workspace) run again when their content changes (hot reload). */
	watch?: string[];
	/** Hot reload: quiet time after the last change before running (default 300 ms) and the policy (default cancel-running). */
	reload?: { debounceMs?: number; policy?: ConcurrencyPolicy };
	logger?: Logger;
	now?: () => number;
}

export type InboxEvent =
	| { type: 'picked-up'; file: string; alreadyThere: boolean }
	/** The file is not complete JSON yet: waiting for the writer (said once per file). */
	| { type: 'waiting'; file: string; reason: string }
	/** Submitted (or not), moved, result written. */
	| { type: 'decided'; file: string; result: InboxResult }
	/** The run of a decided file ended; its result file says so now. */
	| { type: 'run-ended'; file: string; result: InboxResult }
	| ReloadEvent
	| { type: 'error'; file?: string; message: string };

interface FileState {
	chain: Promise<void>;
	announced: boolean;
	waitingSaid: boolean;
	alreadyThere: boolean;
	pickedUpAt: number;
	incomplete?: { hash: string; since: number };
	timer?: NodeJS.Timeout;
}

type Outcome = { kind: 'gone' } | { kind: 'done'; result: InboxResult } | { kind: 'waiting'; ms: number };

/** A decided file whose run has not ended yet: the result to update, once its first version is on disk. */
type Pending = Promise<{ file: string; resultFile: string; result: InboxResult } | undefined>;

export class Inbox {
	readonly folder: string;
	private readonly engine: Engine;
	private readonly dispatcher: Dispatcher;
	private readonly logger: Logger;
	private readonly now: () => number;
	private readonly stabilityMs: number;
	private readonly pollMs: number;
	private readonly graceMs: number;
	private readonly files = new Map<string, FileState>();
	private readonly tracked = new Map<string, Pending[]>();
	private readonly busy = new Set<Promise<unknown>>();
	private readonly listeners = new Set<(e: InboxEvent) => void>();
	private readonly ended = new Set<() => void>();
	private watcher: FSWatcher | undefined;
	private reloader: WorkflowReloader | undefined;
	private subscription: { dispose(): void } | undefined;
	private release: ReleaseLock | undefined;
	private closed = false;

	constructor(private readonly opts: InboxOptions) {
		this.engine = opts.engine;
		this.dispatcher = opts.dispatcher;
		this.folder = path.resolve(opts.engine.workspace, opts.folder ?? path.join(opts.engine.stateDir, DEFAULT_INBOX_FOLDER));
		this.logger = opts.logger ?? nullLogger;
		this.now = opts.now ?? Date.now;
		this.stabilityMs = opts.stabilityMs ?? 500;
		this.pollMs = opts.pollMs ?? 100;
		this.graceMs = opts.incompleteGraceMs ?? 10_000;
	}

	onEvent(listener: (e: InboxEvent) => void): { dispose(): void } {
		this.listeners.add(listener);
		return { dispose: () => this.listeners.delete(listener) };
	}

	/**
	 * Watches the folder until dispose(); files already there are processed too. Resolves once watching, with the
	 * names of the files that were already there. StateError 'locked' when another process watches this folder.
	 */
	async start(): Promise<string[]> {
		const existing = await this.prepare();
		const { watch } = await import('chokidar');
		const watcher = watch(this.folder, {
			depth: 0,
			ignoreInitial: false,
			awaitWriteFinish: { stabilityThreshold: this.stabilityMs, pollInterval: this.pollMs },
			ignored: (p, stats) => this.ignored(p, stats?.isDirectory()),
		});
		this.watcher = watcher;
		watcher.on('add', (p) => this.schedule(p));
		watcher.on('change', (p) => this.schedule(p));
		watcher.on('unlink', (p) => this.forget(path.resolve(p)));
		watcher.on('error', (err) => this.emit({ type: 'error', message: `watching ${this.folder}: ${describeError(err)}` }));
		await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
		if (this.opts.watch?.length) {
			this.reloader = new WorkflowReloader({
				engine: this.engine,
				dispatcher: this.dispatcher,
				paths: this.opts.watch.map((p) => path.resolve(this.engine.workspace, p)),
				debounceMs: this.opts.reload?.debounceMs ?? 300,
				stabilityMs: this.stabilityMs,
				pollMs: this.pollMs,
				policy: this.opts.reload?.policy ?? 'cancel-running',
				waitForDecisions: this.opts.waitForDecisions ?? false,
				now: this.now,
				emit: (e) => this.emit(e),
			});
			await this.reloader.start();
		}
		this.logger.log('info', 'inbox', `watching ${this.folder}${existing.length ? `; ${existing.length} file(s) already there` : ''}`);
		return existing;
	}

	/** Processes the files in the folder now (waiting for incomplete ones to settle) and for their runs to end. */
	async runOnce(): Promise<InboxResult[]> {
		const existing = await this.prepare();
		const results: InboxResult[] = [];
		const later: string[] = [];
		for (const name of existing) {
			const abs = path.join(this.folder, name);
			const outcome = await this.settleAndConsider(abs);
			if (outcome.kind === 'done') results.push(outcome.result);
			else if (outcome.kind === 'waiting') later.push(abs);
		}
		// Incomplete files wait side by side for their writers (or their grace period) rather than one after another.
		await Promise.all(
			later.map(async (abs) => {
				for (;;) {
					const outcome = await this.settleAndConsider(abs);
					if (outcome.kind === 'done') results.push(outcome.result);
					if (outcome.kind !== 'waiting') return;
					await sleep(outcome.ms);
				}
			}),
		);
		await this.settled();
		return results;
	}

	/** Resolves when no file is being processed and every run of a decided file has ended and been recorded. */
	async settled(): Promise<void> {
		for (;;) {
			if (this.busy.size) {
				await Promise.all([...this.busy]);
				continue;
			}
			if (this.tracked.size === 0) return;
			await new Promise<void>((resolve) => {
				const done = () => {
					this.ended.delete(done);
					resolve();
				};
				this.ended.add(done);
			});
		}
	}

	/** Stops picking up files (and hot reloading); waits for files being moved and results being written. */
	async close(): Promise<void> {
		this.closed = true;
		for (const s of this.files.values()) clearTimeout(s.timer);
		await this.watcher?.close();
		await this.reloader?.close();
		while (this.busy.size) await Promise.all([...this.busy]);
	}

	/** close(), then stops following runs and gives the folder's lock back. */
	async dispose(): Promise<void> {
		await this.close();
		this.subscription?.dispose();
		this.subscription = undefined;
		for (const done of [...this.ended]) done();
		await this.release?.();
		this.release = undefined;
	}

	// -------------------------------------------------------------------------------------------------------------

	/** Folders and lock; returns the workflow files already in the inbox, oldest first. */
	private async prepare(): Promise<string[]> {
		await mkdir(path.join(this.folder, DONE_FOLDER), { recursive: true });
		await mkdir(path.join(this.folder, FAILED_FOLDER), { recursive: true });
		try {
			this.release = await acquireRunLock(this.folder, 'the inbox folder');
		} catch (err) {
			const holder = StateError.is(err, 'locked') ? await runLockHolder(this.folder).catch(() => undefined) : undefined;
			if (!holder) throw err;
			const since = new Date(holder.at).toISOString();
			throw new StateError('locked', `${this.folder} is already watched by process ${holder.pid} (since ${since}); stop that one first, or watch another folder`);
		}
		this.subscription = this.dispatcher.onDidChange((run) => this.runChanged(run));
		const entries = await readdir(this.folder, { withFileTypes: true });
		const names = entries.filter((d) => d.isFile() && isInboxFileName(d.name)).map((d) => d.name);
		const times = new Map<string, number>();
		for (const n of names) times.set(n, await stat(path.join(this.folder, n)).then((s) => s.mtimeMs, () => 0));
		names.sort((a, b) => (times.get(a) ?? 0) - (times.get(b) ?? 0) || a.localeCompare(b));
		for (const n of names) this.stateOf(path.join(this.folder, n)).alreadyThere = true;
		return names;
	}

	private ignored(p: string, isDirectory: boolean | undefined): boolean {
		const abs = path.resolve(p);
		if (abs === this.folder) return false;
		return path.dirname(abs) !== this.folder || isDirectory === true || !isInboxFileName(path.basename(abs));
	}

	private stateOf(abs: string): FileState {
		let s = this.files.get(abs);
		if (!s) {
			s = { chain: Promise.resolve(), announced: false, waitingSaid: false, alreadyThere: false, pickedUpAt: 0 };
			this.files.set(abs, s);
		}
		return s;
	}

	private forget(abs: string): void {
		const s = this.files.get(abs);
		if (s) clearTimeout(s.timer);
		this.files.delete(abs);
	}

	/** Runs consider() for the file after whatever is already running for it (chokidar may report it again meanwhile). */
	private schedule(p: string): void {
		const abs = path.resolve(p);
		if (this.closed || this.ignored(abs, false)) return;
		const s = this.stateOf(abs);
		clearTimeout(s.timer);
		const next = s.chain.then(async () => {
			if (this.closed) return;
			const outcome = await this.consider(abs);
			if (outcome.kind === 'waiting' && !this.closed) {
				const state = this.files.get(abs);
				if (state) state.timer = setTimeout(() => this.schedule(abs), outcome.ms);
			}
		});
		s.chain = next.catch((err: unknown) => this.emit({ type: 'error', file: path.basename(abs), message: describeError(err) }));
		this.hold(s.chain);
	}

	private hold(p: Promise<unknown>): void {
		this.busy.add(p);
		void p.finally(() => this.busy.delete(p));
	}

	/** For runOnce: waits until the file stops changing (as awaitWriteFinish does for the watcher), then considers it. */
	private async settleAndConsider(abs: string): Promise<Outcome> {
		let last = '';
		let since = Date.now();
		for (;;) {
			const s = await stat(abs).catch((err: unknown) => {
				if (isMissing(err)) return undefined;
				throw err;
			});
			if (!s) return { kind: 'gone' };
			const sig = `${s.size}:${s.mtimeMs}`;
			if (sig !== last) {
				last = sig;
				since = Date.now();
			} else if (Date.now() - since >= this.stabilityMs) break;
			await sleep(this.pollMs);
		}
		const p = this.consider(abs);
		this.hold(p);
		return p;
	}

	private async consider(abs: string): Promise<Outcome> {
		const s = this.stateOf(abs);
		let bytes: Buffer;
		try {
			bytes = await readFile(abs);
		} catch (err) {
			if (isMissing(err)) {
				this.forget(abs);
				return { kind: 'gone' };
			}
			throw err;
		}
		const name = path.basename(abs);
		if (!s.announced) {
			s.announced = true;
			s.pickedUpAt = this.now();
			this.emit({ type: 'picked-up', file: name, alreadyThere: s.alreadyThere });
		}
		const hash = createHash('sha256').update(bytes).digest('hex');
		const shown = path.relative(this.engine.workspace, abs).split(path.sep).join('/') || name;
		let workflow: Workflow | undefined;
		let failure: unknown;
		try {
			const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
			workflow = this.engine.parse(text, shown);
		} catch (err) {
			failure = err instanceof TypeError ? new WorkflowError('json', 'the file is not valid UTF-8 text', { file: shown }) : err;
		}
		if (!workflow) {
			// JSON that does not parse may be a file still being written: it fails only once unchanged for the grace period.
			if (WorkflowError.is(failure, 'json')) {
				const now = Date.now();
				if (s.incomplete?.hash !== hash) s.incomplete = { hash, since: now };
				const left = s.incomplete.since + this.graceMs - now;
				if (left > 0) {
					if (!s.waitingSaid) {
						s.waitingSaid = true;
						this.emit({ type: 'waiting', file: name, reason: `not complete JSON yet (${failure.message}); waiting for the writer` });
					}
					return { kind: 'waiting', ms: Math.min(left, Math.max(this.pollMs, 250)) };
				}
			}
			return { kind: 'done', result: await this.decide(abs, s, hash, { status: 'invalid', error: describeError(failure) }, problemsOf(failure)) };
		}
		const submitted = await this.dispatcher.submit({
			workflow,
			source: 'inbox',
			idempotencyKey: inboxKey(hash),
			...(this.opts.group !== undefined ? { group: this.opts.group } : {}),
			policy: this.opts.policy ?? 'queue',
			unattended: true,
			waitForDecisions: this.opts.waitForDecisions ?? false,
			origin: name,
		});
		return { kind: 'done', result: await this.decide(abs, s, hash, submitted) };
	}

	/** Moves the file to done/ or failed/ and writes its result; follows its run (or the one it duplicates) to its end. */
	private async decide(abs: string, s: FileState, hash: string, r: SubmissionResult, problems?: InboxResult['problems']): Promise<InboxResult> {
		const name = path.basename(abs);
		const runId = r.status === 'started' || r.status === 'queued' || r.status === 'duplicate' ? r.runId : undefined;
		let settle!: (v: Awaited<Pending>) => void;
		const pending: Pending = new Promise((resolve) => (settle = resolve));
		// Registered before any await, so a run ending while the file is being moved is not missed.
		if (runId) this.track(runId, pending);
		const decidedAt = this.now();
		const result: InboxResult = {
			file: name,
			status: r.status,
			...(runId ? { runId } : {}),
			idempotencyKey: inboxKey(hash),
			alreadyThere: s.alreadyThere,
			pickedUpAt: iso(s.pickedUpAt || decidedAt),
			decidedAt: iso(decidedAt),
			...(r.status === 'refused' || r.status === 'skipped' ? { reason: r.reason } : {}),
			...(r.status === 'invalid' ? { reason: r.error, problems: problems ?? [{ message: r.error }] } : {}),
			...(r.status === 'duplicate' ? { firstSeenAt: iso(r.firstSeenAt) } : {}),
			...(r.status === 'queued' && r.position !== undefined ? { position: r.position } : {}),
		};
		const dir = path.join(this.folder, isAccepted(r.status) ? DONE_FOLDER : FAILED_FOLDER);
		let dest: string;
		try {
			dest = await moveInto(abs, dir, decidedAt);
			result.movedTo = path.relative(this.folder, dest).split(path.sep).join('/');
		} catch (err) {
			dest = path.join(dir, name);
			this.emit({ type: 'error', file: name, message: `could not move it to ${path.basename(dir)}/: ${describeError(err)}` });
		}
		this.forget(abs);
		const resultFile = path.join(path.dirname(dest), resultNameFor(path.basename(dest)));
		await this.write(resultFile, result);
		this.emit({ type: 'decided', file: name, result: { ...result } });
		settle({ file: name, resultFile, result });
		if (runId) {
			const known = this.dispatcher.get(runId);
			if (known?.state === 'finished') this.runChanged(known);
			else if (!known) await this.fromHistory(runId, pending, resultFile, result);
		}
		return result;
	}

	/** A duplicate of a run this dispatcher does not know (an earlier session's): its end, from the run's summary. */
	private async fromHistory(runId: string, pending: Pending, resultFile: string, result: InboxResult): Promise<void> {
		const list = this.tracked.get(runId)?.filter((p) => p !== pending) ?? [];
		if (list.length) this.tracked.set(runId, list);
		else this.tracked.delete(runId);
		const summary = await readRunSummary(this.engine.stateDir, runId).catch(() => undefined);
		if (!summary || summary.status === 'running') return;
		result.run = {
			status: summary.status,
			startedAt: iso(summary.startedAt),
			...(summary.durationMs !== undefined ? { finishedAt: iso(summary.startedAt + summary.durationMs) } : {}),
		};
		await this.write(resultFile, result);
	}

	private track(runId: string, pending: Pending): void {
		const list = this.tracked.get(runId) ?? [];
		list.push(pending);
		this.tracked.set(runId, list);
	}

	private runChanged(run: DispatchedRun): void {
		if (run.state !== 'finished' || !run.status) return;
		const list = this.tracked.get(run.runId);
		if (!list) return;
		this.tracked.delete(run.runId);
		const work = Promise.all(
			list.map(async (pending) => {
				const decided = await pending;
				if (!decided) return;
				const { file, resultFile, result } = decided;
				result.run = {
					status: run.status!,
					...(run.message ? { message: run.message } : {}),
					...(run.startedAt ? { startedAt: iso(run.startedAt) } : {}),
					...(run.finishedAt ? { finishedAt: iso(run.finishedAt) } : {}),
				};
				await this.write(resultFile, result);
				this.emit({ type: 'run-ended', file, result: { ...result } });
			}),
		).finally(() => {
			for (const done of [...this.ended]) done();
		});
		this.hold(work);
	}

	private async write(file: string, result: InboxResult): Promise<void> {
		try {
			await writeJsonAtomic(file, result, 'inbox result');
		} catch (err) {
			this.emit({ type: 'error', file: result.file, message: describeError(err) });
		}
	}

	private emit(e: InboxEvent): void {
		if (e.type === 'error') this.logger.log('warn', 'inbox', `${e.file ? `${e.file}: ` : ''}${e.message}`);
		for (const l of this.listeners) {
			try {
				l(e);
			} catch {
				// a broken listener must not stop the inbox
			}
		}
	}
}

/** The dispatcher's key for a file: the sha256 of its bytes, in the inbox's own namespace. */
export const inboxKey = (sha256: string): string => `inbox:sha256:${sha256}`;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
