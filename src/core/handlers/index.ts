// The built-in handler types, registered in one place.
import { agentHandler } from './agent';
import { execHandler } from './exec';
import { fileHandler } from './file';
import { gitHandler } from './git';
import { llmHandler } from './llm';
import { qualityHandler } from './quality';
import { HandlerRegistry } from './registry';
import { utilHandler } from './util';

export { HandlerRegistry } from './registry';
export { agentHandler } from './agent';
export { execHandler } from './exec';
export { fileHandler } from './file';
export { gitHandler } from './git';
export { llmHandler } from './llm';
export { qualityHandler } from './quality';
export { utilHandler } from './util';

/** A registry holding the built-in handlers (file, exec, git, util, llm, quality, agent). */
export function createDefaultRegistry(): HandlerRegistry {
	return new HandlerRegistry()
		.register(fileHandler)
		.register(execHandler)
		.register(gitHandler)
		.register(utilHandler)
		.register(llmHandler)
		.register(qualityHandler)
		.register(agentHandler);
}
