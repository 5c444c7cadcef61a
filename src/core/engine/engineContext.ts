// What the engine's run, resume, rollback and commit code shares: built once by createEngine, passed explicitly.
import type { HandlerRegistry } from '../handlers/registry';
import type { Sandbox } from '../sandbox/types';
import type { GcPolicy } from '../state/gc';
import type { ParseOptions } from '../workflow/parse';
import type { RunServices } from './runTypes';

export interface EngineContext {
	/** Where runs, checkpoints, context and stats live (default `<workspace>/.quantum`). */
	stateDir: string;
	/** Its root is the workspace. */
	sandbox: Sandbox;
	registry: HandlerRegistry;
	/** What every run gets; the logger also feeds the event stream. */
	services: RunServices;
	/** For workflows read back when a run resumes. */
	parseOptions: ParseOptions;
	/** Limits for old run state, applied after each run; DEFAULT_GC_POLICY fills the rest. */
	gc?: Partial<GcPolicy>;
	/** Rereads the workspace's agent files; a new run with agent steps calls it first (they may have been edited). */
	reloadAgents?: () => Promise<unknown>;
}
