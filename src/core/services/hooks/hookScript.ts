// The block `qo hooks install` puts into a git hook: POSIX sh between marker comments, running a small Node script
// (Node is always there for our users; no curl) that POSTs the workflow to the running orchestrator, or drops it into
// the inbox when none is running. It never blocks git for long and never fails the git operation, unless installed
// as blocking (pre-* hooks only): then it waits for the run and stops the operation when the run does not succeed.

export const BEGIN_MARKER = '# >>> quantum-orchestrator >>>';
export const END_MARKER = '# <<< quantum-orchestrator <<<';
const META_PREFIX = '# qo-hook ';

/** The hooks we install, and what identifies the event each one reports (the Idempotency-Key's second half). */
export const HOOK_EVENT_IDS = {
	'post-commit': 'the new commit',
	'post-merge': 'HEAD after the merge',
	'post-checkout': 'HEAD after the checkout',
	'post-rewrite': 'HEAD after the amend or rebase',
	'post-applypatch': 'the new commit',
	'pre-push': 'the HEAD being pushed',
	'pre-commit': 'the tree about to be committed (git write-tree)',
} as const;
export type HookName = keyof typeof HOOK_EVENT_IDS;
export const HOOK_NAMES = Object.keys(HOOK_EVENT_IDS) as HookName[];

/** What the block records about itself (one JSON comment line), so list and remove need nothing else. */
export interface HookMeta {
	version: 1;
	hook: string;
	/** Workspace-relative, `/`-separated. */
	workflow: string;
	blocking: boolean;
	/** The hook file did not exist: removing the block leaves `#!/bin/sh\n`, which is then deleted. */
	createdFile: boolean;
	/** The file's only line had no newline; one was added before the block (and is taken away with it). */
	addedNewline: boolean;
}

export interface HookBlockOptions extends Omit<HookMeta, 'version'> {
	/** The workspace relative to the repository's top level (where git runs hooks), `.` when it is the top level. */
	workspace: string;
	/** The state folder and the inbox, relative to the workspace (or absolute). */
	stateDir: string;
	inbox: string;
	/** How long to wait for the orchestrator to answer (default 2000 ms). */
	timeoutMs?: number;
	/** Blocking hooks: how long to wait for the run to end (default 10 minutes). */
	waitMs?: number;
}

