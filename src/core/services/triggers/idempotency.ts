// The keys of events already acted on (`.quantum/triggers.json`), so the same event never starts two runs — also
// across restarts. Claimed synchronously, written atomically a moment later; old keys are forgotten after a while.
import * as path from 'node:path';
import { readJsonFileIfExists, writeJsonAtomic } from '../../state/atomicFs';

export const TRIGGERS_FILE = 'triggers.json';

/** Keys are remembered this long (default a week) and at most this many (the oldest go first). */
const KEEP_MS = 7 * 24 * 60 * 60 * 1000;
const KEEP_MAX = 20_000;
const SAVE_DELAY_MS = 100;

export interface SeenKey {
	source: string;
	at: number;
	/** The run it started, once known. */
	runId?: string;
}

interface TriggersFile {
	version: 1;
	keys: Record<string, SeenKey>;
}

export class IdempotencyStore {
	private keys = new Map<string, SeenKey>();
	private timer: NodeJS.Timeout | undefined;
	private saving: Promise<void> = Promise.resolve();

	constructor(
		private readonly stateDir: string,
		private readonly now: () => number,
	) {}

	get file(): string {
		return path.join(this.stateDir, TRIGGERS_FILE);
	}

	/** Reads the file; a damaged one is set aside in the returned warnings and the store starts empty. */
	async load(): Promise<string[]> {
		try {
			const data = await readJsonFileIfExists<TriggersFile>(this.file, 'trigger keys');
			if (data?.version === 1 && data.keys && typeof data.keys === 'object') {
				for (const [k, v] of Object.entries(data.keys)) if (v && typeof v.at === 'number') this.keys.set(k, v);
			}
			this.forgetOld();
			return [];
		} catch (err) {
			return [`${this.file} could not be read (${err instanceof Error ? err.message : String(err)}); events seen before are forgotten`];
		}
	}

	/** The earlier sighting of `key`, or undefined after recording this one (and the run it will start) as the first. */
	claim(key: string, source: string, runId: string): SeenKey | undefined {
		const seen = this.keys.get(key);
		if (seen) return seen;
		this.keys.set(key, { source, at: this.now(), runId });
		this.scheduleSave();
		return undefined;
	}

	/** Gives a key back (its submission was refused or invalid, so the same event may come again, fixed). */
	release(key: string): void {
		this.keys.delete(key);
		this.scheduleSave();
	}

	async save(): Promise<void> {
		clearTimeout(this.timer);
		this.timer = undefined;
		this.saving = this.saving.then(() => writeJsonAtomic(this.file, { version: 1, keys: Object.fromEntries(this.keys) } satisfies TriggersFile, 'trigger keys').catch(() => undefined));
		return this.saving;
	}

	private scheduleSave(): void {
		this.forgetOld();
		if (this.timer) return;
		this.timer = setTimeout(() => void this.save(), SAVE_DELAY_MS);
		this.timer.unref();
	}

	private forgetOld(): void {
		const cutoff = this.now() - KEEP_MS;
		for (const [k, v] of this.keys) {
			if (v.at >= cutoff && this.keys.size <= KEEP_MAX) break;
			this.keys.delete(k);
		}
	}
}
