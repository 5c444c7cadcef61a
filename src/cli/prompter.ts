// Decisions on a terminal: one question at a time, approve / reject with a reason / edit the parameters as JSON.
import { createInterface } from 'node:readline/promises';
import type { DecisionAnswer, DecisionPrompter, DecisionRequest } from '../core/ports';

export class TtyPrompter implements DecisionPrompter {
	private queue: Promise<unknown> = Promise.resolve();

	constructor(
		private readonly input: NodeJS.ReadableStream,
		private readonly output: NodeJS.WritableStream,
		private readonly beforePrompt: () => void = () => {},
		private readonly afterPrompt: () => void = () => {},
	) {}

	decide(request: DecisionRequest, signal: AbortSignal): Promise<DecisionAnswer> {
		// Parallel steps may ask together: the terminal asks them one after another.
		const next = this.queue.then(() => this.ask(request, signal));
		this.queue = next.catch(() => undefined);
		return next;
	}

	private async ask(req: DecisionRequest, signal: AbortSignal): Promise<DecisionAnswer> {
		if (signal.aborted) return { approve: false, reason: 'the run was cancelled' };
		this.beforePrompt();
		const rl = createInterface({ input: this.input, output: this.output, terminal: true });
		try {
			this.output.write(`\n? Step ${req.stepId} (${req.type}.${req.operation}) needs a decision: ${req.reason}\n`);
			this.output.write(`  It will: ${req.summary}\n`);
			if (req.rule) this.output.write(`  Rule: ${req.rule} (qo --allow ${req.rule} lets it go ahead without asking)\n`);
			// A replan's diff, a budget's figures: what to read before answering.
			if (req.details) this.output.write(`${req.details.replace(/^/gm, '    ')}\n`);
			for (;;) {
				const a = (await rl.question('  Approve? [y]es / [n]o / [e]dit parameters / [s]how parameters: ', { signal })).trim().toLowerCase();
				if (a === 'y' || a === 'yes') return { approve: true };
				if (a === 'n' || a === 'no' || a === '') {
					const reason = (await rl.question('  Reason (optional): ', { signal })).trim();
					return { approve: false, reason: reason || undefined };
				}
				if (a === 's' || a === 'show') {
					this.output.write(`${JSON.stringify(req.parameters, null, 2)}\n`);
					continue;
				}
				if (a === 'e' || a === 'edit') {
					const text = await rl.question('  New parameters as one line of JSON: ', { signal });
					try {
						const parameters = JSON.parse(text) as unknown;
						if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) throw new Error('expected a JSON object');
						return { approve: true, parameters: parameters as Record<string, unknown>, reason: 'edited then approved' };
					} catch (err) {
						this.output.write(`  Not valid: ${(err as Error).message}\n`);
					}
				}
			}
		} catch {
			return { approve: false, reason: signal.aborted ? 'the run was cancelled' : 'no answer' };
		} finally {
			rl.close();
			this.afterPrompt();
		}
	}
}
