// What a run printed and did, kept in memory for "Open Run Log" and "Open Step Output". No vscode import.
import type { EngineEvent } from '../../core/engine/events';
import { formatDuration } from '../../core/format';
import { countFindings, formatFinding } from '../../core/quality/findings';
import { describeUsage } from '../../core/engine/budget';

const MAX_LOG_LINES = 5000;
const MAX_OUTPUT_CHARS = 256 * 1024;
const MAX_RUNS = 20;
/** Findings written to the log per tool and step; the Problems panel has them all. */
const LOG_FINDINGS = 20;

interface RunRecord {
	lines: string[];
	dropped: number;
	outputs: Map<string, { text: string; truncated: boolean }>;
	errors: Map<string, string>;
}

export class RunLog {
	private readonly runs = new Map<string, RunRecord>();

	apply(e: EngineEvent, now = Date.now()): void {
		if (e.type === 'log') return;
		const runId = 'runId' in e ? e.runId : e.request.runId;
		const rec = this.record(runId);
		const t = new Date(now).toISOString().slice(11, 23);
		switch (e.type) {
			case 'run-started':
				return this.line(rec, `${t} ${e.resumed ? 'resumed' : 'started'} ${e.workflow}${e.file ? ` (${e.file})` : ''}: ${e.steps.length} steps, ${e.levels} levels, ${e.mode}, up to ${e.concurrency} at once`);
			case 'step':
				if (e.state === 'failed' && e.message) rec.errors.set(e.id, e.message);
				return this.line(rec, `${t} ${e.id} ${e.state}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}${e.durationMs !== undefined ? ` in ${formatDuration(e.durationMs)}` : ''}${e.message ? `: ${e.message}` : ''}`);
			case 'step-output': {
				const out = rec.outputs.get(e.id) ?? { text: '', truncated: false };
				if (out.text.length < MAX_OUTPUT_CHARS) out.text += e.text.slice(0, MAX_OUTPUT_CHARS - out.text.length);
				else out.truncated = true;
				rec.outputs.set(e.id, out);
				return;
			}
			case 'decision-requested':
				return this.line(rec, `${t} ${e.request.stepId} waits for a decision: ${e.request.reason} — ${e.request.summary}`);
			case 'decision-answered':
				return this.line(rec, `${t} decision ${e.id}: ${e.answer.approve ? 'approved' : 'rejected'} by ${e.answer.by ?? 'user'}${e.answer.reason ? `: ${e.answer.reason}` : ''}`);
			case 'concurrency':
				return this.line(rec, `${t} concurrency ${e.limit}: ${e.reason}`);
			case 'step-added':
				return this.line(rec, `${t} ${e.parent} → ${e.step.id}${e.agent ? ` (${e.agent})` : ''}: ${e.summary}`);
			case 'allocation':
				return this.line(rec, `${t} ${e.id} → agent ${e.assignment.agent}: ${e.assignment.reason}`);
			case 'budget':
				return this.line(rec, `${t} budget ${e.level}: ${e.message}`);
			case 'findings': {
				const c = countFindings(e.findings);
				const shown = e.findings.slice(0, LOG_FINDINGS).map((f) => `\n  ${formatFinding(f)}`).join('');
				const more = e.findings.length > LOG_FINDINGS ? `\n  … and ${e.findings.length - LOG_FINDINGS} more in the Problems panel` : '';
				return this.line(rec, `${t} ${e.id} ${e.tool}: ${c.error} errors, ${c.warning} warnings, ${c.info} notes${shown}${more}`);
			}
			case 'run-finished':
				this.line(rec, `${t} finished: ${e.status} in ${formatDuration(e.durationMs)}${e.message ? ` — ${e.message}` : ''}`);
				if (e.usage && e.usage.calls > 0) for (const l of describeUsage(e.usage)) this.line(rec, `${t} ${l}`);
				return;
			case 'rollback-started':
				return this.line(rec, `${t} rolling back ${e.files} paths`);
			case 'rollback-finished':
				return this.line(
					rec,
					`${t} rolled back: ${e.restored} restored, ${e.removed} removed, ${e.compensations} compensations${e.conflicts.map((c) => `\n  conflict ${c.path}: ${c.reason}`).join('')}`,
				);
		}
	}

	has(runId: string): boolean {
		return this.runs.has(runId);
	}

	text(runId: string): string {
		const rec = this.runs.get(runId);
		if (!rec) return '';
		return (rec.dropped ? `… ${rec.dropped} earlier lines dropped\n` : '') + rec.lines.join('\n') + '\n';
	}

	stepText(runId: string, stepId: string): string {
		const rec = this.runs.get(runId);
		const out = rec?.outputs.get(stepId);
		const error = rec?.errors.get(stepId);
		const parts: string[] = [];
		if (error) parts.push(`Error: ${error}`);
		if (out) parts.push(out.text + (out.truncated ? '\n… output truncated' : ''));
		return parts.length ? parts.join('\n\n') : `${stepId} printed nothing.`;
	}

	private record(runId: string): RunRecord {
		let rec = this.runs.get(runId);
		if (!rec) {
			rec = { lines: [], dropped: 0, outputs: new Map(), errors: new Map() };
			this.runs.set(runId, rec);
			if (this.runs.size > MAX_RUNS) this.runs.delete(this.runs.keys().next().value as string);
		}
		return rec;
	}

	private line(rec: RunRecord, text: string): void {
		rec.lines.push(text);
		if (rec.lines.length > MAX_LOG_LINES) {
			const n = rec.lines.length - MAX_LOG_LINES;
			rec.lines.splice(0, n);
			rec.dropped += n;
		}
	}
}
