// A tiny registry for the workflow front-end tests: two handler types with strict zod parameters.
import { z } from 'zod';
import { HandlerRegistry } from '../../../src/core/handlers/registry';
import { defineOperation } from '../../../src/core/handlers/types';

/** file: create / read; util: echo / wait. Operations do nothing: these tests never run steps. */
export function testRegistry(): HandlerRegistry {
	const registry = new HandlerRegistry();
	registry.register({
		type: 'file',
		description: 'files',
		operations: {
			create: defineOperation({
				params: z.object({ path: z.string().min(1), content: z.string().default(''), overwrite: z.boolean().optional() }).strict(),
				effect: 'workspace',
				summary: (p) => `create ${p.path}`,
				run: async () => undefined,
			}),
			read: defineOperation({
				params: z.object({ path: z.string().min(1) }).strict(),
				effect: 'none',
				summary: (p) => `read ${p.path}`,
				run: async () => '',
			}),
		},
	});
	registry.register({
		type: 'util',
		description: 'utilities',
		operations: {
			echo: defineOperation({
				params: z.object({ value: z.unknown().optional() }).strict(),
				effect: 'none',
				summary: () => 'echo',
				run: async (p) => p.value,
			}),
			wait: defineOperation({
				params: z.object({ ms: z.number().int().min(0) }).strict(),
				effect: 'none',
				summary: (p) => `wait ${p.ms} ms`,
				run: async () => undefined,
			}),
		},
	});
	return registry;
}
