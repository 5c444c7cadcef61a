// 4) Journal cost: file create/modify steps journaled by the engine vs the same writes plain (fsynced, and not),
// and the time to roll them all back.
import { interleave, Progress } from '../progress';
import type { Check, SectionReport, Table } from '../report';
import { runWorker } from '../spawn';
import { fmtCount, fmtMs, fmtRatio, median, pairedRatio } from '../stats';
import { seedFor, type Suite } from '../suite';
import type { WriteResult, WriteRunner } from '../tasks';

const LABEL: Record<WriteRunner, string> = {
	engine: 'engine: file steps, journaled',
	'plain-sync': 'plain: open + write + fsync + close',
	'plain-nosync': 'plain: writeFile, no fsync',
};

export async function writesSection(suite: Suite): Promise<SectionReport> {
	const { creates, modifies, bytes, concurrency, reps, runners } = suite.writes;
	const total = creates + modifies;
	const samples: Record<WriteRunner, (WriteResult & { rep: number })[]> = { engine: [], 'plain-sync': [], 'plain-nosync': [] };
	const errors: string[] = [];
	const order = interleave([0], () => reps, () => runners);
	const progress = new Progress('4) journal cost', order.length);
	for (const { runner, rep } of order) {
		const label = `${runner} #${rep + 1}`;
		const task = { kind: 'writes', runner, creates, modifies, bytes, concurrency, seed: seedFor('random', total) } as const;
		try {
			const { result } = await progress.step(
				label,
				() => runWorker<WriteResult>(task),
				(r) => `${fmtMs(r.result.writeMs)}${r.result.rollbackMs !== undefined ? `, rollback ${fmtMs(r.result.rollbackMs)}` : ''}`,
			);
			if (result.status !== 'succeeded') throw new Error(`run ended ${result.status}`);
			samples[runner].push({ ...result, rep });
		} catch (err) {
			const message = `${label}: ${err instanceof Error ? err.message : String(err)}`;
			errors.push(message);
			process.stderr.write(`  sample failed: ${message}\n`);
		}
	}
	const ms = (r: WriteRunner) => median(samples[r].map((s) => s.writeMs));
	const tagged = (r: WriteRunner) => samples[r].map((s) => ({ rep: s.rep, value: s.writeMs }));
	const over = (r: WriteRunner) => pairedRatio(tagged('engine'), tagged(r));
	const engine = ms('engine');
	const rollback = median(samples.engine.map((s) => s.rollbackMs ?? NaN));
	const verified = samples.engine.length > 0 && samples.engine.every((s) => s.verified && s.conflicts === 0);
	const rows = runners.map((r) => [LABEL[r], fmtMs(ms(r)), `${((ms(r) * 1000) / total).toFixed(0)} µs`, fmtRatio(over(r))]);
	const first = samples.engine[0];
	rows.push(['engine.rollback of the whole run', fmtMs(rollback), `${((rollback * 1000) / total).toFixed(0)} µs`, '']);
	const table: Table = {
		title: `4) Journal cost: ${fmtCount(creates)} creates + ${fmtCount(modifies)} whole-content modifies of ~${bytes} B files, concurrency ${concurrency} (median of ${reps})`,
		head: ['writer', 'time', 'per write', 'engine ÷ this'],
		rows,
		notes: [
			'engine time = engine.run (plan, before-images, journal group commits, each file fsynced); set-up writes are flushed (sync) first.',
			'engine ÷ this = median over repetitions of the ratio between samples taken next to each other.',
			first ? `rollback: ${first.restored} restored, ${first.removed} removed, ${verified ? 'every file checked byte for byte afterwards' : 'NOT VERIFIED: some file differs from its starting bytes'}.` : 'rollback: no sample.',
			`machine load (1-min average): median ${progress.load().median.toFixed(2)}, max ${progress.load().max.toFixed(2)}.`,
			...errors.map((e) => `failed sample: ${e}`),
		],
	};
	const ratio = over('plain-sync');
	const checks: Check[] = [
		{ section: '4', name: `journaled ÷ plain fsynced writes (${fmtCount(total)} files)`, target: '≤ 1.5', measured: fmtRatio(ratio), pass: ratio <= 1.5 },
		{ section: '4', name: `roll back ${fmtCount(total)} writes (bytes verified)`, target: '< 1 s', measured: `${fmtMs(rollback)}${verified ? '' : ', NOT verified'}`, pass: rollback < 1000 && verified },
	];
	const figures = {
		creates,
		modifies,
		bytes,
		concurrency,
		reps,
		medianMs: { engine, plainSync: ms('plain-sync'), plainNoSync: ms('plain-nosync'), rollback },
		engineOverPlainSync: ratio,
		engineOverPlainNoSync: over('plain-nosync'),
		load: progress.load(),
		rollbackVerified: verified,
		samples,
		errors,
	};
	return { name: 'writes', tables: [table], checks, figures };
}
