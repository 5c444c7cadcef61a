import assert from 'node:assert/strict';
import type { EngineEvent } from '../../../src/core/engine/events';
import type { Finding } from '../../../src/core/quality/findings';
import { QualityFindings } from '../../../src/vscode/model/qualityFindings';
import { RunLog } from '../../../src/vscode/model/runLog';

const f = (file: string, line = 1): Finding => ({ file, line, severity: 'error', message: 'm', source: 'eslint' });
const findings = (runId: string, id: string, tool: string, list: Finding[]): EngineEvent => ({ type: 'findings', runId, id, tool, findings: list });
const shown = (m: QualityFindings) => Object.fromEntries([...m.files()].map(([file, list]) => [file, list.map((x) => x.line)]));

describe('quality findings for the Problems panel', () => {
	it("keeps each tool's findings from its latest run, per folder; steps of one run add up, a step reporting again replaces itself", () => {
		const m = new QualityFindings();
		assert.equal(m.apply('/ws', findings('r1', 'lint-a', 'eslint', [f('a.js', 1)])), true);
		m.apply('/ws', findings('r1', 'lint-b', 'eslint', [f('b.js', 2)]));
		m.apply('/ws', findings('r1', 'types', 'tsc', [f('a.js', 3)]));
		m.apply('/other', findings('r9', 'lint', 'eslint', [f('c.js', 4), f('/abs/d.js', 5)]));
		assert.deepEqual(shown(m), { '/ws/a.js': [1, 3], '/ws/b.js': [2], '/other/c.js': [4], '/abs/d.js': [5] });
		m.apply('/ws', findings('r1', 'lint-a', 'eslint', []));
		assert.deepEqual(shown(m)['/ws/a.js'], [3]);
		// A newer run replaces the tool's findings in that folder only.
		m.apply('/ws', findings('r2', 'lint', 'eslint', [f('e.js', 6)]));
		assert.deepEqual(shown(m), { '/ws/e.js': [6], '/ws/a.js': [3], '/other/c.js': [4], '/abs/d.js': [5] });
	});

	it('rolling a run back clears the findings it reported, and only those', () => {
		const m = new QualityFindings();
		m.apply('/ws', findings('r1', 'types', 'tsc', [f('a.ts')]));
		m.apply('/ws', findings('r2', 'lint', 'eslint', [f('b.js')]));
		const rolledBack: EngineEvent = { type: 'rollback-finished', runId: 'r2', restored: 1, removed: 0, conflicts: [], compensations: 0 };
		assert.equal(m.apply('/ws', rolledBack), true);
		assert.deepEqual(shown(m), { '/ws/a.ts': [1] });
		assert.equal(m.apply('/ws', rolledBack), false, 'nothing left to clear');
		assert.equal(m.apply('/ws', { type: 'log', level: 'info', scope: 'x', message: 'y' }), false);
	});
});

describe('run log', () => {
	it("writes a quality step's counts and first findings, and points to the Problems panel for the rest", () => {
		const log = new RunLog();
		const many = Array.from({ length: 22 }, (_, i) => f('a.js', i + 1));
		log.apply(findings('r1', 'lint', 'eslint', many), Date.UTC(2026, 0, 1, 10, 0, 0));
		const text = log.text('r1');
		assert.match(text, /^10:00:00\.000 lint eslint: 22 errors, 0 warnings, 0 notes\n {2}a\.js:1 error m\n/);
		assert.match(text, /\n {2}a\.js:20 error m\n {2}… and 2 more in the Problems panel\n$/);
	});
});
