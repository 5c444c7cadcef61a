import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createEngine, type Engine, type EngineOptions } from '../../../src/core/engine';
import type { EngineEvent } from '../../../src/core/engine/events';
import { createEscalationCheck } from '../../../src/core/policy/escalation';
import type { DecisionPrompter, DecisionRequest } from '../../../src/core/ports';
import { createOpenAiClient } from '../../../src/core/services/llm/client';
import { readJournal } from '../../../src/core/state/journal';
import { runPaths } from '../../../src/core/state/runStore';
import { lastUserText, startScriptedOpenAi, type ScriptedOpenAi, type ScriptedReply } from '../../helpers/scriptedOpenAi';
import { tempDir } from '../../helpers/tmp';

const ROLE_MODELS = { reviewer: 'review-model', coder: 'code-model', writer: 'write-model', chat: 'chat-model' };

function write(ws: string, rel: string, content: string | Buffer): void {
	mkdirSync(dirname(join(ws, rel)), { recursive: true });
	writeFileSync(join(ws, rel), content);
}

function gitIn(ws: string, ...args: string[]): string {
	return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false', ...args], { cwd: ws, encoding: 'utf8' });
}

/** The output a succeeded step left in the journal. */
async function stepOutput(engine: Engine, runId: string, id: string): Promise<unknown> {
	const { records } = await readJournal(runPaths(engine.stateDir, runId).journal);
	const end = records.find((r) => r.t === 'step-end' && r.id === id && r.status === 'succeeded');
	assert.ok(end && end.t === 'step-end', `step ${id} succeeded`);
	return end.output;
}

