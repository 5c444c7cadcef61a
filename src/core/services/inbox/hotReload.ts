// Hot reload: workflow files the user named are run again when their content changes — debounced, and compared by
// content hash so a save without changes runs nothing; by default a newer version cancels the run still going.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { FSWatcher } from 'chokidar';
import type { Engine } from '../../engine';
import type { RunStatus } from '../../engine/events';
import { describeError } from '../../errors';
import { isMissing } from '../../state/io';
import type { Workflow } from '../../workflow/schema';
import type { ConcurrencyPolicy, DispatchedRun, Dispatcher } from '../triggers/dispatcher';
import { problemsOf, type InboxProblem, type InboxStatus } from './inboxResult';

export type ReloadEvent =
	/** A watched file changed (or was saved unchanged: then nothing runs). `file` is workspace-relative. */
	| { type: 'reload'; file: string; status: InboxStatus | 'unchanged'; runId?: string; reason?: string; problems?: InboxProblem[] }
	| { type: 'reload-ended'; file: string; runId: string; status: RunStatus; message?: string };

export interface ReloaderOptions {
	engine: Engine;
	dispatcher: Dispatcher;
	/** Absolute paths of workflow files. */
	paths: string[];
	debounceMs: number;
	stabilityMs: number;
	pollMs: number;
	policy: ConcurrencyPolicy;
	waitForDecisions: boolean;
	now: () => number;
	emit(e: ReloadEvent | { type: 'error'; file?: string; message: string }): void;
}

export class WorkflowReloader {
	/** Content hash of each file as last run (or as found at start): the same content again runs nothing. */
	private readonly last = new Map<string, string>();
	private readonly timers = new Map<string, NodeJS.Timeout>();
	private readonly chains = new Map<string, Promise<void>>();
	private readonly runs = new Map<string, string>();
	private watcher: FSWatcher | undefined;
	private subscription: { dispose(): void } | undefined;
	private closed = false;
	private count = 0;

	constructor(private readonly opts: ReloaderOptions) {}

	async start(): Promise<void> {
		for (const p of this.opts.paths) {
			const bytes = await readFile(p).catch(() => undefined);
			if (bytes) this.last.set(p, hash(bytes));
		}
		this.subscription = this.opts.dispatcher.onDidChange((run) => this.runChanged(run));
		const { watch } = await import('chokidar');
		const watcher = watch(this.opts.paths, {
			ignoreInitial: true,
			awaitWriteFinish: { stabilityThreshold: this.opts.stabilityMs, pollInterval: this.opts.pollMs },
		});
		this.watcher = watcher;
		watcher.on('add', (p) => this.changed(path.resolve(p)));
		watcher.on('change', (p) => this.changed(path.resolve(p)));
		watcher.on('error', (err) => this.opts.emit({ type: 'error', message: `watching workflow files: ${describeError(err)}` }));
		await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
	}

	async close(): Promise<void> {
		this.closed = true;
		for (const t of this.timers.values()) clearTimeout(t);
		this.timers.clear();
		await this.watcher?.close();
		await Promise.all([...this.chains.values()]);
		this.subscription?.dispose();
	}

	private shown(abs: string): string {
		return path.relative(this.opts.engine.workspace, abs).split(path.sep).join('/') || path.basename(abs);
	}

	private changed(abs: string): void {
		if (this.closed) return;
		clearTimeout(this.timers.get(abs));
		this.timers.set(
			abs,
			setTimeout(() => {
				this.timers.delete(abs);
				const next = (this.chains.get(abs) ?? Promise.resolve())
					.then(() => this.reload(abs))
					.catch((err: unknown) => this.opts.emit({ type: 'error', file: this.shown(abs), message: describeError(err) }));
				this.chains.set(abs, next);
			}, this.opts.debounceMs),
		);
	}

	private async reload(abs: string): Promise<void> {
		if (this.closed) return;
		const file = this.shown(abs);
		let bytes: Buffer;
		try {
			bytes = await readFile(abs);
		} catch (err) {
			if (isMissing(err)) return;
			throw err;
		}
		const h = hash(bytes);
		if (this.last.get(abs) === h) {
			this.opts.emit({ type: 'reload', file, status: 'unchanged' });
			return;
		}
		this.last.set(abs, h);
		let workflow: Workflow;
		try {
			workflow = this.opts.engine.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes), file);
		} catch (err) {
			const problems = err instanceof TypeError ? [{ message: 'the file is not valid UTF-8 text' }] : problemsOf(err);
			this.opts.emit({ type: 'reload', file, status: 'invalid', reason: problems[0].message, problems });
			return;
		}
		// Every change is a new event (A → B → A runs A again): the key names this change; the hash check above skips saves.
		const r = await this.opts.dispatcher.submit({
			workflow,
			source: 'inbox',
			idempotencyKey: `reload:${file}:sha256:${h}:${this.opts.now()}-${++this.count}`,
			group: `reload:${file}`,
			policy: this.opts.policy,
			unattended: true,
			waitForDecisions: this.opts.waitForDecisions,
			origin: `${file} (changed)`,
		});
		if (r.status === 'started' || r.status === 'queued') {
			this.runs.set(r.runId, file);
			this.opts.emit({ type: 'reload', file, status: r.status, runId: r.runId });
			const known = this.opts.dispatcher.get(r.runId);
			if (known?.state === 'finished') this.runChanged(known);
		} else if (r.status === 'invalid') {
			this.opts.emit({ type: 'reload', file, status: 'invalid', reason: r.error, problems: [{ message: r.error }] });
		} else if (r.status === 'duplicate') {
			this.opts.emit({ type: 'reload', file, status: 'duplicate', ...(r.runId ? { runId: r.runId } : {}) });
		} else if (r.status === 'refused' || r.status === 'skipped') {
			this.opts.emit({ type: 'reload', file, status: r.status, reason: r.reason });
		}
	}

	private runChanged(run: DispatchedRun): void {
		if (run.state !== 'finished' || !run.status) return;
		const file = this.runs.get(run.runId);
		if (file === undefined) return;
		this.runs.delete(run.runId);
		this.opts.emit({ type: 'reload-ended', file, runId: run.runId, status: run.status, ...(run.message ? { message: run.message } : {}) });
	}
}

function hash(bytes: Buffer): string {
	return createHash('sha256').update(bytes).digest('hex');
}
