// Who may talk to the API: loopback Host names only (DNS rebinding), no browser (any Origin header), and the bearer
// token, compared in constant time. The token is never logged and never put in a message.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ApiError } from './errors';

/** A fresh token: 256 random bits, base64url (43 characters). */
export function newToken(): string {
	return randomBytes(32).toString('base64url');
}

/** A token given by the host (the extension's SecretStorage): at least 128 bits' worth of token68 characters. */
export function checkGivenToken(token: string): void {
	if (!/^[A-Za-z0-9._~+/-]+=*$/.test(token)) throw new Error('the API token must be token68 characters (base64url is best)');
	if (token.length < 22) throw new Error('the API token is too short: give at least 22 base64url characters (128 bits), or let the server make one');
}

/** Hashing first gives timingSafeEqual two buffers of one length, so neither the content nor the length leaks. */
function digest(text: string): Buffer {
	return createHash('sha256').update(text, 'utf8').digest();
}

export class TokenCheck {
	private readonly expected: Buffer;
	constructor(token: string) {
		this.expected = digest(token);
	}

	/** Throws 401 unless `Authorization: Bearer <the token>`. */
	verify(headers: IncomingHttpHeaders): void {
		const header = headers.authorization;
		const m = typeof header === 'string' ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
		const given = m ? digest(m[1]) : undefined;
		// Compare even when nothing usable was sent, so a missing and a wrong token cost the same.
		const ok = timingSafeEqual(given ?? Buffer.alloc(this.expected.length), this.expected) && given !== undefined;
		if (!ok) {
			throw new ApiError(
				401,
				'unauthorized',
				header === undefined
					? 'missing Authorization header: send "Authorization: Bearer <token>" with the token from .quantum/api.json'
					: 'wrong or malformed bearer token: send "Authorization: Bearer <token>" with the token from .quantum/api.json',
				{},
				{ 'WWW-Authenticate': 'Bearer realm="quantum-orchestrator"' },
			);
		}
	}
}

/** Throws 403 unless Host names a loopback address with the server's port (a rebound DNS name never passes). */
export function checkHost(host: string | undefined, port: number): void {
	const allowed = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
	if (host !== undefined && allowed.includes(host.toLowerCase())) return;
	throw new ApiError(403, 'forbidden-host', `Host header ${host === undefined ? '(none)' : JSON.stringify(host.slice(0, 100))} is not allowed: use ${allowed.join(', ')}`);
}

/**
 * Throws 403 for any request carrying an Origin header (also "null"): browsers add it to cross-origin and to every
 * POST request, and no client of this API is a web page, so refusing them all is the simplest rule that is safe.
 */
export function checkOrigin(headers: IncomingHttpHeaders): void {
	if (headers.origin === undefined) return;
	throw new ApiError(403, 'forbidden-origin', 'requests from web pages (with an Origin header) are not accepted: this API is for local programs only, and sends no CORS headers');
}
