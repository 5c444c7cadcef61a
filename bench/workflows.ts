// Workflow files for a DAG: every step is `util wait {ms}` (ms 0 runs no timer).
import { depIds, type Dag } from './dag';

export const WORKFLOW_NAME = 'bench';

export function workflowText(dag: Dag, concurrency: number): string {
	const deps = depIds(dag);
	const instructions = dag.ids.map((id, i) => ({
		id,
		type: 'util',
		operation: 'wait',
		parameters: { ms: dag.durations[i] },
		dependencies: deps[i],
	}));
	return JSON.stringify({ version: 1, name: WORKFLOW_NAME, settings: { mode: 'parallel', max_parallel: concurrency, on_failure: 'stop' }, instructions });
}
