// The API's one error class: an HTTP status and a stable code, turned into `{ "error": { "code", "message" } }`.

export type ApiErrorCode =
	| 'forbidden-host'
	| 'forbidden-origin'
	| 'unauthorized'
	| 'not-found'
	| 'method-not-allowed'
	| 'payload-too-large'
	| 'unsupported-media-type'
	| 'malformed-json'
	| 'bad-request'
	| 'invalid-request'
	| 'invalid-workflow'
	| 'refused'
	| 'skipped'
	| 'conflict'
	| 'shutting-down'
	| 'internal';

export class ApiError extends Error {
	override readonly name = 'ApiError';
	constructor(
		readonly status: number,
		readonly code: ApiErrorCode,
		message: string,
		/** More members of the error object (the located problems, the steps that need approval). */
		readonly details: Record<string, unknown> = {},
		readonly headers: Record<string, string> = {},
	) {
		super(message);
	}

	static is(err: unknown, code?: ApiErrorCode): err is ApiError {
		return err instanceof ApiError && (code === undefined || err.code === code);
	}

	toJSON(): { error: Record<string, unknown> } {
		return { error: { code: this.code, message: this.message, ...this.details } };
	}
}
