// Small helpers the built-in handlers share: cancellation errors, clipping text for messages, errno mapping.
import { StepError } from '../errors';

/** The error a handler throws when its signal aborts: the engine's own reason when it gave one. */
export function abortError(signal: AbortSignal, what: string): Error {
	const reason: unknown = signal.reason;
	if (StepError.is(reason)) return reason;
	return new StepError('cancelled', `${what} was cancelled`, { permanent: true });
}

/** One line, at most max characters, for messages and summaries. */
export function clip(text: string, max = 80): string {
	const line = text.replace(/\s*\n\s*/g, ' ⏎ ');
	return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/** The last n non-empty lines of text (a failing command's stderr), each clipped. */
export function lastLines(text: string, n: number): string {
	return text
		.split('\n')
		.map((l) => l.trimEnd())
		.filter((l) => l !== '')
		.slice(-n)
		.map((l) => (l.length > 300 ? `${l.slice(0, 299)}…` : l))
		.join('\n');
}

export function errnoCode(err: unknown): string | undefined {
	const code = (err as NodeJS.ErrnoException | null)?.code;
	return typeof code === 'string' ? code : undefined;
}
