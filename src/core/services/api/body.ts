// Request bodies: JSON only, at most `limit` bytes (counted as they stream in), and a parse error's line and column.
import type { IncomingMessage } from 'node:http';
import { diagnoseJson, LineIndex } from '../../workflow/jsonLocation';
import { ApiError } from './errors';

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export interface JsonBody {
	/** The text as sent (a leading BOM removed), for locating problems. */
	text: string;
	value: unknown;
	/** The raw bytes, for the default idempotency key. */
	bytes: Buffer;
}

/** Throws 413 when a declared Content-Length is already over the limit (before reading anything). */
export function checkDeclaredLength(req: IncomingMessage, limit: number): void {
	const declared = req.headers['content-length'];
	if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
}

/** Throws 415 unless Content-Type is application/json (charset, if given, utf-8). */
export function checkJsonContentType(req: IncomingMessage): void {
	const type = req.headers['content-type'];
	const [media, ...params] = (type ?? '').split(';').map((s) => s.trim().toLowerCase());
	const charset = params.find((p) => p.startsWith('charset='))?.slice(8).replace(/"/g, '');
	if (media === 'application/json' && (charset === undefined || charset === 'utf-8' || charset === 'utf8')) return;
	throw new ApiError(415, 'unsupported-media-type', `the body must be JSON: send Content-Type: application/json (got ${type ? JSON.stringify(type.slice(0, 100)) : 'none'})`);
}

/** Reads the body; rejects with 413 the moment it passes `limit` bytes (the caller then closes the connection). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		let size = 0;
		const onData = (chunk: Buffer) => {
			size += chunk.length;
			if (size > limit) {
				cleanup();
				reject(tooLarge(limit));
				return;
			}
			chunks.push(chunk);
		};
		const onEnd = () => {
			cleanup();
			resolve(Buffer.concat(chunks, size));
		};
		const onError = (err: Error) => {
			cleanup();
			reject(new ApiError(400, 'bad-request', `the request body could not be read: ${err.message}`));
		};
		// A client that goes away mid-body gets no answer, but the request must not wait forever either.
		const onClose = () => {
			if (req.complete) return;
			cleanup();
			reject(new ApiError(400, 'bad-request', 'the connection closed before the whole body arrived'));
		};
		const cleanup = () => {
			req.off('data', onData);
			req.off('end', onEnd);
			req.off('error', onError);
			req.off('close', onClose);
		};
		req.on('data', onData);
		req.on('end', onEnd);
		req.on('error', onError);
		req.on('close', onClose);
	});
}

/** UTF-8 JSON text → value; a syntax error says where (line, column, offset) and what. */
export function parseJsonBody(bytes: Buffer): JsonBody {
	let text: string;
	try {
		text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
	} catch {
		throw new ApiError(400, 'malformed-json', 'the request body is not valid UTF-8 text');
	}
	if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
	try {
		return { text, value: JSON.parse(text) as unknown, bytes };
	} catch (err) {
		const found = diagnoseJson(text);
		if (!found) throw new ApiError(400, 'malformed-json', `the request body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
		const { line, column } = new LineIndex(text).at(found.offset);
		const message = found.message.replace('the file is empty', 'the body is empty');
		throw new ApiError(400, 'malformed-json', `the request body is not valid JSON: line ${line}, column ${column}: ${message}`, { line, column, offset: found.offset });
	}
}

function tooLarge(limit: number): ApiError {
	return new ApiError(413, 'payload-too-large', `the request body is larger than ${limit} bytes`, { limit }, { Connection: 'close' });
}
