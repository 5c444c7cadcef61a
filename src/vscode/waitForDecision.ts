// Resolves when a decision (for a step, if given) is on the board: for the API and the integration tests.
import type { DecisionView } from '../protocol/viewModels';
import type { BoardModel } from './model/boardModel';

export function waitForDecision(board: BoardModel, stepId?: string, timeoutMs = 30_000): Promise<DecisionView> {
	const find = () => board.snapshot().decisions.find((d) => stepId === undefined || d.stepId === stepId);
	const now = find();
	if (now) return Promise.resolve(now);
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			sub.dispose();
			reject(new Error(`no decision${stepId ? ` for ${stepId}` : ''} within ${timeoutMs} ms`));
		}, timeoutMs);
		const sub = board.onChange(() => {
			const d = find();
			if (!d) return;
			clearTimeout(timer);
			sub.dispose();
			resolve(d);
		});
	});
}
