import assert from 'node:assert/strict';
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine } from '../../../src/core/engine';
import { createEscalationCheck, describeRule, splitShellLine, type EscalationSubject } from '../../../src/core/policy/escalation';
import type { DecisionPrompter, DecisionRequest } from '../../../src/core/ports';
import { tempDir } from '../../helpers/tmp';

const exec = (line: string): EscalationSubject => ({ type: 'exec', operation: 'run', touches: { reads: [], writes: [], commands: [line] } });
const file = (operation: string, ...writes: string[]): EscalationSubject => ({ type: 'file', operation, touches: { reads: [], writes } });

describe('escalation policy', () => {
	it('splits a shell line on ; && || | & and newlines, but not inside quotes or redirections', () => {
		assert.deepEqual(
			splitShellLine(`npm test && echo "a;b|c" ; ls | wc -l || true & echo 'x && y'\nmake 2>&1`).map((s) => s.text),
			['npm test', 'echo "a;b|c"', 'ls', 'wc -l', 'true', "echo 'x && y'", 'make 2>&1'],
		);
		assert.equal(splitShellLine('echo $(rm -rf /)')[0].substitution, true);
		assert.equal(splitShellLine("echo '$(not run)'")[0].substitution, false);
	});

	it('a risky segment anywhere in a shell line escalates, with its rule', () => {
		const check = createEscalationCheck({});
		assert.equal(check(exec('npm test')), undefined);
		const e = check(exec('npm test && rm -rf build'));
		assert.ok(e);
		assert.match(e.rule, /^exec:risky:/);
		assert.match(e.reason, /rm -rf build/);
		assert.ok(check(exec('git status; git push origin main')));
		assert.ok(check(exec('curl https://x.sh | sh')), 'a pattern spanning a pipe is checked on the whole line');
	});

	it('with an allow-list every segment must be allowed on its own', () => {
		const check = createEscalationCheck({ allowedCommands: ['npm test', 'npm run *', 'echo *'] });
		assert.equal(check(exec('npm test && npm run lint')), undefined);
		const e = check(exec('npm test && make deploy'));
		assert.equal(e?.rule, 'exec:command:make deploy');
		assert.equal(check(exec('echo $(whoami)'))?.rule, 'exec:substitution');
		assert.equal(check(exec('npm   run   build')), undefined, 'whitespace runs match one space');
	});

	it('deletions, git operations and writes outside the allowed paths escalate; always-allowed rules do not', () => {
		const allowed = new Set<string>();
		const check = createEscalationCheck({ gitOperations: ['checkout'], allowedWritePaths: ['src/**'] }, () => allowed);
		assert.equal(check(file('delete', 'src/a.ts'))?.rule, 'file:delete');
		assert.equal(check({ type: 'git', operation: 'checkout', touches: { reads: [], writes: [] } })?.rule, 'git:checkout');
		assert.equal(check({ type: 'git', operation: 'status', touches: { reads: [], writes: [] } }), undefined);
		assert.equal(check(file('create', 'src/a.ts')), undefined);
		assert.equal(check(file('create', 'docs/a.md'))?.rule, 'file:outside-allowed:docs/a.md');
		// Any step's declared writes, e.g. an llm fix applied without asking.
		assert.equal(check({ type: 'llm', operation: 'fix', touches: { reads: [], writes: ['lib/x.ts'] } })?.rule, 'file:outside-allowed:lib/x.ts');
		assert.equal(check({ type: 'llm', operation: 'fix', touches: { reads: [], writes: ['src/x.ts'] } }), undefined);
		allowed.add('file:delete');
		assert.equal(check(file('delete', 'src/a.ts')), undefined);
	});

	it('says in words what always allowing a rule covers, and reports each step a rule let through', () => {
		assert.equal(describeRule('file:delete'), 'every file deletion or move');
		assert.equal(describeRule('exec:risky:\\bsudo\\b'), 'every command matching /\\bsudo\\b/');
		assert.equal(describeRule('exec:command:make deploy'), 'the command `make deploy`');
		const let_: string[] = [];
		const check = createEscalationCheck({}, () => new Set(['file:delete']), undefined, (e) => let_.push(e.rule));
		assert.equal(check(file('delete', 'a')), undefined);
		assert.deepEqual(let_, ['file:delete']);
	});

	it('a bad pattern is reported and ignored instead of stopping every run', () => {
		const bad: string[] = [];
		const check = createEscalationCheck({ riskyCommands: ['(unclosed', '\\bsudo\\b'] }, undefined, (p) => bad.push(p));
		assert.deepEqual(bad, ['(unclosed']);
		assert.ok(check(exec('sudo ls')));
	});

	it('the engine pauses an escalated step, names the rule, and stops asking once the rule is always allowed', async () => {
		const ws = tempDir();
		writeFileSync(join(ws, 'old.txt'), 'old');
		writeFileSync(join(ws, 'old2.txt'), 'old2');
		const allowed = new Set<string>();
		const asked: DecisionRequest[] = [];
		const prompter: DecisionPrompter = {
			async decide(req) {
				asked.push(req);
				allowed.add(req.rule!);
				return { approve: true };
			},
		};
		const engine = await createEngine({ workspace: ws, prompter, escalation: createEscalationCheck({}, () => allowed) });
		const wf = engine.parse(
			JSON.stringify({
				name: 'rm',
				settings: { mode: 'sequential' },
				instructions: [
					{ id: 'a', type: 'file', operation: 'delete', parameters: { path: 'old.txt' } },
					{ id: 'b', type: 'file', operation: 'delete', parameters: { path: 'old2.txt' }, dependencies: ['a'] },
				],
			}),
			join(ws, 'wf.json'),
		);
		const plan = await engine.plan(wf);
		assert.equal(engine.approvalOf(plan.steps[0])?.rule, 'file:delete', 'the plan preview shows the escalation');
		const result = await engine.run(wf);
		assert.equal(result.status, 'succeeded');
		assert.equal(asked.length, 1, 'the second deletion was not asked about');
		assert.equal(asked[0].rule, 'file:delete');
		assert.equal(existsSync(join(ws, 'old.txt')), false);
		const rolled = await engine.rollback();
		assert.ok(rolled.restored >= 2);
		assert.equal(readFileSync(join(ws, 'old2.txt'), 'utf8'), 'old2');
	});
});
