// The one registry of handler types; later issues register llm, quality and agent here.
import type { Handler, OperationSpec } from './types';

export class HandlerRegistry {
	private readonly handlers = new Map<string, Handler>();

	register(handler: Handler): this {
		if (this.handlers.has(handler.type)) throw new Error(`handler type "${handler.type}" is already registered`);
		this.handlers.set(handler.type, handler);
		return this;
	}

	get(type: string): Handler | undefined {
		return this.handlers.get(type);
	}

	operation(type: string, operation: string): OperationSpec<never> | undefined {
		const ops = this.handlers.get(type)?.operations;
		return ops && Object.hasOwn(ops, operation) ? ops[operation] : undefined;
	}

	types(): string[] {
		return [...this.handlers.keys()];
	}

	all(): Handler[] {
		return [...this.handlers.values()];
	}
}
