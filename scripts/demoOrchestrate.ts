// `npm run demo:orchestrate`: a goal planned and carried out by agents, offline. A scripted OpenAI-protocol server on
// loopback plays the model; everything else is real — qo orchestrate, the plan file, the agents' journaled tool
// steps, npm test, the review — in a temporary copy of examples/orchestrate-demo/.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastUserText, startScriptedOpenAi, systemText, type ChatRequestBody, type ScriptedReply } from '../test/helpers/scriptedOpenAi';

const ROOT = join(__dirname, '..');
const GOAL = 'Add input validation to the signup handler and tests for it';

const BEFORE = '\treturn { ok: true, user: { email: body.email, name: body.name } };';
const AFTER = `\tconst email = typeof body?.email === 'string' ? body.email.trim() : '';
	if (!/^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$/.test(email)) return { ok: false, error: 'a valid email is required' };
	const name = typeof body.name === 'string' ? body.name.trim() : '';
	if (name.length === 0 || name.length > 100) return { ok: false, error: 'a name of 1 to 100 characters is required' };
	return { ok: true, user: { email, name } };`;

const TESTS = `const { test } = require('node:test');
const assert = require('node:assert/strict');
const { signup } = require('../src/signup.js');

test('accepts a valid signup and trims it', () => {
	assert.deepEqual(signup({ email: ' ada@example.org ', name: 'Ada ' }), { ok: true, user: { email: 'ada@example.org', name: 'Ada' } });
});

test('rejects a missing or malformed email', () => {
	assert.equal(signup({ name: 'Ada' }).ok, false);
	assert.equal(signup({ email: 'not-an-email', name: 'Ada' }).ok, false);
});

test('rejects an empty or overlong name', () => {
	assert.equal(signup({ email: 'ada@example.org', name: '' }).ok, false);
	assert.equal(signup({ email: 'ada@example.org', name: 'x'.repeat(101) }).ok, false);
});
`;

const PLAN = {
	name: 'Signup input validation',
	description: `Planned for: ${GOAL}`,
	instructions: [
		{
			id: 'implement',
			type: 'agent',
			operation: 'task',
			parameters: {
				prompt: 'Add input validation to signup in src/signup.js: a missing or malformed email, or a name that is empty or longer than 100 characters, is refused with { ok: false, error }.',
				capabilities: ['code'],
				files: ['src/signup.js'],
				success_criteria: ['invalid input returns { ok: false, error }', 'valid input still succeeds'],
			},
		},
		{
			id: 'tests',
			type: 'agent',
			operation: 'task',
			parameters: { prompt: 'Write node:test tests for the signup validation in test/signup.test.js and run them.', capabilities: ['test'], files: ['src/signup.js'] },
			dependencies: ['implement'],
		},
		{ id: 'check', type: 'quality', operation: 'test', parameters: {}, dependencies: ['tests'] },
		{ id: 'review', type: 'llm', operation: 'review', parameters: { path: 'src/signup.js' }, dependencies: ['check'] },
	],
};

/** The n-th turn of the agent working on the task whose first message starts with `task`. */
function turn(task: string, n: number): (body: ChatRequestBody) => boolean {
	return (body) => (body.messages.find((m) => m.role === 'user')?.content ?? '').startsWith(`Task: ${task}`) && body.messages.filter((m) => m.role === 'assistant').length === n - 1;
}

const SCRIPT: ScriptedReply[] = [
	{
		when: (b) => systemText(b).startsWith('You analyse a software goal'),
		json: {
			intent: 'modify',
			complexity: { level: 'medium', reasons: ['one handler changes, and tests are added for it'] },
			risks: [{ kind: 'other', description: 'stricter validation may refuse signups that used to pass' }],
			successCriteria: ['signup refuses a malformed email and an empty or overlong name', 'npm test passes with tests for both'],
		},
	},
	{ when: (b) => systemText(b).startsWith('You are the planner'), json: PLAN },
	{ when: turn('Add input validation', 1), toolCalls: [{ name: 'modify_file', arguments: { path: 'src/signup.js', find: BEFORE, replace: AFTER } }] },
	{ when: turn('Add input validation', 2), text: 'signup now refuses a malformed email and an empty or overlong name with { ok: false, error }; valid input is trimmed.' },
	{ when: turn('Write node:test tests', 1), toolCalls: [{ name: 'write_file', arguments: { path: 'test/signup.test.js', content: TESTS } }] },
	{ when: turn('Write node:test tests', 2), toolCalls: [{ name: 'run_command', arguments: { command: 'node --test' } }] },
	{ when: turn('Write node:test tests', 3), text: 'Added test/signup.test.js (3 tests: valid input, bad email, bad name); node --test passes.' },
	{
		when: (b) => systemText(b).startsWith('You are a careful senior code reviewer') && lastUserText(b).includes('src/signup.js'),
		json: {
			findings: [{ file: 'src/signup.js', line: 4, severity: 'info', message: 'The email pattern is deliberately loose; it accepts some addresses a mail server would refuse.', suggestion: 'Confirm the address by sending a verification mail.' }],
			summary: 'The validation is correct and covered by tests.',
		},
	},
];

async function main(): Promise<void> {
	const qo = join(ROOT, 'bin', 'qo.js');
	if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run npm run build (npm ci does it) first');
	const ws = realpathSync(mkdtempSync(join(tmpdir(), 'qo-demo-')));
	cpSync(join(ROOT, 'examples', 'orchestrate-demo'), ws, { recursive: true });
	const server = await startScriptedOpenAi(SCRIPT);
	console.log(`Demo workspace: ${ws} (a copy of examples/orchestrate-demo)`);
	console.log(`The model is a scripted OpenAI-protocol server at ${server.baseUrl}: no network, no API key.\n`);
	console.log(`$ qo orchestrate "${GOAL}" --yes\n`);
	const env = { ...process.env, QO_LLM_BASE_URL: server.baseUrl, QO_LLM_MODEL: 'gpt-4o-mini', OPENAI_API_KEY: 'demo-key-not-secret' };
	const code = await new Promise<number | null>((resolve) => {
		// Asynchronously: this process must keep answering the child's requests.
		const child = spawn(process.execPath, [qo, 'orchestrate', GOAL, '--yes'], { cwd: ws, env, stdio: 'inherit' });
		child.on('close', resolve);
	});
	await server.close();
	console.log(`\nThe workspace is still there: cd ${ws}`);
	console.log('  qo log         what the run did, step by step (the agents\' tool calls are steps too)');
	console.log('  qo rollback    undo every change, byte for byte');
	process.exitCode = code ?? 1;
}

main().catch((err: unknown) => {
	console.error(err instanceof Error ? err.message : String(err));
	process.exitCode = 1;
});
