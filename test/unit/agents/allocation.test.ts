import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
	allocate,
	allocateFromRegistry,
	ALLOCATION_WEIGHTS,
	scoreOf,
	snapshotAgents,
	type AgentSnapshot,
	type Allocation,
	type AllocationTask,
} from '../../../src/core/agents/allocation';
import { LearningStore } from '../../../src/core/agents/learning';
import { AgentRegistry } from '../../../src/core/agents/registry';
import { AgentError } from '../../../src/core/errors';
import { tempDir } from '../../helpers/tmp';

const builtins = () => snapshotAgents(new AgentRegistry());

function snap(name: string, capabilities: string[], extra: Partial<AgentSnapshot> = {}): AgentSnapshot {
	return { name, capabilities, max: 1, running: 0, ...extra };
}

describe('allocation', () => {
	it('the weights are the documented 40/30/20/10 and add up to one', () => {
		assert.deepEqual({ ...ALLOCATION_WEIGHTS }, { capability: 0.4, load: 0.3, performance: 0.2, specialisation: 0.1 });
		assert.equal(scoreOf({ capability: 1, load: 1, performance: 1, specialisation: 1 }), 1);
	});

	describe('documented scenarios (built-in agents, nothing learned yet)', () => {
		it('"implement a feature" goes to the coder, and says why in one line', () => {
			const a = allocate({ capabilities: ['code', 'implement'] }, builtins());
			assert.equal(a.agent, 'coder');
			assert.equal(a.manual, false);
			assert.deepEqual(a.parts, { capability: 1, load: 1, performance: 0.5, specialisation: 0.5 });
			assert.equal(a.reason, 'coder: capability 1.00 ×0.4 + load 1.00 ×0.3 + performance 0.50 ×0.2 + specialisation 0.50 ×0.1 = 0.85');
			assert.equal(a.score, 0.85);
			assert.deepEqual(
				a.candidates.map((c) => [c.agent, c.capable, c.skipped]),
				[
					['coder', true, undefined],
					['architect', false, 'has none of the required capabilities'],
					['reviewer', false, 'has none of the required capabilities'],
					['tester', false, 'has none of the required capabilities'],
				],
			);
		});

		it('a security review goes to the reviewer', () => {
			assert.equal(allocate({ capabilities: ['review', 'security'] }, builtins()).agent, 'reviewer');
		});

		it('capability names match case-insensitively', () => {
			assert.equal(allocate({ capabilities: ['Test', ' QUALITY '] }, builtins()).agent, 'tester');
		});

		it('an exact tie is broken by name, the same way every time', () => {
			// architect and reviewer both have `analysis` among three capabilities.
			const a = allocate({ capabilities: ['analysis'] }, builtins());
			assert.equal(a.agent, 'architect');
			assert.equal(a.candidates[1].agent, 'reviewer');
			assert.equal(a.candidates[1].score, a.score);
			assert.equal(a.candidates[1].skipped, 'lower score');
		});

		it('half the capabilities from a focused agent beat half from a broad one (specialisation)', () => {
			const a = allocate({ capabilities: ['test', 'code'] }, builtins());
			assert.equal(a.agent, 'tester');
			assert.equal(a.parts.specialisation, 0.5);
			assert.equal(a.candidates.find((c) => c.agent === 'coder')?.parts.specialisation, 0.25);
		});

		it('no capabilities required: every agent can, and load decides', () => {
			const agents = builtins().map((s) => (s.name === 'architect' ? { ...s, running: 1 } : s));
			const a = allocate({ capabilities: [] }, agents);
			assert.equal(a.agent, 'coder');
			assert.equal(a.parts.capability, 1);
		});
	});

	it('a less loaded agent with the same skills wins (load)', () => {
		const agents = [snap('coder', ['code'], { max: 2, running: 1 }), snap('coder-b', ['code'], { max: 2 })];
		const a = allocate({ capabilities: ['code'] }, agents);
		assert.equal(a.agent, 'coder-b');
		assert.equal(a.candidates[1].parts.load, 0.5);
	});

	it('an agent with a better record wins (performance: success rate, then speed)', () => {
		const agents = [
			snap('flaky', ['code'], { performance: { tasks: 10, successes: 3, meanMs: 4000 } }),
			snap('solid', ['code'], { performance: { tasks: 10, successes: 9, meanMs: 1000 } }),
		];
		const a = allocate({ capabilities: ['code'] }, agents);
		assert.equal(a.agent, 'solid');
		const flaky = a.candidates.find((c) => c.agent === 'flaky')!;
		assert.ok(a.parts.performance > 0.8 && flaky.parts.performance < 0.4, JSON.stringify(a.candidates));
		// Equal success, different speed: the faster one.
		const speed = allocate({ capabilities: ['code'] }, [
			snap('slow', ['code'], { performance: { tasks: 5, successes: 5, meanMs: 9000 } }),
			snap('fast', ['code'], { performance: { tasks: 5, successes: 5, meanMs: 3000 } }),
		]);
		assert.equal(speed.agent, 'fast');
	});

	it('a new agent gets a neutral prior, neither trusted nor distrusted', () => {
		const a = allocate({ capabilities: ['code'] }, [snap('new', ['code'])]);
		assert.equal(a.parts.performance, 0.5);
		const one = allocate({ capabilities: ['code'] }, [snap('once', ['code'], { performance: { tasks: 1, successes: 0 } })]);
		assert.ok(one.parts.performance < 0.5 && one.parts.performance > 0.3, String(one.parts.performance));
	});

	it('a full agent is skipped for one with a free slot, even a weaker one', () => {
		const agents = [
			snap('coder', ['code', 'fix'], { max: 2, running: 2, performance: { tasks: 20, successes: 20, meanMs: 100 } }),
			snap('junior', ['code'], { performance: { tasks: 5, successes: 1 } }),
		];
		const a = allocate({ capabilities: ['code', 'fix'] }, agents);
		assert.equal(a.agent, 'junior');
		assert.equal(a.candidates.find((c) => c.agent === 'coder')?.skipped, 'at its limit (2/2 running)');
	});

	it('when every capable agent is full, the least loaded one is chosen and the reason says so', () => {
		const agents = [snap('coder', ['code'], { max: 2, running: 2 }), snap('helper', ['code'], { max: 4, running: 4 }), snap('idle', ['docs'])];
		const a = allocate({ capabilities: ['code'] }, agents);
		assert.equal(a.agent, 'coder', 'equal load ratio: score, then name');
		assert.match(a.reason, /^every capable agent is at its limit, so the least loaded \(2\/2 running\) — coder: capability 1\.00/);
		const b = allocate({ capabilities: ['code'] }, [snap('a', ['code'], { max: 1, running: 3 }), snap('b', ['code'], { max: 2, running: 2 })]);
		assert.equal(b.agent, 'b');
	});

	it('manual assignment overrides the score, records it, and says what the agent lacks', () => {
		const a = allocate({ capabilities: ['code'], agent: 'reviewer' }, builtins());
		assert.equal(a.agent, 'reviewer');
		assert.equal(a.manual, true);
		assert.equal(a.parts.capability, 0);
		assert.equal(
			a.reason,
			'assigned by the step; it lacks code — reviewer: capability 0.00 ×0.4 + load 1.00 ×0.3 + performance 0.50 ×0.2 + specialisation 0.00 ×0.1 = 0.40',
		);
		assert.equal(a.candidates.find((c) => c.agent === 'coder')?.skipped, 'not assigned by the step');
		const full = allocate({ capabilities: ['code'], agent: 'coder' }, [snap('coder', ['code'], { running: 1 })]);
		assert.match(full.reason, /^assigned by the step; it is at its limit \(1\/1\): the task waits for a slot — /);
	});

	it('an unknown manual agent is an error listing the agents', () => {
		assert.throws(
			() => allocate({ capabilities: ['code'], agent: 'codr' }, builtins()),
			(err: unknown) => {
				assert.ok(AgentError.is(err, 'unknown-agent'));
				assert.equal(err.message, "no agent named 'codr' (did you mean 'coder'?); agents: architect, coder, reviewer, tester");
				return true;
			},
		);
	});

	it('no capable agent is an error naming the capabilities and the agents', () => {
		assert.throws(
			() => allocate({ capabilities: ['translate', 'Legal'] }, builtins()),
			(err: unknown) => {
				assert.ok(AgentError.is(err, 'no-capable-agent'));
				assert.match(err.message, /^no agent has any of the capabilities translate, legal; agents: architect \[design, planning, analysis\], coder \[code, implement, refactor, fix\]/);
				assert.match(err.message, /Add an agent in \.quantum\/agents\/ or assign one with "agent"$/);
				return true;
			},
		);
		assert.throws(() => allocate({ capabilities: ['code'] }, []), /no agents are registered/);
	});

	it('agents that list step types only take those', () => {
		const agents = [snap('runner', ['build'], { step_types: ['exec'] }), snap('any', ['build'], { performance: { tasks: 4, successes: 0 } })];
		assert.equal(allocate({ capabilities: ['build'], stepType: 'exec' }, agents).agent, 'runner');
		const a = allocate({ capabilities: ['build'], stepType: 'llm' }, agents);
		assert.equal(a.agent, 'any');
		assert.equal(a.candidates.find((c) => c.agent === 'runner')?.skipped, 'does not take llm steps');
	});

	it('from the registry: current load and the learning store (per step type) feed the score', async () => {
		const root = tempDir();
		const learning = LearningStore.empty(root);
		const reg = new AgentRegistry({ learning });
		reg.register({ name: 'coder-b', capabilities: ['code', 'implement', 'refactor', 'fix'], max_concurrent_tasks: 2 });
		// The built-in coder keeps failing this kind of task; coder-b has never tried.
		for (let i = 0; i < 4; i++) reg.recordOutcome('coder', { stepType: 'agent.task', ok: false, durationMs: 1000 });
		let a = allocateFromRegistry(reg, { capabilities: ['code'], stepType: 'agent.task' });
		assert.equal(a.agent, 'coder-b');
		// For another step type coder's overall record (all failures) still counts against it.
		assert.equal(allocateFromRegistry(reg, { capabilities: ['code'], stepType: 'other' }).agent, 'coder-b');
		const lease = reg.acquire('coder-b')!;
		reg.acquire('coder-b');
		a = allocateFromRegistry(reg, { capabilities: ['code'], stepType: 'agent.task' });
		assert.equal(a.agent, 'coder', 'coder-b is full now');
		lease.release();
		// Without a learning store, the session's metrics are used.
		const plain = new AgentRegistry();
		plain.recordOutcome('coder', { ok: false, durationMs: 5 });
		assert.equal(snapshotAgents(plain).find((s) => s.name === 'coder')?.performance?.tasks, 1);
	});

	describe('properties', () => {
		const capabilityPool = ['code', 'test', 'docs', 'review', 'design', 'fix'];
		const caps = fc.uniqueArray(fc.constantFrom(...capabilityPool), { minLength: 1, maxLength: 4 });
		const performance = fc.option(
			fc
				.record({ tasks: fc.integer({ min: 0, max: 30 }), ok: fc.double({ min: 0, max: 1, noNaN: true }), meanMs: fc.option(fc.integer({ min: 1, max: 100_000 }), { nil: undefined }) })
				.map(({ tasks, ok, meanMs }) => ({ tasks, successes: Math.floor(tasks * ok), ...(meanMs !== undefined && tasks > 0 ? { meanMs } : {}) })),
			{ nil: undefined },
		);
		const agent = (name: string) =>
			fc.record({ capabilities: caps, max: fc.integer({ min: 1, max: 4 }), busy: fc.double({ min: 0, max: 1.5, noNaN: true }), performance }).map(
				({ capabilities, max, busy, performance: p }): AgentSnapshot => ({
					name,
					capabilities,
					max,
					running: Math.floor(max * busy),
					...(p ? { performance: p } : {}),
				}),
			);
		const agents = fc.integer({ min: 1, max: 6 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => agent(`agent-${i}`))));
		const task = fc.record({ capabilities: fc.uniqueArray(fc.constantFrom(...capabilityPool), { maxLength: 3 }) });

		function tryAllocate(t: AllocationTask, list: AgentSnapshot[]): Allocation | undefined {
			try {
				return allocate(t, list);
			} catch (err) {
				assert.ok(AgentError.is(err, 'no-capable-agent'), String(err));
				return undefined;
			}
		}

		it('every score and part is in [0, 1], and the chosen agent is capable, free if any is, and the best of those', () => {
			fc.assert(
				fc.property(agents, task, (list, t) => {
					const a = tryAllocate(t, list);
					if (!a) {
						assert.ok(t.capabilities.length > 0 && list.every((s) => !s.capabilities.some((c) => t.capabilities.includes(c))));
						return;
					}
					for (const c of a.candidates) {
						assert.ok(c.score >= 0 && c.score <= 1, c.reason);
						for (const v of Object.values(c.parts)) assert.ok(v >= 0 && v <= 1, c.reason);
						assert.ok(Math.abs(c.score - scoreOf(c.parts)) < 1e-12);
					}
					const chosen = a.candidates.find((c) => c.agent === a.agent)!;
					assert.ok(chosen.capable);
					const free = a.candidates.filter((c) => c.capable && !c.full);
					if (free.length) {
						assert.ok(!chosen.full);
						for (const c of free) assert.ok(chosen.score >= c.score - 1e-12, `${a.reason} vs ${c.reason}`);
					}
				}),
				{ numRuns: 300 },
			);
		});

		it('the result does not depend on the order agents are listed in', () => {
			fc.assert(
				fc.property(
					agents.chain((list) => fc.tuple(fc.constant(list), fc.shuffledSubarray(list, { minLength: list.length, maxLength: list.length }))),
					task,
					([list, shuffled], t) => {
						assert.equal(tryAllocate(t, shuffled)?.agent, tryAllocate(t, list)?.agent);
					},
				),
				{ numRuns: 200 },
			);
		});

		it('manual assignment always wins, whatever the scores', () => {
			fc.assert(
				fc.property(
					agents.chain((list) => fc.tuple(fc.constant(list), fc.constantFrom(...list.map((s) => s.name)))),
					task,
					([list, pick], t) => {
						const a = allocate({ ...t, agent: pick }, list);
						assert.equal(a.agent, pick);
						assert.equal(a.manual, true);
						assert.match(a.reason, /^assigned by the step/);
						assert.equal(a.score, a.candidates.find((c) => c.agent === pick)!.score);
					},
				),
				{ numRuns: 200 },
			);
		});

		it('an agent strictly better on every part wins', () => {
			fc.assert(
				fc.property(agent('a'), agent('b'), task, (a, b, t) => {
					const result = tryAllocate(t, [b, a]);
					fc.pre(result !== undefined);
					const [pa, pb] = ['a', 'b'].map((n) => result!.candidates.find((c) => c.agent === n)!.parts);
					fc.pre(pa.capability > pb.capability && pa.load > pb.load && pa.performance > pb.performance && pa.specialisation > pb.specialisation);
					assert.equal(result!.agent, 'a');
				}),
				{ numRuns: 100, maxSkipsPerRun: 2000 },
			);
		});
	});
});
