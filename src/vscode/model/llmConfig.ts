// Where the extension's LLM endpoint comes from: the settings first, the environment qo reads when they are empty,
// the key from SecretStorage (else the environment). No vscode import; never returns the key in anything it describes.
import { DEFAULT_PRICES, parsePrices, type ModelPrice } from '../../core/services/llm/pricing';
import { DEFAULT_MODEL, parseRoleModels, type LlmSettings } from '../../core/services/llm/settings';

/** The `quantum.llm.*` settings as read (empty strings and objects when unset). */
export interface LlmSettingValues {
	baseUrl: string;
	model: string;
	roleModels: unknown;
	prices: unknown;
	timeoutMs: number;
	maxRetries: number;
}

export type Source = 'settings' | 'environment';

export interface ResolvedLlm {
	/** Undefined when no endpoint is configured anywhere: llm steps fail saying so, the planner is the offline one. */
	settings?: LlmSettings;
	endpointFrom?: Source;
	keyFrom?: 'secret storage' | 'environment';
	/** Every model's price: the defaults, QO_LLM_PRICES, then the setting. */
	prices: Record<string, ModelPrice>;
	/** Settings that were ignored, each one line (never containing the key). */
	problems: string[];
}

export function resolveLlm(values: LlmSettingValues, secretKey: string | undefined, env: NodeJS.ProcessEnv): ResolvedLlm {
	const problems: string[] = [];
	const prices = {
		...DEFAULT_PRICES,
		...parsePrices(env.QO_LLM_PRICES, (m) => problems.push(m)),
		...parsePrices(pricesText(values.prices), (m) => problems.push(m.replace(/QO_LLM_PRICES/g, 'quantum.llm.prices'))),
	};
	const fromSettings = values.baseUrl.trim();
	const baseUrl = fromSettings || env.QO_LLM_BASE_URL || env.OPENAI_BASE_URL;
	if (!baseUrl) return { prices, problems };
	if (!/^https?:\/\//i.test(baseUrl)) {
		problems.push(`the endpoint ${JSON.stringify(baseUrl)} is not an http(s) URL: no LLM is configured`);
		return { prices, problems };
	}
	const key = secretKey || env.QO_LLM_API_KEY || env.OPENAI_API_KEY;
	const settings: LlmSettings = {
		baseUrl,
		model: values.model.trim() || env.QO_LLM_MODEL || env.OPENAI_MODEL || DEFAULT_MODEL,
		roleModels: { ...parseRoleModels(env.QO_LLM_ROLE_MODELS), ...roleModels(values.roleModels, problems) },
		timeoutMs: values.timeoutMs > 0 ? values.timeoutMs : 120_000,
		maxRetries: Number.isInteger(values.maxRetries) && values.maxRetries >= 0 ? values.maxRetries : 2,
	};
	if (key) settings.apiKey = key;
	return { settings, endpointFrom: fromSettings ? 'settings' : 'environment', ...(key ? { keyFrom: secretKey ? 'secret storage' : 'environment' } : {}), prices, problems };
}

/** One line for the log and messages: where the endpoint is and where its key came from — never the key. */
export function describeLlm(r: ResolvedLlm): string {
	if (!r.settings) return 'no LLM endpoint is configured (quantum.llm.baseUrl, or QO_LLM_BASE_URL / OPENAI_BASE_URL in the environment): llm steps fail and goals are planned offline';
	const roles = Object.entries(r.settings.roleModels ?? {}).map(([role, model]) => `${role}=${model}`);
	return `LLM endpoint ${r.settings.baseUrl} (from the ${r.endpointFrom}), model ${r.settings.model}${roles.length ? `, roles ${roles.join(', ')}` : ''}, ${r.keyFrom ? `key from ${r.keyFrom}` : 'no key'}`;
}

/** Whether two resolutions would make the same client (so a settings event that changed nothing keeps it). */
export function sameEndpoint(a: ResolvedLlm, b: ResolvedLlm): boolean {
	return JSON.stringify(a.settings ?? null) === JSON.stringify(b.settings ?? null);
}

function pricesText(value: unknown): string | undefined {
	if (value === undefined || value === null) return undefined;
	if (typeof value === 'object' && Object.keys(value).length === 0) return undefined;
	return JSON.stringify(value);
}

function roleModels(value: unknown, problems: string[]): Record<string, string> {
	if (value === undefined || value === null) return {};
	if (typeof value !== 'object' || Array.isArray(value)) {
		problems.push('quantum.llm.roleModels: expected an object of role or agent name → model');
		return {};
	}
	const out: Record<string, string> = {};
	for (const [role, model] of Object.entries(value)) {
		if (typeof model === 'string' && model.trim()) out[role] = model.trim();
		else problems.push(`quantum.llm.roleModels.${role}: expected a model name`);
	}
	return out;
}
