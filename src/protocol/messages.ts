// The one message protocol between the extension host and the board webview: a zod union per direction.
// The namespace import lets esbuild drop zod's locales from the webview bundle.
import * as z from 'zod';
import { boardPatchSchema, boardSnapshotSchema, metricsViewSchema } from './viewModels';

/** Run-level actions the board can ask for; the host maps each to its command. */
export const runActionSchema = z.enum(['cancel', 'retry', 'resume', 'rollback', 'commit', 'openLog']);
export type RunAction = z.infer<typeof runActionSchema>;

export const hostToWebviewSchema = z.discriminatedUnion('type', [
	/** host → webview: the whole board; sent after `ready`, after `resync`, and when patches would be larger. */
	z.object({ type: z.literal('snapshot'), snapshot: boardSnapshotSchema }),
	/** host → webview: ordered changes; `version` is the board version after applying them. */
	z.object({ type: z.literal('patch'), version: z.number().int().positive(), patches: z.array(boardPatchSchema) }),
	/** host → webview: the answer to an action, shown next to what the user clicked. */
	z.object({ type: z.literal('notice'), level: z.enum(['info', 'error']), text: z.string() }),
	/** host → webview: move focus to a decision (from a notification or the tree). */
	z.object({ type: z.literal('focusDecision'), decisionId: z.string() }),
	/** host → webview: the metrics section (after `ready` and whenever a run finishes). */
	z.object({ type: z.literal('metrics'), metrics: metricsViewSchema }),
]);
export type HostToWebview = z.infer<typeof hostToWebviewSchema>;

const id = z.string().min(1).max(200);

export const webviewToHostSchema = z.discriminatedUnion('type', [
	/** webview → host: loaded and listening; the host answers with a snapshot. */
	z.object({ type: z.literal('ready') }),
	/** webview → host: a patch arrived out of order; send a snapshot. */
	z.object({ type: z.literal('resync') }),
	/** webview → host: approve or reject one or more pending decisions at once. */
	z.object({
		type: z.literal('answer'),
		decisionIds: z.array(id).min(1).max(1000),
		approve: z.boolean(),
		reason: z.string().max(2000).optional(),
		/** Approve and stop asking about this rule in this workspace (only for decisions a policy rule raised). */
		alwaysAllow: z.boolean().optional(),
	}),
	/** webview → host: approve one decision with changed parameters (JSON object). */
	z.object({ type: z.literal('editApprove'), decisionId: id, parameters: z.record(z.string(), z.unknown()) }),
	/** webview → host: open what the step will do (a diff for file steps, the command for exec steps). */
	z.object({ type: z.literal('showDecision'), decisionId: id }),
	/** webview → host: a run-level action. */
	z.object({ type: z.literal('runAction'), action: runActionSchema, runId: id }),
	/** webview → host: reveal a step (its output or error) in the tree and the log. */
	z.object({ type: z.literal('openStep'), runId: id, stepId: id }),
	/** webview → host: open the plan file an orchestration saved (named by the orchestration, never by a path). */
	z.object({ type: z.literal('openPlan'), orchestrationId: id }),
]);
export type WebviewToHost = z.infer<typeof webviewToHostSchema>;

/** The host's dispatch table: adding a message without a handler is a compile error. */
export type WebviewHandlers = {
	[K in WebviewToHost['type']]: (msg: Extract<WebviewToHost, { type: K }>) => void | Promise<void>;
};

type Parsed<T> = { ok: true; message: T } | { ok: false; error: string };

function parseWith<T>(schema: z.ZodType<T>, data: unknown): Parsed<T> {
	const r = schema.safeParse(data);
	if (r.success) return { ok: true, message: r.data };
	const issue = r.error.issues[0];
	return { ok: false, error: `${issue?.path.join('.') || '(message)'}: ${issue?.message ?? 'invalid'}` };
}

/** A message from the webview, or what is wrong with it (the host logs and drops it). */
export const parseWebviewMessage = (data: unknown): Parsed<WebviewToHost> => parseWith(webviewToHostSchema, data);

/** A message from the host, or what is wrong with it (the webview ignores it). */
export const parseHostMessage = (data: unknown): Parsed<HostToWebview> => parseWith(hostToWebviewSchema, data);
