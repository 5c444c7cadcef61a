// Writes schemas/*.json from the zod schemas and the registered handlers' parameters, and schemas/openapi.json from
// the API's route table (npm run schemas).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { createDefaultRegistry } from '../src/core/handlers';
import type { HandlerRegistry } from '../src/core/handlers/registry';
import { openApiDocument } from '../src/core/services/api/openapi';
import { instructionSchema, workflowSchema } from '../src/core/workflow/schema';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const DRAFT = 'https://json-schema.org/draft/2020-12/schema';

/** File name → content of every generated schema; deterministic, so a test can compare with the committed files. */
export function generateSchemas(registry: HandlerRegistry = createDefaultRegistry()): Record<string, string> {
	const defs: JsonObject = {};
	const conditions: Json[] = [];
	const types = registry.types().sort();
	for (const type of types) {
		const ops = Object.keys(registry.get(type)?.operations ?? {}).sort();
		conditions.push({
			if: { properties: { type: { const: type } }, required: ['type'] },
			then: { properties: { operation: { enum: ops } } },
		});
		for (const op of ops) {
			const spec = registry.operation(type, op);
			if (!spec) continue;
			const name = `${type}.${op}`;
			defs[name] = hoistDefs(toJson(spec.params), name, defs);
			conditions.push({
				if: { properties: { type: { const: type }, operation: { const: op } }, required: ['type', 'operation'] },
				then: { properties: { parameters: { $ref: `#/$defs/${name}` } } },
			});
		}
	}
	defs.reference = {
		type: 'string',
		pattern: '^\\$\\{[^}]+\\}$',
		description: 'A whole-string ${...} reference; it takes the type of the value it names when the step runs.',
	};

	const withConditions = (schema: JsonObject): JsonObject => {
		const props = schema.properties as JsonObject;
		if (types.length) props.type = { ...(props.type as JsonObject), enum: types };
		return conditions.length ? { ...schema, allOf: conditions } : schema;
	};
	const instruction = withConditions(toJson(instructionSchema));
	const instructionFile = withConditions(toJson(instructionSchema.extend({ $schema: z.string().optional() })));
	const workflow = toJson(workflowSchema);
	((workflow.properties as JsonObject).instructions as JsonObject).items = { $ref: '#/$defs/instruction' };

	const sortedDefs = (extra: JsonObject): JsonObject => sortKeys({ ...defs, ...extra });
	const workflowFile: JsonObject = {
		$schema: DRAFT,
		title: 'Quantum Orchestrator workflow',
		description: 'A workflow ({ name, instructions }) or a single instruction ({ type, operation, parameters }).',
		if: { type: 'object', required: ['type', 'operation'], not: { required: ['instructions'] } },
		then: { $ref: '#/$defs/instructionFile' },
		else: { $ref: '#/$defs/workflow' },
		$defs: sortedDefs({ workflow, instruction, instructionFile }),
	};
	const singleFile: JsonObject = {
		$schema: DRAFT,
		title: 'Quantum Orchestrator instruction',
		...instructionFile,
		$defs: sortedDefs({}),
	};
	return {
		'instruction.schema.json': `${JSON.stringify(singleFile, null, 2)}\n`,
		'workflow.schema.json': `${JSON.stringify(workflowFile, null, 2)}\n`,
		'openapi.json': `${JSON.stringify(openApiDocument(), null, 2)}\n`,
	};
}

/** The input side of a zod schema (defaults are optional), without its own `$schema` line. */
function toJson(schema: z.ZodType): JsonObject {
	const out = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as JsonObject;
	delete out.$schema;
	return out;
}

/**
 * Moves a parameter schema's own `$defs` into the shared ones under `<type>.<op>.<name>` (rewriting its `$ref`s), and
 * lets each non-string top-level parameter also be a whole-string `${...}` reference, as the parser accepts.
 */
function hoistDefs(schema: JsonObject, prefix: string, defs: JsonObject): JsonObject {
	const local = schema.$defs as JsonObject | undefined;
	delete schema.$defs;
	const rewrite = (node: Json): Json => {
		if (Array.isArray(node)) return node.map(rewrite);
		if (node === null || typeof node !== 'object') return node;
		const out: JsonObject = {};
		for (const [k, v] of Object.entries(node)) {
			out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/$defs/') ? `#/$defs/${prefix}.${v.slice(8)}` : rewrite(v);
		}
		return out;
	};
	if (local) for (const [name, def] of Object.entries(local)) defs[`${prefix}.${name}`] = rewrite(def);
	const result = rewrite(schema) as JsonObject;
	const props = result.properties;
	if (props && typeof props === 'object' && !Array.isArray(props)) {
		for (const [key, prop] of Object.entries(props)) {
			if (prop && typeof prop === 'object' && !Array.isArray(prop) && !acceptsString(prop)) {
				const { description, ...rest } = prop;
				const wrapped: JsonObject = { anyOf: [rest, { $ref: '#/$defs/reference' }] };
				if (description !== undefined) wrapped.description = description;
				props[key] = wrapped;
			}
		}
	}
	return result;
}

/** Whether any string (so also a `${...}` reference) passes this schema, judged conservatively. */
function acceptsString(schema: JsonObject): boolean {
	for (const key of ['anyOf', 'oneOf'] as const) {
		const alts = schema[key];
		if (Array.isArray(alts)) return alts.some((a) => a !== null && typeof a === 'object' && !Array.isArray(a) && acceptsString(a));
	}
	if (schema.$ref !== undefined || schema.enum !== undefined || schema.const !== undefined) return false;
	if (schema.pattern !== undefined || schema.format !== undefined) return false;
	const t = schema.type;
	return t === undefined || t === 'string' || (Array.isArray(t) && t.includes('string'));
}

function sortKeys(obj: JsonObject): JsonObject {
	const out: JsonObject = {};
	for (const key of Object.keys(obj).sort()) out[key] = obj[key];
	return out;
}

if (require.main === module) {
	const dir = join(__dirname, '..', 'schemas');
	mkdirSync(dir, { recursive: true });
	for (const [name, text] of Object.entries(generateSchemas())) {
		writeFileSync(join(dir, name), text);
		console.log(`wrote schemas/${name}`);
	}
}
