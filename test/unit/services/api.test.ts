// The API's door, with real HTTP requests against the real server on 127.0.0.1: token, Host, Origin, body limits,
// content type, JSON syntax, routes and methods, and api.json.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { httpCall, startTestApi, waitWorkflow, type TestApi } from '../../helpers/apiClient';

describe('local API: authentication, Host, Origin, limits and errors', function () {
	this.timeout(30_000);
	let api: TestApi;

	before(async () => {
		api = await startTestApi({ bodyLimit: 64 * 1024 });
	});
	after(async () => {
		await api.close();
		// The token must never show: not in a response (headers or body), not in a log line.
		for (const text of [...api.seen, ...api.logs]) assert.ok(!text.includes(api.server.token), `the token leaked: ${text.slice(0, 200)}`);
	});

	it('listens on 127.0.0.1 only, with a token of at least 128 bits', () => {
		assert.match(api.server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
		assert.ok(Buffer.from(api.server.token, 'base64url').length >= 16);
	});

	it('401 with WWW-Authenticate: Bearer without a token, with a wrong one, or with another scheme', async () => {
		for (const headers of [{} as Record<string, string>, { Authorization: `Bearer ${api.server.token}x` }, { Authorization: `Basic ${api.server.token}` }, { Authorization: 'Bearer' }]) {
			const r = await api.call('GET', '/v1/state', { token: null, headers });
			assert.equal(r.status, 401, JSON.stringify(headers));
			assert.equal(r.headers['www-authenticate'], 'Bearer realm="quantum-orchestrator"');
			assert.equal(r.json.error.code, 'unauthorized');
			assert.match(r.json.error.message, /Authorization: Bearer <token>/);
		}
		assert.equal((await api.call('GET', '/v1/state')).status, 200);
	});

	it('a wrong token is refused before anything else: even unknown routes say 401, not 404', async () => {
		assert.equal((await api.call('GET', '/nowhere', { token: 'wrong-token-wrong-token-wrong' })).status, 401);
		assert.equal((await api.call('POST', '/v1/runs', { token: null, body: waitWorkflow('nope') })).status, 401);
		assert.equal((await api.engine.runs()).length, 0, 'nothing ran');
	});

	it('403 for a Host that is not a loopback name with our port (DNS rebinding)', async () => {
		const port = api.server.port;
		for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${port + 1}`, '127.0.0.1', `0.0.0.0:${port}`, `localhost.evil.example:${port}`]) {
			const r = await api.call('GET', '/v1/state', { headers: { Host: host } });
			assert.equal(r.status, 403, host);
			assert.equal(r.json.error.code, 'forbidden-host');
		}
		for (const host of [`localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`, `127.0.0.1:${port}`]) {
			assert.equal((await api.call('GET', '/v1/state', { headers: { Host: host } })).status, 200, host);
		}
	});

	it('403 for any request with an Origin header (also "null"), and never a CORS header', async () => {
		for (const origin of ['http://evil.example', `http://127.0.0.1:${api.server.port}`, 'null']) {
			const r = await api.call('POST', '/v1/runs', { headers: { Origin: origin }, body: waitWorkflow('from-a-page') });
			assert.equal(r.status, 403, origin);
			assert.equal(r.json.error.code, 'forbidden-origin');
			assert.ok(!Object.keys(r.headers).some((h) => h.startsWith('access-control-')));
		}
		const preflight = await api.call('OPTIONS', '/v1/runs', { headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' } });
		assert.equal(preflight.status, 403);
		const plain = await api.call('OPTIONS', '/v1/runs');
		assert.equal(plain.status, 405);
		assert.ok(!Object.keys(plain.headers).some((h) => h.startsWith('access-control-')));
		assert.equal((await api.engine.runs()).length, 0, 'nothing ran');
	});

	it('413 for a body over the limit, declared by Content-Length, before reading it', async () => {
		const big = JSON.stringify({ name: 'big', instructions: [], pad: 'x'.repeat(70 * 1024) });
		const r = await api.call('POST', '/v1/runs', { raw: big });
		assert.equal(r.status, 413);
		assert.equal(r.json.error.code, 'payload-too-large');
		assert.equal(r.headers.connection, 'close');
	});

	it('413 for a streamed (chunked) body as soon as it passes the limit, and the connection is closed', async () => {
		const port = api.server.port;
		let sent = 0;
		let answered = false;
		const result = await new Promise<{ status: number; body: string; sentWhenAnswered: number; closed: boolean }>((resolve, reject) => {
			const req = request(
				{ host: '127.0.0.1', port, method: 'POST', path: '/v1/runs', headers: { Host: `127.0.0.1:${port}`, Authorization: `Bearer ${api.server.token}`, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' } },
				(res) => {
					answered = true;
					const at = sent;
					let body = '';
					res.on('data', (d) => (body += d));
					res.on('end', () => {
						// The server closes the connection: the socket ends, whatever the client still writes.
						const sock = req.socket;
						const done = () => resolve({ status: res.statusCode ?? 0, body, sentWhenAnswered: at, closed: true });
						if (!sock || sock.destroyed) done();
						else sock.once('close', done);
					});
				},
			);
			req.on('error', (err: NodeJS.ErrnoException) => {
				// Writing after the server closed may fail (EPIPE/ECONNRESET); the response was already read or will not come.
				if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
			});
			const chunk = Buffer.alloc(8 * 1024, 0x20);
			req.write('{"name": "stream", "instructions": [], "pad": "');
			// Like a slow uploader: a chunk at a time, until the answer comes (up to 10 MiB, far past the limit).
			const pump = async () => {
				while (!answered && sent < 10 * 1024 * 1024 && !req.destroyed) {
					sent += chunk.length;
					if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
					await new Promise((r) => setImmediate(r));
				}
			};
			void pump();
		});
		assert.equal(result.status, 413);
		assert.equal(JSON.parse(result.body).error.code, 'payload-too-large');
		assert.ok(result.sentWhenAnswered < 1024 * 1024, `answered only after ${result.sentWhenAnswered} bytes`);
		assert.ok(result.closed);
	});

	it('415 unless the body is application/json', async () => {
		for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1']) {
			const r = await api.call('POST', '/v1/runs', { raw: JSON.stringify(waitWorkflow('t')), headers: { 'Content-Type': type } });
			assert.equal(r.status, 415, type);
			assert.equal(r.json.error.code, 'unsupported-media-type');
			assert.match(r.json.error.message, /application\/json/);
		}
		assert.equal((await api.call('POST', '/v1/runs', { raw: JSON.stringify(waitWorkflow('t')), headers: { 'Content-Type': 'Application/JSON; charset=UTF-8', 'Idempotency-Key': 'ct' } })).status, 202);
	});

	it('400 for malformed JSON, with the line and column where the parser stopped', async () => {
		const r = await api.call('POST', '/v1/runs', { raw: '{\n  "name": "x",\n  "instructions": [,]\n}' });
		assert.equal(r.status, 400);
		assert.equal(r.json.error.code, 'malformed-json');
		assert.equal(r.json.error.line, 3);
		assert.equal(r.json.error.column, 20);
		assert.match(r.json.error.message, /line 3, column 20/);
		const empty = await api.call('POST', '/v1/decisions/x', { raw: '' });
		assert.equal(empty.status, 400);
		assert.match(empty.json.error.message, /empty/);
	});

	it('404 for an unknown route or id, 405 with Allow for a wrong method', async () => {
		const unknown = await api.call('GET', '/v2/runs');
		assert.equal(unknown.status, 404);
		assert.equal(unknown.json.error.code, 'not-found');
		assert.equal((await api.call('GET', '/v1/runs/no-such-run')).status, 404);
		assert.equal((await api.call('GET', '/v1/runs/..%2F..%2Fetc')).status, 404);
		assert.equal((await api.call('GET', '/v1/goals/goal-00000000')).status, 404);
		const wrong = await api.call('DELETE', '/v1/runs');
		assert.equal(wrong.status, 405);
		assert.equal(wrong.headers.allow, 'POST, GET');
		assert.equal(wrong.json.error.code, 'method-not-allowed');
		assert.equal((await api.call('GET', '/v1/checkpoints')).headers.allow, 'POST');
		assert.equal((await api.call('GET', '/v1/runs/%E0%A4%A')).status, 400, 'a malformed escape');
	});

	it('422 for a body of the wrong shape, each problem located', async () => {
		const r = await api.call('POST', '/v1/decisions/d1', { raw: '{\n  "approve": "yes",\n  "extra": 1\n}' });
		assert.equal(r.status, 422);
		assert.equal(r.json.error.code, 'invalid-request');
		const approve = r.json.error.problems.find((p: { path?: string }) => p.path === 'approve');
		assert.deepEqual([approve.line, approve.column], [2, 14]);
		assert.ok(r.json.error.problems.some((p: { message: string }) => /extra/.test(p.message)));
	});

	it('api.json holds { port, token }, owner-only (0600), and is removed on close', async () => {
		const other = await startTestApi();
		const file = join(other.engine.stateDir, 'api.json');
		assert.equal(other.server.apiFile, file);
		assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { port: other.server.port, token: other.server.token });
		if (process.platform !== 'win32') assert.equal(statSync(file).mode & 0o777, 0o600);
		const r = await httpCall(other.server.port, 'GET', '/v1/state', { token: JSON.parse(readFileSync(file, 'utf8')).token });
		assert.equal(r.status, 200, 'a client that reads api.json gets in');
		await other.close();
		assert.equal(existsSync(file), false);
		await assert.rejects(httpCall(other.server.port, 'GET', '/v1/state', { token: other.server.token }), /ECONNREFUSED/);
	});

	it('a token can be given (the extension keeps one in SecretStorage); a weak one is refused without echoing it', async () => {
		const token = 'given-token-from-secret-storage-0123456789';
		const given = await startTestApi({ token, port: 0 });
		assert.equal(given.server.token, token);
		assert.equal((await given.call('GET', '/v1/state')).status, 200);
		await given.close();
		await assert.rejects(startTestApi({ token: 'short' }), (err: Error) => /too short/.test(err.message) && !err.message.includes('short"'));
	});

	it('a port in use is said plainly', async () => {
		await assert.rejects(startTestApi({ port: api.server.port }), /port \d+ on 127\.0\.0\.1 is in use/);
	});
});
