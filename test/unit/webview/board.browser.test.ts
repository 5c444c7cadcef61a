// The board in a real Chromium: the built bundle, the extension's HTML and CSP, a 3,000-step run and a patch stream.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { HostToWebview, WebviewToHost } from '../../../src/protocol/messages';
import { applyBoardPatch, indexSteps } from '../../../src/protocol/applyPatch';
import type { BoardSnapshot } from '../../../src/protocol/viewModels';
import { BIG_RUN, bigSnapshot, churnPatch, LEVELS, OLD_RUN, PER_LEVEL, progressPatch, stepId } from './boardFixture';
import { CHROMIUM, CHROMIUM_ARGS, ensureBundle, serveBoard, type BoardServer } from './browserHarness';

const TOTAL = LEVELS * PER_LEVEL;
const resultsDir = resolve(__dirname, '../../../test-results');

/** What the page exposes in a plain browser (see webview-ui/src/host.ts and main.ts); page.evaluate callbacks cast to it inline, as they run in the page. */
interface BoardWindow {
	__qoSent: WebviewToHost[];
	__qoTest: { receive(data: unknown): void; flush(budgetMs?: number): void };
	__qoCsp: string[];
	postMessage(message: unknown, targetOrigin: string): void;
	document: { body: { offsetHeight: number }; querySelectorAll(selector: string): { length: number } };
	requestAnimationFrame(callback: () => void): number;
}

