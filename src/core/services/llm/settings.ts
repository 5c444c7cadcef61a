// Where the LLM endpoint comes from; kept apart from the client so reading it does not load the SDK.
import type { LlmClient } from './client';

/** The model used when none is configured. */
export const DEFAULT_MODEL = 'gpt-4o-mini';

export interface LlmSettings {
	/** e.g. https://api.openai.com/v1, http://localhost:11434/v1 (Ollama), an Azure or vLLM endpoint. */
	baseUrl: string;
	model: string;
	apiKey?: string;
	/** Per request, per attempt; default 120 s. */
	timeoutMs?: number;
	/** Retries on 408/409/429/5xx and connection errors, with backoff and Retry-After; default 2. */
	maxRetries?: number;
	/** Per-role model overrides: planner, architect, coder, reviewer, tester, or a workspace agent's name. */
	roleModels?: Record<string, string>;
}

/** Parses `planner=gpt-4o,coder=qwen2.5-coder` (QO_LLM_ROLE_MODELS) into role → model. */
export function parseRoleModels(text: string | undefined): Record<string, string> {
	const roles: Record<string, string> = {};
	for (const pair of (text ?? '').split(',')) {
		const eq = pair.indexOf('=');
		if (eq > 0 && pair.slice(eq + 1).trim()) roles[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
	}
	return roles;
}

/**
 * Settings from the environment, as the CLI reads them: QO_LLM_BASE_URL or OPENAI_BASE_URL, QO_LLM_MODEL (or
 * OPENAI_MODEL), QO_LLM_API_KEY or OPENAI_API_KEY, QO_LLM_ROLE_MODELS (`role=model,...`). Undefined when no endpoint is set.
 */
export function llmSettingsFromEnv(env: NodeJS.ProcessEnv): LlmSettings | undefined {
	const baseUrl = env.QO_LLM_BASE_URL || env.OPENAI_BASE_URL;
	if (!baseUrl) return undefined;
	return {
		baseUrl,
		model: env.QO_LLM_MODEL || env.OPENAI_MODEL || DEFAULT_MODEL,
		apiKey: env.QO_LLM_API_KEY || env.OPENAI_API_KEY,
		roleModels: parseRoleModels(env.QO_LLM_ROLE_MODELS),
	};
}

/** The client for the endpoint the environment names; the SDK is loaded only then, so hosts start as fast without. */
export async function llmClientFromEnv(env: NodeJS.ProcessEnv): Promise<LlmClient | undefined> {
	const settings = llmSettingsFromEnv(env);
	return settings ? (await import('./client.js')).createOpenAiClient(settings) : undefined;
}
