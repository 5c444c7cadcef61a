// What `qo serve` (and the extension) run side by side for a workspace: the API, the inbox watcher, the schedules.
// Each is a service with start and stop, built from the shared pieces below; adding one is one line in the host.
import type { Engine } from '../engine';
import type { Logger } from '../ports';
import type { DecisionBroker } from './triggers/decisionBroker';
import type { Dispatcher } from './triggers/dispatcher';

/** What every service is given: one engine, one dispatcher (the front door of every trigger), one decision queue. */
export interface ServiceContext {
	engine: Engine;
	dispatcher: Dispatcher;
	broker: DecisionBroker;
	logger: Logger;
}

export interface BackgroundService {
	/** Short, for messages: "api", "inbox", "schedules". */
	readonly name: string;
	/** Starts it; resolves with a line for people saying where it is ("listening on http://127.0.0.1:4711 …"). */
	start(): Promise<string>;
	/** Stops taking new work (new requests, new files, due schedules); what already runs goes on. */
	stopAccepting?(): void;
	/** Resolves when work it drives itself, outside the dispatcher (the API's goals), has ended. */
	idle?(): Promise<void>;
	/** Stops it for good: called after the runs it started have finished (or were cancelled). */
	stop(): Promise<void>;
	/** For an exit that cannot wait (a second Ctrl-C): undo what must not outlive the process (api.json). Synchronous. */
	stopNow?(): void;
}
