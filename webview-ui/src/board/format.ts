// How numbers and states read on the board.
import type { StepStateView } from '../../../src/protocol/viewModels';

export function formatDuration(ms: number | undefined): string {
	if (ms === undefined || !Number.isFinite(ms) || ms < 0) return '';
	if (ms < 1000) return `${Math.round(ms)} ms`;
	const s = ms / 1000;
	if (s < 60) return `${s < 10 ? s.toFixed(2) : s.toFixed(1)} s`;
	const totalSeconds = Math.round(s);
	const h = Math.floor(totalSeconds / 3600);
	const m = Math.floor((totalSeconds % 3600) / 60);
	const sec = totalSeconds % 60;
	return h ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m ${String(sec).padStart(2, '0')}s`;
}

export function formatTime(at: number): string {
	const d = new Date(at);
	const today = new Date();
	const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
	return d.toDateString() === today.toDateString() ? time : `${d.toLocaleDateString()} ${time}`;
}

/** The order states are listed in (counts, legend): what needs attention first. */
export const STATE_ORDER: readonly StepStateView[] = [
	'waiting',
	'failed',
	'running',
	'retrying',
	'queued',
	'pending',
	'succeeded',
	'skipped',
	'cancelled',
	'rolled_back',
];

export function stateLabel(state: string): string {
	return state.replace(/_/g, ' ');
}

export function plural(n: number, one: string, many = `${one}s`): string {
	return `${n} ${n === 1 ? one : many}`;
}
