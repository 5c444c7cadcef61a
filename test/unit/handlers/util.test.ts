import assert from 'node:assert/strict';
import { StepError } from '../../../src/core/errors';
import { utilHandler } from '../../../src/core/handlers/util';
import { tempDir } from '../../helpers/tmp';
import { describeOp, makeContext, paramsError, runOp } from './stepContext';

describe('util handler', () => {
	const ws = tempDir('qo-util-');

	it('wait with ms 0 completes at once without a timer', async () => {
		const ctx = await makeContext(ws);
		const realSetTimeout = globalThis.setTimeout;
		let timers = 0;
		globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
			timers++;
			return realSetTimeout(...args);
		}) as typeof setTimeout;
		try {
			const op = utilHandler.operations.wait;
			const params = op.params.parse({ ms: 0 }) as never;
			for (let i = 0; i < 1000; i++) assert.equal(await op.run(params, ctx), undefined);
		} finally {
			globalThis.setTimeout = realSetTimeout;
		}
		assert.equal(timers, 0);
	});

	it('wait waits about ms milliseconds', async () => {
		const ctx = await makeContext(ws);
		const t0 = Date.now();
		await runOp(utilHandler, 'wait', { ms: 50 }, ctx);
		assert.ok(Date.now() - t0 >= 45);
	});

	it('wait stops promptly when the step is cancelled', async () => {
		const ac = new AbortController();
		const ctx = await makeContext(ws, { signal: ac.signal });
		const t0 = Date.now();
		setTimeout(() => ac.abort(), 20);
		await assert.rejects(runOp(utilHandler, 'wait', { ms: 10_000 }, ctx), (err: unknown) => StepError.is(err, 'cancelled'));
		assert.ok(Date.now() - t0 < 1000);
	});

	it('wait rethrows the engine\'s timeout reason', async () => {
		const ac = new AbortController();
		const ctx = await makeContext(ws, { signal: ac.signal });
		ac.abort(new StepError('timeout', 'timed out after 5 ms'));
		await assert.rejects(runOp(utilHandler, 'wait', { ms: 0 }, ctx), (err: unknown) => StepError.is(err, 'timeout'));
		await assert.rejects(runOp(utilHandler, 'wait', { ms: 100 }, ctx), (err: unknown) => StepError.is(err, 'timeout'));
	});

	it('wait refuses negative, fractional and missing ms', () => {
		assert.ok(paramsError(utilHandler, 'wait', { ms: -1 }));
		assert.ok(paramsError(utilHandler, 'wait', { ms: 1.5 }));
		assert.ok(paramsError(utilHandler, 'wait', {}));
		assert.ok(paramsError(utilHandler, 'wait', { ms: 1, extra: true }));
	});

	it('echo outputs its value unchanged', async () => {
		const ctx = await makeContext(ws);
		const value = { a: [1, 'two', null], b: { c: true } };
		assert.deepEqual(await runOp(utilHandler, 'echo', { value }, ctx), value);
		assert.equal(await runOp(utilHandler, 'echo', { value: 'hi' }, ctx), 'hi');
	});

	it('set_context stores the value in the global context and outputs it', async () => {
		const ctx = await makeContext(ws);
		assert.equal(await runOp(utilHandler, 'set_context', { key: 'build', value: 42 }, ctx), 42);
		assert.equal(ctx.context.get('build'), 42);
		assert.ok(paramsError(utilHandler, 'set_context', { key: '', value: 1 }));
	});

	it('fail throws a permanent StepError with the message', async () => {
		const ctx = await makeContext(ws);
		await assert.rejects(runOp(utilHandler, 'fail', { message: 'stop here' }, ctx), (err: unknown) => {
			assert.ok(StepError.is(err, 'failed'));
			assert.equal(err.message, 'stop here');
			assert.equal(err.permanent, true);
			return true;
		});
	});

	it('describes each operation in one line with no effects', async () => {
		assert.equal((await describeOp(utilHandler, 'wait', { ms: 5 }, ws)).summary, 'wait 5 ms');
		assert.equal((await describeOp(utilHandler, 'echo', { value: { a: 1 } }, ws)).summary, 'echo {"a":1}');
		assert.equal((await describeOp(utilHandler, 'fail', { message: 'x' }, ws)).summary, 'fail: x');
		for (const op of Object.keys(utilHandler.operations)) assert.equal(utilHandler.operations[op].effect, 'none');
	});
});