describe('llm review, document, fix and chat (real openai client against a scripted OpenAI-protocol server on loopback)', function () {
	this.timeout(60_000);
	const servers: ScriptedOpenAi[] = [];
	afterEach(async () => {
		await Promise.all(servers.splice(0).map((s) => s.close()));
	});

	async function setup(script: ScriptedReply[], opts: Partial<EngineOptions> = {}) {
		const server = await startScriptedOpenAi(script);
		servers.push(server);
		const ws = opts.workspace ?? tempDir();
		const llm = createOpenAiClient({ baseUrl: server.baseUrl, model: 'default-model', roleModels: ROLE_MODELS, maxRetries: 2 });
		const engine = await createEngine({ llm, ...opts, workspace: ws });
		const events: EngineEvent[] = [];
		engine.events.on((e) => events.push(e));
		const run = (id: string, operation: string, parameters: Record<string, unknown>) =>
			engine.run(engine.parse(JSON.stringify({ name: 'llm', instructions: [{ id, type: 'llm', operation, parameters }] }), join(ws, 'wf.json')));
		const usage = () => events.filter((e) => e.type === 'usage');
		return { ws, engine, events, run, usage, server };
	}

	describe('review', () => {
		const source = 'export function signup(name) {\n\tdb.insert(name);\n\treturn true;\n}\n';

		it('a finding on a line the file does not have is sent back; the corrected findings are the output and the report', async () => {
			const { ws, engine, run, usage, server } = await setup([
				{ json: { findings: [{ file: 'src/signup.js', line: 40, severity: 'error', message: 'SQL injection' }], summary: 'risky' } },
				{
					json: {
						findings: [
							{ file: './src/signup.js', line: 2, severity: 'error', message: 'The name goes to the database unchecked.', suggestion: 'Validate it first.' },
							{ file: 'src/signup.js', line: null, severity: 'info', message: 'No tests.' },
						],
						summary: 'One real problem.',
					},
				},
			]);
			write(ws, 'src/signup.js', source);
			const result = await run('rev', 'review', { path: 'src/signup.js', output_path: 'reports/review.md', instructions: 'security first' });
			assert.equal(result.status, 'succeeded', result.message);
			assert.equal(server.requests.length, 2);
			assert.equal(server.requests[0].model, 'review-model', 'the reviewer role model');
			assert.match(lastUserText(server.requests[0]), /1\| export function signup\(name\) \{/);
			assert.match(lastUserText(server.requests[0]), /Instructions: security first/);
			assert.match(lastUserText(server.requests[1]), /src\/signup\.js has 4 lines, so there is no line 40/);
			assert.deepEqual(await stepOutput(engine, result.runId, 'rev'), {
				findings: [
					{ file: 'src/signup.js', line: 2, severity: 'error', message: 'The name goes to the database unchecked.', source: 'llm-review', suggestion: 'Validate it first.' },
					{ file: 'src/signup.js', line: 0, severity: 'info', message: 'No tests.', source: 'llm-review' },
				],
				summary: 'One real problem.',
				counts: { error: 1, warning: 0, info: 1 },
			});
			assert.equal(usage().length, 2, 'both answers, the invalid one too, are counted');
			const report = readFileSync(join(ws, 'reports/review.md'), 'utf8');
			assert.match(report, /^# Review of src\/signup\.js\n\nOne real problem\.\n\n\*\*1 error, 0 warnings, 1 info\*\*/);
			assert.match(report, /- \*\*error\*\* \(line 2\): The name goes to the database unchecked\.\n {2}- Suggestion: Validate it first\./);
			await engine.rollback(result.runId);
			assert.equal(existsSync(join(ws, 'reports/review.md')), false);
		});

		it('severity_gate fails the step naming the findings, after writing the report', async () => {
			const { ws, run } = await setup([
				{ json: { findings: [{ file: 'src/signup.js', line: 2, severity: 'warning', message: 'Unchecked input.' }], summary: 'meh' } },
				{ json: { findings: [{ file: 'src/signup.js', line: 2, severity: 'warning', message: 'Unchecked input.' }], summary: 'meh' } },
			]);
			write(ws, 'src/signup.js', source);
			const passes = await run('rev', 'review', { path: 'src/signup.js', severity_gate: 'error' });
			assert.equal(passes.status, 'succeeded', 'a warning does not trip an error gate');
			const fails = await run('rev', 'review', { paths: ['src/signup.js'], severity_gate: 'warning', output_path: 'review.md' });
			assert.equal(fails.status, 'failed');
			assert.match(fails.message ?? '', /the review found 0 errors, 1 warning, 0 info \(severity_gate warning\): src\/signup\.js:2 Unchecked input\. — report in review\.md/);
			assert.ok(existsSync(join(ws, 'review.md')));
		});

		it('reviews the real git diff of a repository: names only changed files, and an empty diff asks nothing', async () => {
			const ws = tempDir();
			gitIn(ws, 'init', '-q');
			write(ws, 'src/a.js', 'const a = 1;\nconst b = 2;\nmodule.exports = { a, b };\n');
			write(ws, 'src/other.js', 'module.exports = 3;\n');
			gitIn(ws, 'add', '.');
			gitIn(ws, 'commit', '-q', '-m', 'start');
			write(ws, 'src/a.js', 'const a = 1;\nconst b = eval(process.argv[2]);\nmodule.exports = { a, b };\n');
			const { engine, run, server } = await setup(
				[
					{ json: { findings: [{ file: 'src/other.js', line: 1, severity: 'info', message: 'fine' }], summary: 'x' } },
					{ json: { findings: [{ file: 'src/a.js', line: 2, severity: 'error', message: 'eval of user input' }], summary: 'Do not eval.' } },
				],
				{ workspace: ws },
			);
			const result = await run('rev', 'review', { git_diff: true });
			assert.equal(result.status, 'succeeded', result.message);
			const asked = lastUserText(server.requests[0]);
			assert.match(asked, /a unified diff of src\/a\.js/);
			assert.match(asked, /\+const b = eval\(process\.argv\[2\]\);/);
			assert.match(asked, /-const b = 2;/);
			assert.match(lastUserText(server.requests[1]), /"src\/other\.js" was not reviewed \(the files are: src\/a\.js\)/);
			const out = (await stepOutput(engine, result.runId, 'rev')) as { findings: { file: string; line: number }[] };
			assert.deepEqual(
				out.findings.map((f) => [f.file, f.line]),
				[['src/a.js', 2]],
			);
			// Nothing staged: nothing to ask the model about.
			const staged = await run('rev2', 'review', { git_diff: 'staged' });
			assert.equal(staged.status, 'succeeded', staged.message);
			assert.equal(server.requests.length, 2);
			assert.match(((await stepOutput(engine, staged.runId, 'rev2')) as { summary: string }).summary, /Nothing to review: the staged changes is empty/);
		});

		it('a 429 is retried after its Retry-After; a 400 fails at once with the status', async () => {
			const { ws, run, server } = await setup([
				{ status: 429, retryAfter: '0' },
				{ json: { findings: [], summary: 'clean' } },
				{ status: 400 },
			]);
			write(ws, 'src/signup.js', source);
			const ok = await run('rev', 'review', { path: 'src/signup.js' });
			assert.equal(ok.status, 'succeeded', ok.message);
			assert.equal(server.requests.length, 2);
			const bad = await run('rev', 'review', { path: 'src/signup.js' });
			assert.equal(bad.status, 'failed');
			assert.match(bad.message ?? '', /the LLM request failed \(HTTP 400\)/);
			assert.equal(server.requests.length, 3, 'a 400 is not retried');
		});

		it('refuses input over max_bytes and a binary file before asking the model', async () => {
			const { ws, run, server } = await setup([]);
			write(ws, 'big.js', 'x'.repeat(2000));
			write(ws, 'bin.js', Buffer.from([1, 0, 2]));
			const big = await run('rev', 'review', { path: 'big.js', max_bytes: 1000 });
			assert.equal(big.status, 'failed');
			assert.match(big.message ?? '', /big\.js is 2000 bytes, more than max_bytes \(1000\)/);
			const bin = await run('rev', 'review', { path: 'bin.js' });
			assert.match(bin.message ?? '', /bin\.js is binary/);
			assert.equal(server.requests.length, 0);
		});
	});

	describe('document', () => {
		const source = 'export function add(a: number, b: number): number {\n\treturn a + b;\n}\n';
		const documented = '/**\n * Adds two numbers.\n * @returns their sum\n */\nexport function add(a: number, b: number): number {\n\treturn a + b; // the sum\n}\n';

		it('comments mode sends back an answer that changed code, writes the one that only added comments, and rollback restores the file', async () => {
			const changedCode = documented.replace('a + b;', 'b + a;');
			const { ws, engine, run, server, usage } = await setup([{ json: { content: changedCode } }, { json: { content: documented } }]);
			write(ws, 'src/add.ts', source);
			const result = await run('doc', 'document', { path: 'src/add.ts', mode: 'comments' });
			assert.equal(result.status, 'succeeded', result.message);
			assert.equal(server.requests[0].model, 'write-model');
			assert.match(lastUserText(server.requests[1]), /the code changed at line 6 of your file: the original has `a` \(line 2 of the original\) where yours has `b`; only add comments/);
			assert.equal(readFileSync(join(ws, 'src/add.ts'), 'utf8'), documented);
			assert.deepEqual(await stepOutput(engine, result.runId, 'doc'), {
				path: 'src/add.ts',
				mode: 'comments',
				output_path: 'src/add.ts',
				changed: true,
				bytes: Buffer.byteLength(documented),
			});
			assert.equal(usage().length, 2);
			await engine.rollback(result.runId);
			assert.equal(readFileSync(join(ws, 'src/add.ts'), 'utf8'), source);
		});

		it('comments mode fails clearly when every answer changes code, and leaves the file alone', async () => {
			const renamed = documented.replace(/\badd\b/, 'sum');
			const { ws, run, server } = await setup([{ json: { content: renamed } }, { text: 'Sure! Here it is.' }, { json: { content: renamed } }]);
			write(ws, 'src/add.ts', source);
			const result = await run('doc', 'document', { path: 'src/add.ts', mode: 'comments' });
			assert.equal(result.status, 'failed');
			assert.match(result.message ?? '', /the model gave no valid documented file in 3 tries; the last one: the code changed at line 5 of your file: the original has `add`/);
			assert.match(lastUserText(server.requests[2]), /not JSON/);
			assert.equal(readFileSync(join(ws, 'src/add.ts'), 'utf8'), source);
		});

		it('markdown mode writes docs/<name>.md (fence removed); comments mode refuses a file type it cannot check', async () => {
			const { ws, engine, run, server } = await setup([{ text: '```markdown\n# add\n\nAdds two numbers.\n```' }]);
			write(ws, 'src/add.ts', source);
			write(ws, 'notes.txt', 'hello\n');
			const result = await run('doc', 'document', { path: 'src/add.ts' });
			assert.equal(result.status, 'succeeded', result.message);
			assert.equal(readFileSync(join(ws, 'docs/add.md'), 'utf8'), '# add\n\nAdds two numbers.\n');
			assert.equal(((await stepOutput(engine, result.runId, 'doc')) as { output_path: string }).output_path, 'docs/add.md');
			const refused = await run('doc', 'document', { path: 'notes.txt', mode: 'comments' });
			assert.equal(refused.status, 'failed');
			assert.match(refused.message ?? '', /comments mode cannot check that only comments were added to notes\.txt: it knows the comment syntax of .*\.ts.*; use mode markdown/);
			const big = await run('doc', 'document', { path: 'src/add.ts', max_bytes: 10 });
			assert.match(big.message ?? '', /src\/add\.ts is \d+ bytes, more than max_bytes \(10\)/);
			assert.equal(server.requests.length, 1);
		});
	});

	describe('fix', () => {
		// CRLF and no final newline: rollback must bring back these exact bytes.
		const math = Buffer.from('export function add(a, b) {\r\n\treturn a - b;\r\n}', 'utf8');
		const error = 'AssertionError: add(2, 2) returned 0, expected 4\n    at test/math.test.js:3:8';
		const answer = {
			explanation: 'add subtracts instead of adding.',
			edits: [
				{ path: 'src/math.js', find: 'a - b', replace: 'a + b' },
				{ path: 'src/math.test.js', content: "import { add } from './math.js';\nassert.equal(add(2, 2), 4);\n" },
			],
		};

		it('proposes the edits as a diff; once approved writes them through the journal, and rollback restores every byte', async () => {
			const asked: DecisionRequest[] = [];
			const prompter: DecisionPrompter = {
				async decide(request) {
					asked.push(request);
					return { approve: true };
				},
			};
			const { ws, engine, run, server, usage } = await setup([{ json: answer }], { prompter });
			write(ws, 'src/math.js', math);
			const result = await run('fix', 'fix', { error, files: ['src/math.js', 'src/math.test.js'] });
			assert.equal(result.status, 'succeeded', result.message);
			assert.equal(server.requests[0].model, 'code-model');
			const prompt = lastUserText(server.requests[0]);
			assert.match(prompt, /AssertionError: add\(2, 2\) returned 0/);
			assert.match(prompt, /=== src\/math\.js ===\nexport function add/);
			assert.match(prompt, /=== src\/math\.test\.js \(does not exist yet\) ===/);
			assert.equal(asked.length, 1);
			const proposal = asked[0];
			assert.equal(proposal.kind, 'proposal');
			assert.equal(proposal.stepId, 'fix');
			assert.match(proposal.reason, /^llm fix for AssertionError: add\(2, 2\) returned 0/);
			assert.deepEqual(proposal.changes, [
				{ path: 'src/math.js', before: math.toString('utf8'), after: 'export function add(a, b) {\r\n\treturn a + b;\r\n}' },
				{ path: 'src/math.test.js', before: null, after: answer.edits[1].content },
			]);
			assert.match(proposal.details ?? '', /^add subtracts instead of adding\.\n\n--- a\/src\/math\.js\n\+\+\+ b\/src\/math\.js\n@@ -1,3 \+1,3 @@\n export function add\(a, b\) \{\r\n-\treturn a - b;\r\n\+\treturn a \+ b;\r\n \}\n\\ No newline at end of file\n--- \/dev\/null\n\+\+\+ b\/src\/math\.test\.js\n@@ -0,0 \+1,2 @@\n/);
			assert.equal(readFileSync(join(ws, 'src/math.js'), 'utf8'), 'export function add(a, b) {\r\n\treturn a + b;\r\n}');
			assert.equal(readFileSync(join(ws, 'src/math.test.js'), 'utf8'), answer.edits[1].content);
			const out = (await stepOutput(engine, result.runId, 'fix')) as { applied: boolean; explanation: string; files: string[] };
			assert.equal(out.applied, true);
			assert.equal(out.explanation, answer.explanation);
			assert.deepEqual(out.files, ['src/math.js', 'src/math.test.js']);
			assert.equal(usage().length, 1);
			const rolled = await engine.rollback(result.runId);
			assert.deepEqual(rolled.conflicts ?? [], []);
			assert.ok(readFileSync(join(ws, 'src/math.js')).equals(math), 'byte for byte');
			assert.equal(existsSync(join(ws, 'src/math.test.js')), false);
		});

		it('a rejected proposal writes nothing and the step fails as rejected', async () => {
			const prompter: DecisionPrompter = { decide: async () => ({ approve: false, reason: 'not like that' }) };
			const { ws, run } = await setup([{ json: answer }], { prompter });
			write(ws, 'src/math.js', math);
			const result = await run('fix', 'fix', { error, files: ['src/math.js', 'src/math.test.js'] });
			assert.equal(result.status, 'rejected');
			assert.match(result.message ?? '', /fix: rejected by user: not like that/);
			assert.ok(readFileSync(join(ws, 'src/math.js')).equals(math));
			assert.equal(existsSync(join(ws, 'src/math.test.js')), false);
		});

		it('a file changed while the proposal waited is not overwritten: nothing is written', async () => {
			let ws = '';
			const prompter: DecisionPrompter = {
				async decide() {
					writeFileSync(join(ws, 'src/math.js'), 'edited by hand\n');
					return { approve: true };
				},
			};
			const s = await setup([{ json: answer }], { prompter });
			ws = s.ws;
			write(ws, 'src/math.js', math);
			const result = await s.run('fix', 'fix', { error, files: ['src/math.js', 'src/math.test.js'] });
			assert.equal(result.status, 'failed');
			assert.match(result.message ?? '', /src\/math\.js changed while the fix was being worked out or approved; nothing was written/);
			assert.equal(readFileSync(join(ws, 'src/math.js'), 'utf8'), 'edited by hand\n');
			assert.equal(existsSync(join(ws, 'src/math.test.js')), false);
		});

		it('invalid answers are sent back with the problem, then the step fails clearly without asking anyone', async () => {
			const asked: DecisionRequest[] = [];
			const prompter: DecisionPrompter = { decide: async (r) => (asked.push(r), { approve: true }) };
			const { ws, run, server } = await setup(
				[
					{ text: 'The fix is to add instead of subtract.' },
					{ json: { explanation: 'x', edits: [{ path: 'src/math.js', find: 'a', replace: 'c' }] } },
					{ json: { explanation: 'x', edits: [{ path: 'src/other.js', find: 'a - b', replace: 'a + b' }] } },
				],
				{ prompter },
			);
			write(ws, 'src/math.js', math);
			const result = await run('fix', 'fix', { error: { exit_code: 1, stderr: 'add(2, 2) returned 0' }, files: ['src/math.js'] });
			assert.equal(result.status, 'failed');
			assert.match(result.message ?? '', /the model gave no valid fix in 3 tries; the last one: edits\[0\]\.path: "src\/other\.js" is not one of the files you may change \(src\/math\.js\)/);
			assert.match(lastUserText(server.requests[0]), /"stderr": "add\(2, 2\) returned 0"/, 'a non-text error is sent as JSON');
			assert.match(lastUserText(server.requests[1]), /That fix is invalid: not JSON/);
			assert.match(lastUserText(server.requests[2]), /edits\[0\]\.find occurs more than once in src\/math\.js/);
			assert.equal(asked.length, 0);
			assert.ok(readFileSync(join(ws, 'src/math.js')).equals(math));
		});

		it('auto_apply writes without a proposal, but the escalation policy still asks about files outside the allowed paths', async () => {
			// The default prompter rejects everything: any question would fail the run.
			const { ws, run, server } = await setup([{ json: answer }]);
			write(ws, 'src/math.js', math);
			const applied = await run('fix', 'fix', { error, files: ['src/math.js', 'src/math.test.js'], auto_apply: true });
			assert.equal(applied.status, 'succeeded', applied.message);
			assert.equal(readFileSync(join(ws, 'src/math.js'), 'utf8'), 'export function add(a, b) {\r\n\treturn a + b;\r\n}');

			const asked: DecisionRequest[] = [];
			const policed = await setup([], {
				workspace: ws,
				escalation: createEscalationCheck({ allowedWritePaths: ['docs/**'] }),
				prompter: { decide: async (r) => (asked.push(r), { approve: false }) },
			});
			const refused = await policed.run('fix', 'fix', { error, files: ['src/math.js'], auto_apply: true });
			assert.equal(refused.status, 'rejected');
			assert.equal(asked[0].kind, 'approval');
			assert.equal(asked[0].rule, 'file:outside-allowed:src/math.js');
			assert.equal(policed.server.requests.length + server.requests.length, 1, 'the refused step never asked the model');
		});

		it('files the fix could never write are refused before the model is asked', async () => {
			const { run, server } = await setup([]);
			const result = await run('fix', 'fix', { error, files: ['.git/config'] });
			assert.equal(result.status, 'failed');
			assert.match(result.message ?? '', /\.git/);
			assert.equal(server.requests.length, 0);
		});
	});

	describe('chat', () => {
		it('sends the conversation as given, with the system message first, and the reply is the output', async () => {
			const { ws, engine, run, server } = await setup([{ text: 'Use a zod schema at the handler boundary.' }]);
			const messages = [
				{ role: 'user', content: 'How do I validate signup input?' },
				{ role: 'assistant', content: 'Where does the input arrive?' },
				{ role: 'user', content: 'In an Express handler.' },
			];
			const result = await run('talk', 'chat', { messages, system: 'Be brief.', output_path: 'answers/chat.md' });
			assert.equal(result.status, 'succeeded', result.message);
			assert.equal(server.requests[0].model, 'chat-model');
			assert.deepEqual(server.requests[0].messages, [{ role: 'system', content: 'Be brief.' }, ...messages]);
			assert.equal(await stepOutput(engine, result.runId, 'talk'), 'Use a zod schema at the handler boundary.');
			assert.equal(readFileSync(join(ws, 'answers/chat.md'), 'utf8'), 'Use a zod schema at the handler boundary.');
		});

		it('cancelling the run stops a model call that is still streaming', async () => {
			const { ws, engine, server } = await setup([{ text: 'late', delayMs: 4_000 }]);
			const controller = new AbortController();
			const wf = engine.parse(
				JSON.stringify({ name: 'c', instructions: [{ id: 'talk', type: 'llm', operation: 'chat', parameters: { messages: [{ role: 'user', content: 'hi' }] } }] }),
				join(ws, 'wf.json'),
			);
			const started = Date.now();
			setTimeout(() => controller.abort(), 200);
			const result = await engine.run(wf, { signal: controller.signal });
			assert.equal(result.status, 'cancelled');
			assert.ok(Date.now() - started < 3_000, 'it did not wait for the answer');
			assert.equal(server.requests.length, 1);
		});
	});
});
