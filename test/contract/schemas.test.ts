import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSchemas } from '../../scripts/generateSchemas';

const dir = join(__dirname, '..', '..', 'schemas');

describe('schemas/*.json', () => {
	const generated = generateSchemas();

	for (const [name, text] of Object.entries(generated)) {
		it(`${name} matches the zod schemas and registered handlers`, () => {
			let committed: string;
			try {
				committed = readFileSync(join(dir, name), 'utf8');
			} catch {
				assert.fail(`schemas/${name} is missing: run \`npm run schemas\``);
			}
			assert.ok(committed === text, `schemas/${name} is stale: run \`npm run schemas\` and commit the result`);
		});
	}

	it('holds no schema the generator no longer writes', () => {
		const stale = readdirSync(dir).filter((f) => f.endsWith('.schema.json') && !(f in generated));
		assert.deepEqual(stale, [], 'remove these files, or run `npm run schemas`');
	});

	it('is deterministic', () => {
		assert.deepEqual(generateSchemas(), generated);
	});

	it('accepts the single-instruction form and constrains parameters per type and operation', () => {
		const schema = JSON.parse(generated['workflow.schema.json']) as Record<string, unknown> & { $defs: Record<string, { allOf?: unknown[] }> };
		assert.deepEqual(schema.then, { $ref: '#/$defs/instructionFile' });
		assert.deepEqual(schema.else, { $ref: '#/$defs/workflow' });
		const conditions = schema.$defs.instruction.allOf ?? [];
		for (const cond of conditions as { then: { properties: { parameters?: { $ref: string } } } }[]) {
			const ref = cond.then.properties.parameters?.$ref;
			if (ref) assert.ok(ref.slice('#/$defs/'.length) in schema.$defs, `${ref} is defined`);
		}
	});
});
