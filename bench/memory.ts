// Peak RSS: Linux's VmHWM, reset to the current RSS by writing 5 to /proc/self/clear_refs, so a peak is measured
// from a baseline taken after the input was built; elsewhere process.resourceUsage().maxRSS (never reset).
import { readFileSync, writeFileSync } from 'node:fs';
import type { MemoryFigures } from './tasks';

function vmhwm(): number | undefined {
	try {
		const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
		return m ? Number(m[1]) * 1024 : undefined;
	} catch {
		return undefined;
	}
}

function collect(): void {
	const gc = (globalThis as { gc?: () => void }).gc;
	if (gc) {
		gc();
		gc();
	}
}

/** A peak measurement started now (after a full GC); call `end()` when the measured work is done. */
export class PeakMemory {
	readonly method: MemoryFigures['method'];
	readonly baseline: number;

	constructor() {
		collect();
		let method: MemoryFigures['method'] = 'maxrss';
		try {
			writeFileSync('/proc/self/clear_refs', '5');
			if (vmhwm() !== undefined) method = 'vmhwm';
		} catch {
			// not Linux, or not allowed: fall back to maxRSS
		}
		this.method = method;
		this.baseline = process.memoryUsage().rss;
	}

	peak(): number {
		return this.method === 'vmhwm' ? (vmhwm() ?? 0) : process.resourceUsage().maxRSS * 1024;
	}

	rise(): number {
		return Math.max(0, this.peak() - this.baseline);
	}
}
