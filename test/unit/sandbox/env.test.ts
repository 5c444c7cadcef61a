import assert from 'node:assert/strict';
import { DEFAULT_SECRET_PATTERNS, scrubEnv } from '../../../src/core/sandbox/env';

describe('environment scrubbing', () => {
	const env: NodeJS.ProcessEnv = {
		PATH: '/usr/bin',
		HOME: '/home/u',
		LANG: 'C.UTF-8',
		PWD: '/w',
		OLDPWD: '/',
		SHELL: '/bin/sh',
		OPENAI_API_KEY: 'sk-1',
		AWS_SECRET_ACCESS_KEY: 'x',
		AWS_SESSION_TOKEN: 'x',
		GITHUB_TOKEN: 'ghp',
		npm_config__auth: 'x',
		PGPASSWORD: 'x',
		MYSQL_PWD: 'x',
		DB_PASS: 'x',
		GOOGLE_APPLICATION_CREDENTIALS: '/k.json',
		SSH_PRIVATE_KEY: 'x',
		SSH_AUTH_SOCK: '/tmp/agent',
		session_cookie: 'x',
		GIT_AUTHOR_NAME: 'Ann',
		GIT_AUTHOR_EMAIL: 'ann@example.com',
		DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/bus',
		UNDEFINED_ONE: undefined,
	};

	it('removes secret-looking names and keeps ordinary ones', () => {
		const { env: out, removed } = scrubEnv(env);
		assert.deepEqual(Object.keys(out).sort(), [
			'DBUS_SESSION_BUS_ADDRESS',
			'GIT_AUTHOR_EMAIL',
			'GIT_AUTHOR_NAME',
			'HOME',
			'LANG',
			'OLDPWD',
			'PATH',
			'PWD',
			'SHELL',
		]);
		assert.deepEqual(removed, [
			'AWS_SECRET_ACCESS_KEY',
			'AWS_SESSION_TOKEN',
			'DB_PASS',
			'GITHUB_TOKEN',
			'GOOGLE_APPLICATION_CREDENTIALS',
			'MYSQL_PWD',
			'OPENAI_API_KEY',
			'PGPASSWORD',
			'SSH_AUTH_SOCK',
			'SSH_PRIVATE_KEY',
			'npm_config__auth',
			'session_cookie',
		]);
	});

	it('matches case-insensitively', () => {
		assert.deepEqual(scrubEnv({ my_token: 'x', Api_Key: 'y' }).removed, ['Api_Key', 'my_token']);
	});

	it('keeps names the step allows, compared case-insensitively', () => {
		const { env: out, removed } = scrubEnv(env, { allow: ['GITHUB_TOKEN', 'openai_api_key'] });
		assert.equal(out.GITHUB_TOKEN, 'ghp');
		assert.equal(out.OPENAI_API_KEY, 'sk-1');
		assert.ok(!removed.includes('GITHUB_TOKEN'));
	});

	it('uses configured patterns instead of the defaults', () => {
		const { env: out, removed } = scrubEnv({ GITHUB_TOKEN: 'x', INTERNAL_URL: 'y' }, { patterns: ['^INTERNAL_'] });
		assert.deepEqual(removed, ['INTERNAL_URL']);
		assert.equal(out.GITHUB_TOKEN, 'x');
		assert.deepEqual(scrubEnv({ A_TOKEN: 'x' }, { patterns: [] }).removed, []);
	});

	it('returns a new object and leaves the input untouched', () => {
		const input = { PATH: '/bin', MY_SECRET: 's' };
		const { env: out } = scrubEnv(input);
		assert.notEqual(out, input);
		assert.equal(input.MY_SECRET, 's');
	});

	it('drops undefined values', () => {
		assert.ok(!('UNDEFINED_ONE' in scrubEnv(env).env));
	});

	it('refuses an invalid pattern with a message naming it', () => {
		assert.throws(() => scrubEnv({}, { patterns: ['(unclosed'] }), /invalid secret pattern "\(unclosed"/);
	});

	it('has the documented default patterns', () => {
		for (const p of ['KEY', 'SECRET', 'TOKEN', 'PASSWORD', 'PASSWD', 'CREDENTIAL', 'AUTH', 'PRIVATE', 'SESSION']) {
			assert.ok(DEFAULT_SECRET_PATTERNS.includes(p), p);
		}
	});
});
