import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine } from '../../src/core/engine';

const EXAMPLES = join(__dirname, '..', '..', 'examples');

describe('examples', () => {
	const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.json'));

	it('there are examples to validate', () => assert.ok(files.length >= 5, files.join(', ')));

	for (const file of files) {
		it(`${file} validates and plans`, async () => {
			const engine = await createEngine({ workspace: join(EXAMPLES, '..') });
			const wf = await engine.load(join(EXAMPLES, file));
			const plan = await engine.plan(wf);
			assert.ok(plan.steps.length > 0);
		});
	}
});
