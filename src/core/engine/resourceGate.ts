// The resource manager: while the machine's CPU load or memory use is above the configured limits, new steps are
// held back (shown as waiting, with the reading and the limit) and start once the readings fall below them.
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import type { Clock } from '../ports';

export interface ResourceLimits {
	/** Load average (1 min) per core, e.g. 0.9; above it new steps wait. */
	cpu?: number;
	/** Share of memory in use, 0–1, e.g. 0.9; above it new steps wait. */
	memory?: number;
}

export interface ResourceReading {
	cpu: number;
	memory: number;
}

/** The machine as the OS reports it. */
export function machineReading(): ResourceReading {
	return { cpu: loadavg()[0] / Math.max(1, cpus().length), memory: 1 - freemem() / Math.max(1, totalmem()) };
}

const POLL_MS = 250;

export class ResourceGate {
	/** Steps held back so far. */
	held = 0;

	constructor(
		private readonly limits: ResourceLimits,
		private readonly clock: Clock,
		private readonly probe: () => ResourceReading = machineReading,
		private readonly pollMs = POLL_MS,
	) {}

	/** Why a step would be held back now, or undefined. */
	check(): string | undefined {
		const r = this.probe();
		const reasons: string[] = [];
		if (this.limits.cpu !== undefined && r.cpu > this.limits.cpu) reasons.push(`CPU load ${r.cpu.toFixed(2)} per core is above the limit ${this.limits.cpu}`);
		if (this.limits.memory !== undefined && r.memory > this.limits.memory) reasons.push(`memory use ${Math.round(r.memory * 100)}% is above the limit ${Math.round(this.limits.memory * 100)}%`);
		return reasons.length ? `held back: ${reasons.join('; ')}` : undefined;
	}

	/** Resolves when the step may start; `onHold` hears why it waits (once, when it must). */
	async admit(signal: AbortSignal, onHold: (reason: string) => void): Promise<void> {
		let reason = this.check();
		if (!reason) return;
		this.held++;
		onHold(reason);
		while (reason) {
			await this.clock.sleep(this.pollMs, signal);
			reason = this.check();
		}
	}
}
