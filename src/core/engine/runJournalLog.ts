// A run's story told from its journal, for runs the asking process did not drive (another window, the CLI, a crash).
import { formatDuration } from '../format';
import { forEachStepEnd, type JournalRecord } from '../state/records';

const time = (at: number) => new Date(at).toISOString().slice(11, 23);

/** One line per thing that happened: start, each step's end, decisions, resume, the end, commit and rollback. */
export function describeJournal(records: readonly JournalRecord[]): string[] {
	const lines: string[] = [];
	for (const r of records) {
		switch (r.t) {
			case 'run':
				lines.push(`${time(r.startedAt)} started ${r.name}${r.file ? ` (${r.file})` : ''}`);
				break;
			case 'step-start':
				if (r.attempt > 1) lines.push(`${time(r.at)} ${r.id} attempt ${r.attempt}`);
				break;
			case 'step-end':
				lines.push(`${time(r.at)} ${r.id} ${r.status}${r.durationMs ? ` in ${formatDuration(r.durationMs)}` : ''}${r.error ? `: ${r.error}` : ''}`);
				break;
			case 'step-ends':
				forEachStepEnd(r, (id, _attempt, at, durationMs) => lines.push(`${time(at)} ${id} succeeded${durationMs ? ` in ${formatDuration(durationMs)}` : ''}`));
				break;
			case 'decision':
				lines.push(`         ${r.id}: ${r.kind} ${r.approve ? 'approved' : 'rejected'}${r.reason ? `: ${r.reason}` : ''}`);
				break;
			case 'allocation':
				lines.push(`         ${r.id}: given to agent ${r.agent} (${r.reason})`);
				break;
			case 'usage':
				lines.push(`         ${r.id}: ${r.model}, ${r.prompt} prompt + ${r.completion} completion tokens${r.cost !== undefined ? `, $${r.cost.toFixed(4)}` : ''}${r.agent ? ` (${r.agent})` : ''}`);
				break;
			case 'step-params':
				lines.push(`         ${r.id}: parameters edited before approval`);
				break;
			case 'resume':
				lines.push(`${time(r.at)} resumed (process ${r.pid})`);
				break;
			case 'run-end':
				lines.push(`${time(r.at)} finished: ${r.status} in ${formatDuration(r.durationMs)}`);
				break;
			case 'commit':
				lines.push(`${time(r.at)} committed: its changes are final`);
				break;
			case 'rollback-start':
				lines.push(`${time(r.at)} rollback started${r.force ? ' (forced)' : ''}`);
				break;
			case 'compensated':
				lines.push(`         undo of ${r.step}: ${r.ok ? 'ran' : `failed: ${r.error ?? ''}`}`);
				break;
			case 'rollback-end':
				lines.push(`${time(r.at)} rolled back${r.conflicts.length ? `; left alone: ${r.conflicts.map((c) => `${c.path} (${c.reason})`).join(', ')}` : ''}`);
				break;
			default:
				break;
		}
	}
	return lines;
}
