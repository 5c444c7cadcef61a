// Which quality findings the Problems panel shows: per workspace folder and tool, the latest run's findings (every
// step of that run that used the tool); a newer run replaces them, rolling the run back clears them. No vscode import.
import { isAbsolute, join } from 'node:path';
import type { EngineEvent } from '../../core/engine/events';
import type { Finding } from '../../core/quality/findings';

interface ToolFindings {
	runId: string;
	root: string;
	/** By step id: a step reporting again (a retry) replaces its own list. */
	steps: Map<string, Finding[]>;
}

export class QualityFindings {
	private readonly byTool = new Map<string, ToolFindings>();

	/** Applies an engine event from the folder at `root`; true when what the Problems panel shows changed. */
	apply(root: string, event: EngineEvent): boolean {
		if (event.type === 'findings') {
			const key = `${root}\0${event.tool}`;
			let entry = this.byTool.get(key);
			if (!entry || entry.runId !== event.runId) this.byTool.set(key, (entry = { runId: event.runId, root, steps: new Map() }));
			entry.steps.set(event.id, event.findings);
			return true;
		}
		if (event.type === 'rollback-finished') {
			let changed = false;
			for (const [key, entry] of this.byTool) {
				if (entry.runId !== event.runId) continue;
				this.byTool.delete(key);
				changed = true;
			}
			return changed;
		}
		return false;
	}

	/** Absolute file path → its findings, over every folder and tool. */
	files(): Map<string, Finding[]> {
		const files = new Map<string, Finding[]>();
		for (const entry of this.byTool.values()) {
			for (const findings of entry.steps.values()) {
				for (const f of findings) {
					const abs = isAbsolute(f.file) ? f.file : join(entry.root, f.file);
					let list = files.get(abs);
					if (!list) files.set(abs, (list = []));
					list.push(f);
				}
			}
		}
		return files;
	}
}