/** A string as one POSIX sh word. */
export function shQuote(s: string): string {
	return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The block, ending with a newline. */
export function hookBlock(o: HookBlockOptions): string {
	const meta: HookMeta = { version: 1, hook: o.hook, workflow: o.workflow, blocking: o.blocking, createdFile: o.createdFile, addedNewline: o.addedNewline };
	const eventId = o.hook === 'pre-commit' ? 'git write-tree 2>/dev/null' : 'git rev-parse --verify --quiet HEAD 2>/dev/null';
	const what = o.blocking
		? `Runs ${o.workflow} through Quantum Orchestrator and stops the ${o.hook} when the run does not succeed.`
		: `Submits ${o.workflow} to Quantum Orchestrator; never fails the git operation.`;
	return [
		BEGIN_MARKER,
		`# ${what.replace(/\n/g, ' ')} Remove with: qo hooks remove ${o.hook}`,
		`${META_PREFIX}${JSON.stringify(meta)}`,
		'(',
		'\tif command -v node >/dev/null 2>&1; then',
		`\t\tQO_HOOK=${shQuote(o.hook)} QO_WORKFLOW=${shQuote(o.workflow)} QO_WORKSPACE=${shQuote(o.workspace)} \\`,
		`\t\tQO_STATE=${shQuote(o.stateDir)} QO_INBOX=${shQuote(o.inbox)} QO_BLOCKING=${o.blocking ? 1 : 0} \\`,
		`\t\tQO_TIMEOUT_MS=${o.timeoutMs ?? 2000} QO_WAIT_MS=${o.waitMs ?? 600_000} QO_EVENT_ID="$(${eventId})" \\`,
		"\t\tnode - <<'QO_HOOK_SCRIPT'",
		SUBMIT_SCRIPT.trim(),
		'QO_HOOK_SCRIPT',
		'\telse',
		`\t\techo ${shQuote(`quantum-orchestrator: ${o.hook}: node is not on PATH; ${o.workflow} was not submitted`)} >&2`,
		'\t\texit 1',
		'\tfi',
		o.blocking ? ') || exit 1' : ') || :',
		END_MARKER,
		'',
	].join('\n');
}

/** Where the block is in a hook's text: [start, end) covering the marker lines and the end marker's newline. */
export function findBlock(text: string): { start: number; end: number; meta: HookMeta | undefined } | undefined {
	let start = 0;
	if (!text.startsWith(`${BEGIN_MARKER}\n`)) {
		const at = text.indexOf(`\n${BEGIN_MARKER}\n`);
		if (at < 0) return undefined;
		start = at + 1;
	}
	const endLine = text.indexOf(`\n${END_MARKER}`, start);
	if (endLine < 0) return undefined;
	let end = endLine + 1 + END_MARKER.length;
	if (text[end] === '\n') end++;
	const metaLine = text
		.slice(start, end)
		.split('\n')
		.find((l) => l.startsWith(META_PREFIX));
	let meta: HookMeta | undefined;
	try {
		meta = metaLine ? (JSON.parse(metaLine.slice(META_PREFIX.length)) as HookMeta) : undefined;
	} catch {
		meta = undefined;
	}
	return { start, end, meta };
}

/**
 * Run by `node -` inside the hook (the hook's working directory is the repository's top level). Plain CommonJS for
 * any Node version our users have; every outcome is one line on stderr.
 */
const SUBMIT_SCRIPT = String.raw`
'use strict';
const fs = require('fs');
const path = require('path');
const http = require('http');
const env = process.env;
const hook = env.QO_HOOK || 'hook';
const eventId = (env.QO_EVENT_ID || '').trim();
const blocking = env.QO_BLOCKING === '1';
const limit = Number(env.QO_TIMEOUT_MS) || 2000;
const waitLimit = Number(env.QO_WAIT_MS) || 600000;
const ws = path.resolve(env.QO_WORKSPACE || '.');
const at = (p) => path.resolve(ws, p);
const shown = env.QO_WORKFLOW || '';
let finished = false;
let timer;
function end(ok, message) {
	if (finished) return;
	finished = true;
	process.stderr.write('quantum-orchestrator: ' + hook + (eventId ? ' ' + eventId.slice(0, 7) : '') + ': ' + message + '\n');
	process.exit(ok || !blocking ? 0 : 1);
}
function arm(ms, message) {
	clearTimeout(timer);
	timer = setTimeout(() => end(false, message), ms);
}
function oneLine(v) {
	const s = typeof v === 'string' ? v : v && typeof v.message === 'string' ? v.message : JSON.stringify(v);
	return String(s || '').replace(/\s+/g, ' ').trim().slice(0, 300);
}
function request(api, method, route, body, onAnswer, onError) {
	const headers = { Authorization: 'Bearer ' + api.token };
	if (body !== undefined) {
		headers['Content-Type'] = 'application/json';
		headers['Content-Length'] = Buffer.byteLength(body);
		headers['Idempotency-Key'] = hook + ':' + (eventId || 'at-' + Date.now());
	}
	const req = http.request({ host: '127.0.0.1', port: api.port, method, path: route, headers, timeout: limit }, (res) => {
		let data = '';
		res.setEncoding('utf8');
		res.on('data', (c) => {
			if (data.length < 65536) data += c;
		});
		res.on('end', () => {
			let answer = {};
			try {
				answer = JSON.parse(data) || {};
			} catch (e) {
				answer = { error: data };
			}
			onAnswer(res.statusCode || 0, answer);
		});
	});
	req.on('timeout', () => req.destroy(Object.assign(new Error('no answer within ' + limit / 1000 + ' s'), { code: 'ETIMEDOUT' })));
	req.on('error', onError);
	req.end(body);
}
function drop(why, body) {
	if (blocking) return end(false, why + ': ' + shown + ' cannot run before the ' + hook + ' goes on (start the orchestrator, or skip the hook once with --no-verify)');
	try {
		const dir = at(env.QO_INBOX);
		fs.mkdirSync(dir, { recursive: true });
		const name = hook + '-' + (eventId || String(Date.now())) + '.json';
		const dest = path.join(dir, name);
		if (fs.existsSync(dest)) return end(true, why + '; ' + name + ' is already waiting in the inbox');
		const temp = path.join(dir, '.' + name + '.' + process.pid + '.tmp');
		fs.writeFileSync(temp, body);
		fs.renameSync(temp, dest);
		end(true, why + ': put ' + shown + ' in the inbox as ' + path.relative(ws, dest).split(path.sep).join('/') + '; it runs when the orchestrator starts');
	} catch (e) {
		end(false, why + ', and the inbox could not be written (' + e.message + '); ' + shown + ' was not submitted');
	}
}
const FINAL = ['succeeded', 'failed', 'cancelled', 'rejected', 'rolled_back', 'interrupted'];
function follow(api, runId) {
	if (!runId) return end(false, 'the orchestrator answered without a run id; cannot wait for ' + shown);
	arm(waitLimit, 'run ' + runId + ' of ' + shown + ' did not finish within ' + Math.round(waitLimit / 1000) + ' s');
	let misses = 0;
	const poll = () =>
		request(
			api,
			'GET',
			'/v1/runs/' + encodeURIComponent(runId),
			undefined,
			(status, answer) => {
				const run = answer.run && typeof answer.run === 'object' ? answer.run : answer;
				if (status >= 200 && status < 300 && FINAL.indexOf(run.status) >= 0) {
					return end(run.status === 'succeeded', 'run ' + runId + ' of ' + shown + ' ' + run.status + (run.message ? ': ' + oneLine(run.message) : ''));
				}
				if (status >= 300 && ++misses > 3) return end(false, 'cannot follow run ' + runId + ': HTTP ' + status + ' ' + oneLine(answer.error));
				setTimeout(poll, 500);
			},
			(e) => (++misses > 3 ? end(false, 'lost the orchestrator while waiting for run ' + runId + ' (' + (e.code || e.message) + ')') : setTimeout(poll, 500)),
		);
	poll();
}
function main() {
	arm(limit, 'no answer from the orchestrator within ' + limit / 1000 + ' s; ' + shown + ' may not have been submitted');
	let workflow;
	try {
		workflow = JSON.parse(fs.readFileSync(at(shown), 'utf8'));
	} catch (e) {
		return end(false, (e.code === 'ENOENT' ? shown + ' does not exist' : 'cannot read ' + shown + ' (' + e.message + ')') + '; nothing submitted');
	}
	if (!workflow || typeof workflow !== 'object' || Array.isArray(workflow)) return end(false, shown + ' is not a workflow (a JSON object); nothing submitted');
	// A single instruction becomes a workflow of one (as qo run does), so that it can carry the variables below.
	if (!('instructions' in workflow) && 'type' in workflow && 'operation' in workflow) {
		workflow = { name: path.basename(shown).replace(/\.json$/i, '').replace(/\.(workflow|instruction)$/i, ''), instructions: [workflow] };
	}
	const vars = workflow.variables;
	if (vars === undefined || (vars && typeof vars === 'object' && !Array.isArray(vars))) {
		workflow.variables = Object.assign({}, vars, { git_hook: hook, git_commit: eventId });
	}
	const body = JSON.stringify(workflow, null, 2) + '\n';
	let api;
	try {
		api = JSON.parse(fs.readFileSync(path.join(at(env.QO_STATE), 'api.json'), 'utf8'));
	} catch (e) {
		return drop(e.code === 'ENOENT' ? 'the orchestrator is not running' : 'cannot read api.json (' + e.message + ')', body);
	}
	if (!api || !Number.isInteger(api.port) || typeof api.token !== 'string') return drop('api.json names no port and token', body);
	// The API's envelope: the workflow, and where it came from (shown with the run).
	const envelope = JSON.stringify({ workflow, origin: hook + ' ' + String(eventId).slice(0, 12) });
	request(
		api,
		'POST',
		'/v1/runs',
		envelope,
		(status, answer) => {
			const runId = answer.run_id || answer.runId;
			if (status < 200 || status >= 300) return end(false, 'the orchestrator did not take ' + shown + ': HTTP ' + status + (answer.error ? ' ' + oneLine(answer.error) : ''));
			if (blocking) return follow(api, runId);
			const extra = answer.status && answer.status !== 'started' ? ' (' + answer.status + ')' : '';
			end(true, 'submitted ' + shown + (runId ? ' as run ' + runId : '') + extra);
		},
		(e) => {
			if (e.code === 'ECONNREFUSED') return drop('the orchestrator is not running (nothing listens on port ' + api.port + ')', body);
			end(false, 'could not reach the orchestrator (' + (e.code || e.message) + '); ' + shown + ' may not have been submitted');
		},
	);
}
main();
`;
