// `qo hooks install|remove|list`: git hooks in the workspace's repository that submit a workflow to the running
// orchestrator (or drop it into the inbox when none is running).
import * as path from 'node:path';
import type { Command } from 'commander';
import { rejectAll } from '../core/ports';
import { checkHookNames, HookError, installHooks, listHooks, locateHooks, removeHooks } from '../core/services/hooks/gitHooks';
import { HOOK_NAMES } from '../core/services/hooks/hookScript';
import { EXIT, type Cli, type GlobalOptions } from './cli';

/** Runs a hooks action; a HookError (no repository, unknown hook, a hook we must not edit) is invalid input. */
async function guarded(cli: Cli, fn: () => Promise<void>): Promise<void> {
	try {
		await fn();
	} catch (err) {
		if (!HookError.is(err)) throw err;
		cli.err(`qo: ${err.message}`);
		cli.exitCode = EXIT.invalid;
	}
}

export function addHooksCommand(program: Command, cli: Cli, globals: () => GlobalOptions): void {
	const hooks = program
		.command('hooks')
		.description('git hooks that submit a workflow to the running orchestrator, or put it in the inbox when none is running');
	const workspaceOf = () => path.resolve(globals().workspace ?? process.cwd());
	const shown = (file: string) => path.relative(process.cwd(), file) || file;

	hooks
		.command('install')
		.description(`install hooks (${HOOK_NAMES.join(', ')}) that submit a workflow; an existing hook's own content is kept`)
		.argument('<hooks...>', 'hook names, e.g. post-commit pre-push')
		.requiredOption('--workflow <file>', 'the workflow file to submit (inside the workspace)')
		.option('--blocking', 'pre-* hooks only: wait for the run and stop the git operation unless it succeeds (default: never stop git)')
		.action(async (names: string[], o: { workflow: string; blocking?: boolean }) =>
			guarded(cli, async () => {
				checkHookNames(names);
				const engine = await cli.engine(globals(), rejectAll);
				// An invalid workflow is reported now, with its problems, not at the next commit; the hook adds these variables.
				await engine.load(o.workflow, { variables: { git_hook: names[0], git_commit: '0'.repeat(40) } });
				const changes = await installHooks({ workspace: engine.workspace, hooks: names, workflow: path.resolve(o.workflow), stateDir: engine.stateDir, blocking: o.blocking });
				for (const c of changes) {
					const kept = c.keptExisting ? ' (its own content is kept and still runs)' : '';
					if (c.action === 'unchanged') cli.out(`${c.hook}: already installed in ${shown(c.file)}, unchanged`);
					else cli.out(`${c.action === 'updated' ? 'Updated' : 'Installed'} ${c.hook} in ${shown(c.file)}${kept}`);
				}
				const wf = path.relative(engine.workspace, path.resolve(o.workflow)).split(path.sep).join('/');
				cli.out(
					o.blocking
						? `It runs ${wf} through the running orchestrator and stops the git operation unless the run succeeds.`
						: `It submits ${wf} to the running orchestrator (qo serve or VS Code), or puts it in the inbox for qo inbox to run; it never fails git.`,
				);
			}),
		);

	hooks
		.command('remove')
		.description("take the orchestrator's part out of hooks (default: every hook that has it); their own content is restored exactly")
		.argument('[hooks...]', 'hook names')
		.action(async (names: string[]) =>
			guarded(cli, async () => {
				const changes = await removeHooks({ workspace: workspaceOf(), hooks: names });
				if (changes.length === 0) cli.out('No orchestrator hooks to remove.');
				for (const c of changes) {
					if (c.action === 'not-installed') cli.out(`${c.hook}: not installed`);
					else if (c.deletedFile) cli.out(`Removed ${c.hook}: ${shown(c.file)} held only the orchestrator's part and is deleted`);
					else cli.out(`Removed ${c.hook}: ${shown(c.file)} is as it was before`);
				}
			}),
		);

	hooks
		.command('list')
		.description('the hooks that submit a workflow, and which')
		.option('--json', 'machine-readable list')
		.action(async (o: { json?: boolean }) =>
			guarded(cli, async () => {
				const list = await listHooks({ workspace: workspaceOf() });
				if (o.json) return cli.out(JSON.stringify(list));
				if (list.length === 0) {
					const { dir } = await locateHooks({ workspace: workspaceOf() });
					return cli.out(`No orchestrator hooks in ${shown(dir)}. Install one with: qo hooks install post-commit --workflow FILE`);
				}
				for (const h of list) {
					cli.out(`${h.hook}  → ${h.workflow}${h.blocking ? '  (blocking)' : ''}  ${shown(h.file)}${h.otherContent ? ', with content of its own' : ''}`);
				}
			}),
		);
}