describe('board webview in Chromium', function () {
	this.timeout(120_000);
	let browser: Browser | undefined;
	let server: BoardServer | undefined;
	let page: Page;
	let model: BoardSnapshot;
	const problems: string[] = [];

	before(async function () {
		if (!existsSync(CHROMIUM)) {
			if (process.env.QO_E2E_REQUIRED === '1') throw new Error(`${CHROMIUM} is missing and QO_E2E_REQUIRED=1`);
			console.log(`      (skipped: ${CHROMIUM} not found; install Debian's chromium or set QO_E2E_REQUIRED=1 to fail instead)`);
			this.skip();
		}
		ensureBundle();
		server = await serveBoard();
		browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
	});

	after(async () => {
		await browser?.close();
		await server?.close();
	});

	/** A fresh page with the big snapshot drawn; every test starts here. */
	async function openBoard(width = 460, height = 1300): Promise<void> {
		problems.length = 0;
		page = await browser!.newPage({ viewport: { width, height }, colorScheme: 'dark' });
		page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
		page.on('console', (msg) => {
			if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
		});
		// Runs before the page's own scripts and outside its CSP: records every CSP violation.
		await page.addInitScript({
			content: `window.__qoCsp = []; document.addEventListener('securitypolicyviolation', (e) => window.__qoCsp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber));`,
		});
		await page.goto(server!.url);
		await page.waitForFunction(() => ((globalThis as unknown as BoardWindow).__qoSent?.length ?? 0) > 0);
		model = bigSnapshot(1);
		await send({ type: 'snapshot', snapshot: model });
		model = structuredClone(model);
		await page.waitForFunction((total) => (globalThis as unknown as BoardWindow).document.querySelectorAll('.chip').length === total, TOTAL, { timeout: 30_000 });
	}

	afterEach(async () => {
		await page?.close();
	});

	/** Posts like the extension does: a `message` event on the webview's window. */
	async function send(message: HostToWebview | Record<string, unknown>): Promise<void> {
		await page.evaluate((m) => (globalThis as unknown as BoardWindow).postMessage(m, '*'), message as unknown);
	}

	/** Waits for queued messages and the animation frame that draws them. */
	async function settle(): Promise<void> {
		await page.evaluate(
			() =>
				new Promise<void>((done) => {
					const w = globalThis as unknown as BoardWindow;
					setTimeout(() => w.requestAnimationFrame(() => setTimeout(done, 0)), 0);
				}),
		);
	}

	async function sent(): Promise<WebviewToHost[]> {
		return page.evaluate(() => (globalThis as unknown as BoardWindow).__qoSent.slice());
	}

	async function clearSent(): Promise<void> {
		await page.evaluate(() => void (globalThis as unknown as BoardWindow).__qoSent.splice(0));
	}

	/** The next patch of the stream, applied to the test's own model with the shared reducer. */
	function nextPatch(size: number, churn?: number): HostToWebview {
		const run = model.runs.find((r) => r.runId === BIG_RUN)!;
		const patches = churn === undefined ? progressPatch(run, size, Date.now()) : churnPatch(run, churn, size);
		const index = indexSteps(model);
		for (const p of patches) applyBoardPatch(model, p, index);
		model.version += 1;
		return { type: 'patch', version: model.version, patches };
	}

	it('says ready, then draws the snapshot: decisions on top, runs newest first, all 3,000 chips, under a strict CSP', async () => {
		await openBoard();
		const messages = await sent();
		assert.deepEqual(messages[0], { type: 'ready' });
		assert.equal(await page.locator('.decision').count(), 3);
		assert.deepEqual(await page.locator('.run').evaluateAll((els) => els.map((e) => e.getAttribute('data-run-id'))), [BIG_RUN, OLD_RUN]);
		assert.equal(await page.locator('.untrusted-banner').isHidden(), true);
		assert.match((await page.locator(`.run[data-run-id="${BIG_RUN}"] .run-done`).textContent()) ?? '', /^300\/3000 done/);
		assert.equal(await page.locator(`.run[data-run-id="${OLD_RUN}"] .chip`).count(), 0, 'older runs start collapsed');
		assert.equal(await page.locator('.level').count(), LEVELS);
		assert.match((await page.locator('.chip.crit').first().getAttribute('class')) ?? '', /st-succeeded/);
		// The exec decision shows its command, cwd and rule; the file one its file.
		const exec = page.locator('.decision[data-decision-id="dec-exec"]');
		assert.equal(await exec.locator('.decision-command').textContent(), 'npm publish --access public');
		assert.match((await exec.locator('.decision-cwd').textContent()) ?? '', /packages\/core/);
		assert.match((await exec.locator('.decision-rule').textContent()) ?? '', /exec\.network/);
		assert.equal(await exec.locator('.decision-op').textContent(), 'exec.run');
		assert.equal(await exec.locator('vscode-checkbox.decision-always').isVisible(), true);
		assert.equal(await page.locator('.decision[data-decision-id="dec-file"] vscode-checkbox.decision-always').isHidden(), true, 'no rule, no always-allow');
		assert.match((await page.locator('.decision[data-decision-id="dec-file"] .decision-file').textContent()) ?? '', /CHANGELOG\.md/);
		assert.equal(await page.locator('.decision[data-decision-id="dec-file"] vscode-button.act-show').textContent(), 'Show diff');
		// Run actions follow the status.
		const big = page.locator(`.run[data-run-id="${BIG_RUN}"]`);
		assert.equal(await big.locator('vscode-button.act-cancel').isVisible(), true);
		assert.equal(await big.locator('vscode-button.act-retry').isHidden(), true);
		const old = page.locator(`.run[data-run-id="${OLD_RUN}"]`);
		assert.equal(await old.locator('vscode-button.act-retry').isVisible(), true);
		assert.equal(await old.locator('vscode-button.act-cancel').isHidden(), true);
		assert.deepEqual(await page.evaluate(() => (globalThis as unknown as BoardWindow).__qoCsp), [], 'no CSP violation');
		assert.deepEqual(problems, []);
	});

	it('applies a stream of patches: chip classes, level counts, header counts and progress follow the model', async () => {
		await openBoard();
		for (let i = 0; i < 12; i++) await send(nextPatch(250));
		await settle();
		const run = model.runs.find((r) => r.runId === BIG_RUN)!;
		for (const state of ['succeeded', 'failed', 'running', 'queued', 'pending', 'waiting'] as const) {
			const want = run.steps.filter((s) => s.state === state).length;
			assert.equal(await page.locator(`.run[data-run-id="${BIG_RUN}"] .chip.st-${state}`).count(), want, `${state} chips`);
		}
		const probe = run.steps.find((s) => s.state === 'failed')!;
		assert.match((await page.locator(`.chip[data-step="${probe.id}"]`).getAttribute('class')) ?? '', /\bst-failed\b/);
		assert.match((await page.locator(`.run[data-run-id="${BIG_RUN}"] .run-done`).textContent()) ?? '', new RegExp(`^${run.done}/3000 done`));
		assert.equal(await page.locator(`.run[data-run-id="${BIG_RUN}"] .count[data-state="failed"] .count-n`).textContent(), String(run.counts.failed));
		const level3 = run.steps.filter((s) => s.level === 3);
		const done3 = level3.filter((s) => ['succeeded', 'failed'].includes(s.state)).length;
		assert.match((await page.locator('.level[data-level="3"] .level-count').textContent()) ?? '', new RegExp(`^${done3}/${PER_LEVEL}\n`));
		assert.notEqual(await page.locator('.timings-list li').count(), 0, 'slowest steps listed');
		// A quality step's findings: counts on its chip, in words in its tooltip.
		const quality = stepId(0, 1);
		model.version += 1;
		await send({ type: 'patch', version: model.version, patches: [{ kind: 'steps', runId: BIG_RUN, steps: [{ id: quality, findings: { error: 2, warning: 1, info: 0 } }] }] });
		await settle();
		const chip = page.locator(`.chip[data-step="${quality}"]`);
		assert.equal(await chip.getAttribute('data-findings'), '✖2 ⚠1');
		await chip.hover();
		assert.match((await chip.getAttribute('title')) ?? '', /\nfindings: 2 errors, 1 warning, 0 notes(\n|$)/);
		assert.deepEqual(problems, []);
	});

	it('a version gap posts resync, ignores the stream, and a snapshot recovers', async () => {
		await openBoard();
		await clearSent();
		await send({ type: 'patch', version: 5, patches: [{ kind: 'steps', runId: BIG_RUN, steps: [{ id: stepId(0, 0), state: 'failed' }] }] });
		await send({ type: 'patch', version: 2, patches: [{ kind: 'steps', runId: BIG_RUN, steps: [{ id: stepId(0, 0), state: 'failed' }] }] });
		await settle();
		assert.deepEqual(await sent(), [{ type: 'resync' }]);
		assert.match((await page.locator(`.chip[data-step="${stepId(0, 0)}"]`).getAttribute('class')) ?? '', /st-succeeded/);
		const fresh = bigSnapshot(7);
		fresh.runs[0].steps[0].state = 'rolled_back';
		// A snapshot of the same run repaints in place: the chip elements survive (no flicker, no redraw).
		await page.locator(`.chip[data-step="${stepId(0, 0)}"]`).evaluate((el) => el.setAttribute('data-marked', '1'));
		await send({ type: 'snapshot', snapshot: fresh });
		await send({ type: 'patch', version: 8, patches: [{ kind: 'trust', trusted: false }] });
		await settle();
		assert.match((await page.locator(`.chip[data-step="${stepId(0, 0)}"]`).getAttribute('class')) ?? '', /st-rolled_back/);
		assert.equal(await page.locator(`.chip[data-step="${stepId(0, 0)}"]`).getAttribute('data-marked'), '1');
		assert.equal(await page.locator('.level[data-level="0"] .level-count').textContent(), `${PER_LEVEL}/${PER_LEVEL}`);
		assert.equal(await page.locator('.untrusted-banner').isVisible(), true);
		assert.equal(await page.locator(`.run[data-run-id="${BIG_RUN}"] vscode-button.act-cancel`).getAttribute('disabled'), '', 'run actions off when untrusted');
	});

	it('ignores messages that are not part of the protocol', async () => {
		await openBoard();
		await clearSent();
		await send({ type: 'patch', version: 'two', patches: [] });
		await send({ type: 'snapshot', snapshot: { runs: 'nope' } });
		await send({ hello: 'world' });
		await settle();
		assert.deepEqual(await sent(), []);
		assert.equal(await page.locator('.chip').count(), TOTAL);
		assert.ok(problems.every((p) => !p.startsWith('pageerror')), problems.join('\n'));
	});

	it('answers several selected decisions at once, one message per always-allow choice', async () => {
		await openBoard();
		await clearSent();
		await page.locator('.decision[data-decision-id="dec-exec"] vscode-checkbox.decision-select').click();
		await page.locator('.decision[data-decision-id="dec-file"] vscode-checkbox.decision-select').click();
		await page.locator('.decision[data-decision-id="dec-exec"] vscode-checkbox.decision-always').click();
		assert.equal(await page.locator('vscode-button.act-approve-selected').textContent(), 'Approve 2 selected');
		await page.locator('vscode-text-field.decisions-reason input').fill('release day');
		await page.locator('vscode-button.act-approve-selected').click();
		const answers = (await sent()).filter((m) => m.type === 'answer');
		assert.deepEqual(
			answers.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
			[
				{ type: 'answer', decisionIds: ['dec-exec'], approve: true, reason: 'release day', alwaysAllow: true },
				{ type: 'answer', decisionIds: ['dec-file'], approve: true, reason: 'release day' },
			].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
		);
		assert.equal(await page.locator('.decision[data-decision-id="dec-file"] vscode-button.act-approve').getAttribute('disabled'), '', 'busy until the host answers');
		// The host's answer removes them; the remaining one is a lone decision (no selection UI).
		await send({ type: 'patch', version: 2, patches: [{ kind: 'decisions', decisions: bigSnapshot(0).decisions.slice(2) }] });
		await settle();
		assert.equal(await page.locator('.decision').count(), 1);
		assert.equal(await page.locator('.decisions-bulk').isHidden(), true);
	});

	it('per decision: reject with a reason, show the diff, select all and reject', async () => {
		await openBoard();
		await clearSent();
		const file = page.locator('.decision[data-decision-id="dec-file"]');
		await file.locator('vscode-button.act-show').click();
		await file.locator('vscode-text-field.decision-reason-field input').fill('not this release');
		await file.locator('vscode-button.act-reject').click();
		await page.locator('vscode-checkbox.decisions-select-all').click();
		await page.locator('vscode-button.act-reject-selected').click();
		assert.deepEqual(await sent(), [
			{ type: 'showDecision', decisionId: 'dec-file' },
			{ type: 'answer', decisionIds: ['dec-file'], approve: false, reason: 'not this release' },
			{ type: 'answer', decisionIds: ['dec-exec', 'dec-file', 'dec-doubt'], approve: false },
		]);
	});

	it('edit & approve posts editApprove; invalid JSON shows an error and posts nothing', async () => {
		await openBoard();
		await clearSent();
		const exec = page.locator('.decision[data-decision-id="dec-exec"]');
		await exec.locator('vscode-button.act-edit').click();
		const area = exec.locator('vscode-text-area.decision-editor-area textarea');
		assert.deepEqual(JSON.parse(await area.inputValue()), { command: 'npm publish --access public', cwd: 'packages/core', timeout_ms: 60000 });
		await area.fill('{ "command": "npm publish --dry-run", ');
		await exec.locator('vscode-button.act-edit-approve').click();
		assert.equal(await exec.locator('.decision-editor-error').isVisible(), true);
		assert.match((await exec.locator('.decision-editor-error').textContent()) ?? '', /Invalid JSON/);
		await area.fill('[1, 2]');
		await exec.locator('vscode-button.act-edit-approve').click();
		assert.match((await exec.locator('.decision-editor-error').textContent()) ?? '', /JSON object/);
		assert.deepEqual(await sent(), [], 'nothing posted for bad input');
		await area.fill('{ "command": "npm publish --dry-run", "cwd": "packages/core" }');
		assert.equal(await exec.locator('.decision-editor-error').isHidden(), true, 'typing clears the error');
		await exec.locator('vscode-button.act-edit-approve').click();
		assert.deepEqual(await sent(), [{ type: 'editApprove', decisionId: 'dec-exec', parameters: { command: 'npm publish --dry-run', cwd: 'packages/core' } }]);
	});

	it('run actions, step clicks and waiting steps: runAction, openStep, and the decision highlighted', async () => {
		await openBoard();
		await clearSent();
		await page.locator(`.chip[data-step="${stepId(1, 5)}"]`).click();
		await page.locator(`.chip[data-step="${stepId(3, 70)}"]`).click();
		await page.locator(`.run[data-run-id="${BIG_RUN}"] vscode-button.act-cancel`).click();
		await page.locator(`.run[data-run-id="${OLD_RUN}"] vscode-button.act-retry`).click();
		assert.deepEqual(await sent(), [
			{ type: 'openStep', runId: BIG_RUN, stepId: stepId(1, 5) },
			{ type: 'runAction', action: 'cancel', runId: BIG_RUN },
			{ type: 'runAction', action: 'retry', runId: OLD_RUN },
		]);
		assert.match((await page.locator('.decision[data-decision-id="dec-exec"]').getAttribute('class')) ?? '', /\bflash\b/);
		// The answer to the last action (the retry) shows in that run's card.
		await send({ type: 'notice', level: 'error', text: 'Retry failed: the run is locked by another window' });
		await settle();
		assert.equal(await page.locator(`.run[data-run-id="${OLD_RUN}"] .notice-error .notice-text`).textContent(), 'Retry failed: the run is locked by another window');
		await send({ type: 'focusDecision', decisionId: 'dec-doubt' });
		await settle();
		assert.match((await page.locator('.decision[data-decision-id="dec-doubt"]').getAttribute('class')) ?? '', /\bflash\b/);
		// Expanding the old run draws its three steps.
		await page.locator(`.run[data-run-id="${OLD_RUN}"] .run-toggle`).click();
		await settle();
		assert.equal(await page.locator(`.run[data-run-id="${OLD_RUN}"] .chip`).count(), 3);
		// A large run starts compact (squares); a small one shows names; the toggle switches.
		assert.equal(await page.locator(`.run[data-run-id="${BIG_RUN}"] .dag.compact`).count(), 1);
		assert.equal(await page.locator(`.run[data-run-id="${OLD_RUN}"] .dag.compact`).count(), 0);
		await page.locator(`.run[data-run-id="${OLD_RUN}"] .dag-names`).click();
		assert.equal(await page.locator(`.run[data-run-id="${OLD_RUN}"] .dag.compact`).count(), 1);
	});

	it('goals, agents and LLM use: the orchestration card, tool calls under their step, tokens and cost, budget and proposal/replan decisions', async () => {
		await openBoard();
		await clearSent();
		const now = Date.now();
		const patch = async (patches: unknown[]) => {
			model.version += 1;
			await send({ type: 'patch', version: model.version, patches });
		};
		await patch([
			{
				kind: 'orchestration',
				orchestration: { id: 'goal-1', goal: 'Add tests for the signup handler', state: 'monitoring', detail: `run ${OLD_RUN} started`, planFile: '.quantum/plans/20260101-add-tests.workflow.json', runIds: [OLD_RUN], autonomous: false, planner: 'the offline templates', startedAt: now, updatedAt: now, live: true },
			},
		]);
		const agentStep = stepId(3, 5);
		await patch([
			{
				kind: 'steps',
				runId: BIG_RUN,
				steps: [
					{
						id: agentStep,
						allocation: { agent: 'coder', score: 0.82, parts: { capability: 1, load: 1, performance: 0.5, specialisation: 0.2 }, reason: 'capability 40/40, load 30/30' },
						usage: { promptTokens: 10_300, completionTokens: 2_000, costUsd: 0.0042, calls: 2, unpricedCalls: 0, model: 'gpt-4o-mini' },
						children: [
							{ id: `${agentStep}.1`, type: 'file', operation: 'read', summary: 'read_file: read src/signup.ts', state: 'succeeded', durationMs: 4, agent: 'coder' },
							{ id: `${agentStep}.2`, type: 'file', operation: 'modify', summary: 'modify_file: src/signup.ts', state: 'running', agent: 'coder' },
							{ id: `${agentStep}.3`, type: 'exec', operation: 'run', summary: 'run_command: npm test', state: 'waiting', decisionId: 'dec-exec', agent: 'coder' },
						],
					},
				],
			},
			{
				kind: 'run-header',
				run: {
					...(({ steps: _s, ...h }) => h)(model.runs[0]),
					usage: { promptTokens: 10_300, completionTokens: 2_000, costUsd: 0.0042, calls: 2, unpricedCalls: 0 },
					budget: [{ level: 'warn', scope: 'run', name: BIG_RUN, metric: 'cost_usd', value: 0.0042, limit: 0.004, message: 'the run: cost reached $0.0042, warn threshold $0.0040' }],
				},
			},
			{ kind: 'run-header', run: { ...(({ steps: _s, ...h }) => h)(model.runs[1]), orchestration: 'goal-1' } },
			{
				kind: 'decisions',
				decisions: [
					bigSnapshot(0).decisions[0],
					{ id: 'dec-prop', runId: BIG_RUN, stepId: agentStep, kind: 'proposal', reason: 'the fix the model proposes', summary: 'apply the change to 2 files', type: 'llm', operation: 'fix', parameters: {}, file: 'src/signup.ts', changedFiles: ['src/signup.ts', 'test/signup.test.ts'], requestedAt: now },
					{ id: 'dec-replan', runId: OLD_RUN, stepId: 'test', kind: 'replan', reason: 'test failed; the planner proposes a revised plan', summary: 'run the revised plan as a new run (1 added, 1 changed)', type: 'plan', operation: 'replan', parameters: { goal: 'Add tests' }, details: '+ fix  agent.task: "make the test pass"\n~ test  exec.run\n    dependencies: [] → [fix]\n- package  exec.run: npm pack', requestedAt: now },
				],
			},
		]);
		await settle();
		// The goal: its state live, the trail, the plan and the run it started.
		const goal = page.locator('.goal[data-orchestration-id="goal-1"]');
		assert.equal(await goal.locator('.goal-text').textContent(), 'Add tests for the signup handler');
		assert.equal(await goal.locator('.goal-state').textContent(), 'monitoring');
		assert.equal(await goal.locator('.trail-step.current').textContent(), 'monitoring');
		assert.match((await goal.locator('.goal-meta').textContent()) ?? '', /planned by the offline templates · reviewed before it runs/);
		await goal.locator('.goal-plan').click();
		await goal.locator('.goal-run').click();
		await settle();
		assert.equal(await page.locator(`.run[data-run-id="${OLD_RUN}"] .chip`).count(), 3, 'following the run link expands that run');
		// The agent step: agent on the chip, its tool calls under the level in their states' colours.
		const chip = page.locator(`.chip[data-step="${agentStep}"]`);
		assert.equal(await chip.getAttribute('data-tools'), '⚙3');
		await chip.hover();
		const tip = (await chip.getAttribute('title')) ?? '';
		assert.match(tip, /agent coder \(score 0\.82: capability 100%, load 100%, performance 50%, specialisation 20%\) — capability 40\/40/);
		assert.match(tip, /LLM: 12\.3k tokens · \$0\.0042 \(gpt-4o-mini\)/);
		assert.match(tip, /tool calls: 1 succeeded, 1 running, 1 waiting/);
		const group = page.locator(`.tool-group[data-parent="${agentStep}"]`);
		assert.match((await group.locator('.tool-parent').textContent()) ?? '', new RegExp(`^${agentStep} → coder · 12\\.3k tokens · \\$0\\.0042 · 3 tool calls · 1 waiting$`));
		assert.deepEqual(
			await group.locator('.tool-chip').evaluateAll((els) => els.map((e) => [e.getAttribute('data-step'), e.className])),
			[
				[`${agentStep}.1`, 'tool-chip st-succeeded'],
				[`${agentStep}.2`, 'tool-chip st-running'],
				[`${agentStep}.3`, 'tool-chip st-waiting has-decision'],
			],
		);
		await group.locator('.tool-chip').first().click();
		await group.locator('.tool-chip').last().click();
		// The run: tokens and cost in its header, the budget warning as a badge and a notice.
		const big = page.locator(`.run[data-run-id="${BIG_RUN}"]`);
		assert.equal(await big.locator('.run-usage').textContent(), '12.3k tokens · $0.0042');
		assert.equal(await big.locator('.run-budget').textContent(), 'budget warn');
		assert.equal(await big.locator('.budget-notice').textContent(), 'warn: the run: cost reached $0.0042, warn threshold $0.0040');
		assert.equal(await page.locator(`.run[data-run-id="${OLD_RUN}"] .run-goal`).textContent(), 'goal: Add tests for the signup handler');
		// A proposal shows its diffs; a replan its plan diff, marked; neither can be edited.
		const prop = page.locator('.decision[data-decision-id="dec-prop"]');
		assert.equal(await prop.locator('vscode-button.act-show').textContent(), 'Show diffs (2)');
		assert.equal(await prop.locator('vscode-button.act-edit').isHidden(), true);
		assert.match((await prop.locator('.decision-file').textContent()) ?? '', /src\/signup\.ts, test\/signup\.test\.ts/);
		const replan = page.locator('.decision[data-decision-id="dec-replan"]');
		assert.equal(await replan.locator('vscode-button.act-show').textContent(), 'Show plan diff');
		assert.deepEqual(await replan.locator('.plan-diff span').evaluateAll((els) => els.map((e) => e.className)), ['diff-add', 'diff-mod', 'diff-del']);
		await replan.locator('vscode-button.act-show').click();
		assert.deepEqual(await sent(), [
			{ type: 'openPlan', orchestrationId: 'goal-1' },
			{ type: 'openStep', runId: BIG_RUN, stepId: `${agentStep}.1` },
			{ type: 'showDecision', decisionId: 'dec-replan' },
		]);
		assert.match((await page.locator('.decision[data-decision-id="dec-exec"]').getAttribute('class')) ?? '', /\bflash\b/, 'a waiting tool call leads to its decision');
		// The goal ends: its badge says how.
		await patch([{ kind: 'orchestration', orchestration: { id: 'goal-1', goal: 'Add tests for the signup handler', state: 'completing', outcome: 'succeeded', runIds: [OLD_RUN], autonomous: false, startedAt: now, updatedAt: now, live: false } }]);
		await settle();
		assert.equal(await goal.locator('.goal-state').textContent(), 'succeeded');
		assert.equal(await goal.locator('.trail-step.current').textContent(), 'completing');
		mkdirSync(resultsDir, { recursive: true });
		await page.locator('.goals').screenshot({ path: join(resultsDir, 'board-goal.png') });
		await big.locator('.dag-names').click();
		await group.screenshot({ path: join(resultsDir, 'board-tool-calls.png') });
		assert.deepEqual(await page.evaluate(() => (globalThis as unknown as BoardWindow).__qoCsp), [], 'no CSP violation');
		assert.deepEqual(problems, []);
	});

	it('applies 500-step patches well within a frame (median reported)', async () => {
		await openBoard();
		const batches: HostToWebview[] = [];
		for (let i = 0; i < 40; i++) batches.push(nextPatch(500, i));
		const timing = await page.evaluate((list) => {
			const w = (globalThis as unknown as BoardWindow);
			const script: number[] = [];
			const withLayout: number[] = [];
			for (const message of list) {
				const t0 = performance.now();
				w.__qoTest.receive(message);
				w.__qoTest.flush(0);
				const t1 = performance.now();
				void w.document.body.offsetHeight;
				script.push(t1 - t0);
				withLayout.push(performance.now() - t0);
			}
			return { script, withLayout };
		}, batches as unknown[]);
		const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
		const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)];
		console.log(
			`      500-step patch batches: median ${median(timing.script).toFixed(2)} ms (p95 ${p95(timing.script).toFixed(2)} ms) to validate, apply and update the DOM; ` +
				`${median(timing.withLayout).toFixed(2)} ms (p95 ${p95(timing.withLayout).toFixed(2)} ms) with style and layout`,
		);
		assert.ok(median(timing.withLayout) < 50, `median ${median(timing.withLayout)} ms`);
		const run = model.runs.find((r) => r.runId === BIG_RUN)!;
		for (const state of ['succeeded', 'failed', 'retrying'] as const) {
			assert.equal(await page.locator(`.run[data-run-id="${BIG_RUN}"] .chip.st-${state}`).count(), run.steps.filter((s) => s.state === state).length);
		}
	});

	it('looks right in a dark theme (screenshot: test-results/board.png)', async () => {
		await openBoard();
		for (let i = 0; i < 6; i++) await send(nextPatch(200));
		await send({ type: 'notice', level: 'info', text: 'Approved "npm publish" for this run' });
		await settle();
		await page.locator(`.run[data-run-id="${OLD_RUN}"] .run-toggle`).click();
		await settle();
		await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
		mkdirSync(resultsDir, { recursive: true });
		await page.screenshot({ path: join(resultsDir, 'board.png') });
		await page.locator(`.run[data-run-id="${BIG_RUN}"]`).screenshot({ path: join(resultsDir, 'board-big-run.png') });
		await page.locator(`.run[data-run-id="${OLD_RUN}"]`).screenshot({ path: join(resultsDir, 'board-old-run.png') });
		assert.deepEqual(await page.evaluate(() => (globalThis as unknown as BoardWindow).__qoCsp), []);
	});

	it('a metrics message draws the Metrics section: top handlers and steps with count, success, mean, p95 and SVG bars; a newer one replaces it', async () => {
		await openBoard();
		const metrics = {
			updatedAt: '2026-11-25T09:30:00.000Z',
			runs: { count: 12, successRate: 0.75 },
			handlers: [
				{ label: 'exec.run', count: 20, successRate: 0.9, totalMs: 40_000, meanMs: 2000, p95Ms: 5200 },
				{ label: 'file.create', count: 50, successRate: 1, totalMs: 1000, meanMs: 20, p95Ms: 45 },
			],
			steps: [{ label: 'build › compile', count: 6, successRate: 1, totalMs: 30_000, meanMs: 5000, p95Ms: 7000 }],
		};
		await send({ type: 'metrics', metrics });
		await settle();
		const section = page.locator('section.metrics');
		assert.equal(await section.isVisible(), true);
		assert.match((await section.locator('.metrics-summary').textContent()) ?? '', /^12 runs recorded · 75% succeeded/);
		const rows = section.locator('.metrics-handlers .metrics-row');
		assert.equal(await rows.count(), 2);
		const cells = async (i: number) => rows.nth(i).locator('th, td').allTextContents();
		assert.deepEqual((await cells(0)).slice(0, 5), ['exec.run', '20', '90%', '2.00 s', '5.20 s']);
		assert.deepEqual((await cells(1)).slice(0, 5), ['file.create', '50', '100%', '20 ms', '45 ms']);
		// Bars are inline SVG, as long as the row's share of the longest total; a row with failures is marked.
		const widths = await section.locator('.metrics-handlers .metrics-fill').evaluateAll((els) => els.map((e) => [e.getAttribute('width'), e.getAttribute('class')]));
		assert.deepEqual(widths, [
			['120', 'metrics-fill some-failed'],
			['3', 'metrics-fill'],
		]);
		assert.equal(await section.locator('.metrics-steps .metrics-row th').textContent(), 'build › compile');
		await send({ type: 'metrics', metrics: { ...metrics, runs: { count: 13, successRate: 0.8 }, steps: [] } });
		await settle();
		assert.match((await section.locator('.metrics-summary').textContent()) ?? '', /^13 runs recorded · 80% succeeded/);
		assert.equal(await section.locator('.metrics-steps .metrics-empty').textContent(), 'Nothing recorded yet.');
		// A malformed one is dropped at the door (a warning, no error).
		await send({ type: 'metrics', metrics: { runs: 'lots' } });
		await settle();
		assert.equal(await section.locator('.metrics-handlers .metrics-row').count(), 2);
		assert.deepEqual(problems, []);
		assert.deepEqual(await page.evaluate(() => (globalThis as unknown as BoardWindow).__qoCsp), []);
	});
});
