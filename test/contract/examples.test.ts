import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine } from '../../src/core/engine';

const EXAMPLES = join(__dirname, '..', '..', 'examples');

describe('examples', () => {
	const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.json'));
	const TOUR = join(EXAMPLES, 'workspace', 'workflows');
	const tour = readdirSync(TOUR).filter((f) => f.endsWith('.workflow.json'));

	it('there are examples to validate', () => assert.ok(files.length >= 5, files.join(', ')));

	for (const file of files) {
		it(`${file} validates and plans`, async () => {
			const engine = await createEngine({ workspace: join(EXAMPLES, '..') });
			const wf = await engine.load(join(EXAMPLES, file));
			const plan = await engine.plan(wf);
			assert.ok(plan.steps.length > 0);
		});
	}

	it('the example workspace has the four tour workflows', () => assert.equal(tour.length, 4, tour.join(', ')));

	for (const file of tour) {
		it(`workspace/workflows/${file} validates and plans`, async () => {
			const engine = await createEngine({ workspace: join(EXAMPLES, 'workspace') });
			const plan = await engine.plan(await engine.load(join(TOUR, file)));
			assert.ok(plan.steps.length > 0);
		});
	}

	it('workspace/workflows/not-a-workflow.json shows its problems with line and JSON path', async () => {
		const engine = await createEngine({ workspace: join(EXAMPLES, 'workspace') });
		await assert.rejects(engine.load(join(TOUR, 'not-a-workflow.json')), (err: Error & { problems?: { location: { line?: number; path?: string } }[] }) => {
			assert.equal(err.problems?.length, 2);
			assert.ok(err.problems!.every((p) => p.location.line && p.location.path));
			return true;
		});
	});
});
