// The extension's LLM endpoint: `quantum.llm.*` settings (else the environment) and the key in SecretStorage (else
// the environment). Engines ask `current()` at each use, so a changed setting or key applies without a reload. The
// openai SDK is loaded only once an endpoint is configured, keeping activation fast. The key is never logged.
import * as vscode from 'vscode';
import type { Logger } from '../core/ports';
import type { LlmClient } from '../core/services/llm/client';
import type { ModelPrice } from '../core/services/llm/pricing';
import { describeLlm, resolveLlm, sameEndpoint, type LlmSettingValues, type ResolvedLlm } from './model/llmConfig';

/** The SecretStorage entry holding the API key. */
export const API_KEY_SECRET = 'quantum.llm.apiKey';
const SECTION = 'quantum.llm';

export class LlmService implements vscode.Disposable {
	private client: LlmClient | undefined;
	private resolved: ResolvedLlm = { prices: {}, problems: [] };
	private loading: Promise<void> | undefined;
	private loaded = false;
	/** Bumped on every change: a slow reload that finishes after a newer one is dropped. */
	private generation = 0;
	/** Every model's price, updated in place: engines hold this object and see changes at once. */
	readonly prices: Record<string, ModelPrice> = {};
	private readonly subs: vscode.Disposable[];

	constructor(
		private readonly secrets: vscode.SecretStorage,
		private readonly logger: Logger,
		private readonly env: NodeJS.ProcessEnv = process.env,
	) {
		this.subs = [
			secrets.onDidChange((e) => {
				if (e.key === API_KEY_SECRET) void this.reload('the API key changed');
			}),
			vscode.workspace.onDidChangeConfiguration((e) => {
				if (e.affectsConfiguration(SECTION)) void this.reload('the LLM settings changed');
			}),
		];
	}

	/** Resolves once the settings and the key have been read (the first time, and after a change). */
	ready(): Promise<void> {
		return (this.loading ??= this.reload());
	}

	/** The client for the configured endpoint, or undefined when there is none. */
	current(): LlmClient | undefined {
		return this.client;
	}

	get configured(): boolean {
		return this.client !== undefined;
	}

	/** Where the endpoint and key come from, in one line (never the key). */
	describe(): string {
		return describeLlm(this.resolved);
	}

	async setKey(key: string): Promise<void> {
		await this.secrets.store(API_KEY_SECRET, key);
		await this.reload('the API key was set');
	}

	async clearKey(): Promise<boolean> {
		const had = (await this.secrets.get(API_KEY_SECRET)) !== undefined;
		await this.secrets.delete(API_KEY_SECRET);
		await this.reload('the API key was cleared');
		return had;
	}

	async hasStoredKey(): Promise<boolean> {
		return (await this.secrets.get(API_KEY_SECRET)) !== undefined;
	}

	private reload(why?: string): Promise<void> {
		const generation = ++this.generation;
		const run = (async () => {
			const key = await this.secrets.get(API_KEY_SECRET);
			const resolved = resolveLlm(readValues(), key, this.env);
			if (generation !== this.generation) return;
			for (const p of resolved.problems) this.logger.log('warn', 'llm', p);
			for (const model of Object.keys(this.prices)) if (!(model in resolved.prices)) delete this.prices[model];
			Object.assign(this.prices, resolved.prices);
			if (this.loaded && sameEndpoint(this.resolved, resolved)) {
				this.resolved = resolved;
				return;
			}
			const client = resolved.settings ? redacting((await import('../core/services/llm/client.js')).createOpenAiClient(resolved.settings), resolved.settings.apiKey) : undefined;
			if (generation !== this.generation) return;
			this.resolved = resolved;
			this.client = client;
			this.loaded = true;
			this.logger.log('info', 'llm', `${why ? `${why}: ` : ''}${describeLlm(resolved)}`);
		})();
		this.loading = run.catch((err: unknown) => this.logger.log('error', 'llm', `could not read the LLM settings: ${err instanceof Error ? err.message : String(err)}`));
		return this.loading;
	}

	dispose(): void {
		for (const s of this.subs) s.dispose();
	}
}

function readValues(): LlmSettingValues {
	const c = vscode.workspace.getConfiguration(SECTION);
	return {
		baseUrl: c.get<string>('baseUrl', '') ?? '',
		model: c.get<string>('model', '') ?? '',
		roleModels: c.get('roleModels'),
		prices: c.get('prices'),
		timeoutMs: c.get<number>('timeoutMs', 120_000),
		maxRetries: c.get<number>('maxRetries', 2),
	};
}

/** A client whose errors never carry the key (some servers echo part of a bad key back in their error text). */
function redacting(client: LlmClient, key: string | undefined): LlmClient {
	if (!key) return client;
	return {
		get model() {
			return client.model;
		},
		modelFor: client.modelFor?.bind(client),
		async complete(request, signal, onText) {
			try {
				return await client.complete(request, signal, onText);
			} catch (err) {
				if (err instanceof Error && err.message.includes(key)) err.message = err.message.split(key).join('***');
				throw err;
			}
		},
	};
}
