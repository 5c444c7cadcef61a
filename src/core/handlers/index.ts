// The built-in handler types, registered in one place.
import { HandlerRegistry } from './registry';

export { HandlerRegistry } from './registry';

/** A registry holding the built-in handlers (file, exec, git, util). */
export function createDefaultRegistry(): HandlerRegistry {
	const registry = new HandlerRegistry();
	return registry;
}
