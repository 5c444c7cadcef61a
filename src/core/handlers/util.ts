// util: wait, echo, set_context, fail. `wait` with ms 0 is the scheduler benchmark's step, so run stays minimal.
import { z } from 'zod';
import { StepError } from '../errors';
import type { Handler, StepContext } from './types';
import { defineOperation } from './types';
import { abortError, clip } from './shared';

const DONE: Promise<undefined> = Promise.resolve(undefined);

const waitParams = z
	.object({
		ms: z.number().int().min(0).max(2_147_483_647).describe('Milliseconds to wait; 0 completes at once without a timer.'),
	})
	.strict();

function sleep(ms: number, ctx: StepContext): Promise<undefined> {
	const signal = ctx.signal;
	if (signal.aborted) return Promise.reject(abortError(signal, `wait ${ms} ms`));
	return new Promise<undefined>((resolve, reject) => {
		const onAbort = () => {
			clearTimeout(timer);
			reject(abortError(signal, `wait ${ms} ms`));
		};
		const timer = setTimeout(() => {
			signal.removeEventListener('abort', onAbort);
			resolve(undefined);
		}, ms);
		signal.addEventListener('abort', onAbort, { once: true });
	});
}

const wait = defineOperation({
	params: waitParams,
	effect: 'none',
	summary: (p) => `wait ${p.ms} ms`,
	estimateMs: (p) => (p.ms > 0 ? p.ms : undefined),
	run: (p, ctx) => (p.ms === 0 ? (ctx.signal.aborted ? Promise.reject(abortError(ctx.signal, 'wait 0 ms')) : DONE) : sleep(p.ms, ctx)),
});

const echo = defineOperation({
	params: z
		.object({
			value: z.unknown().describe("Any JSON value; it becomes the step's output."),
		})
		.strict(),
	effect: 'none',
	summary: (p) => `echo ${clip(JSON.stringify(p.value) ?? 'undefined', 60)}`,
	run: (p) => Promise.resolve(p.value),
});

const setContext = defineOperation({
	params: z
		.object({
			key: z.string().min(1).describe('Global context key; read back with ${context.KEY}.'),
			value: z.unknown().describe('Any JSON value to store; it is also the output.'),
		})
		.strict(),
	effect: 'none',
	summary: (p) => `set context "${p.key}" = ${clip(JSON.stringify(p.value) ?? 'undefined', 60)}`,
	run: (p, ctx) => {
		ctx.setContext(p.key, p.value);
		return Promise.resolve(p.value);
	},
});

const fail = defineOperation({
	params: z
		.object({
			message: z.string().min(1).describe('Why the step fails; becomes the error message.'),
		})
		.strict(),
	effect: 'none',
	summary: (p) => `fail: ${clip(p.message)}`,
	run: (p) => Promise.reject(new StepError('failed', p.message, { permanent: true })),
});

/** Steps that do no I/O: delays, constants, context updates and deliberate failures. */
export const utilHandler: Handler = {
	type: 'util',
	description: 'Waits, constants, global context and deliberate failures.',
	operations: { wait, echo, set_context: setContext, fail },
};
