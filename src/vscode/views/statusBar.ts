// The status bar item: the running runs' progress and the decisions waiting; hidden when there is neither.
import * as vscode from 'vscode';
import type { Orchestrator } from '../orchestrator';

export class RunStatusBar implements vscode.Disposable {
	private readonly item = vscode.window.createStatusBarItem('quantum.status', vscode.StatusBarAlignment.Left, 50);
	private readonly subs: { dispose(): void }[];

	constructor(private readonly orchestrator: Orchestrator) {
		this.item.name = 'Quantum Orchestrator';
		this.item.command = 'quantum.showBoard';
		this.subs = [orchestrator.board.onChange(() => this.update()), orchestrator.onDidChangeActive(() => this.update())];
	}

	private update(): void {
		const board = this.orchestrator.board;
		const active = this.orchestrator.activeRunIds().map((id) => board.run(id)).filter((r) => r !== undefined);
		const waiting = board.snapshot().decisions.length;
		const goals = (board.snapshot().orchestrations ?? []).filter((o) => o.live);
		if (active.length === 0 && waiting === 0 && goals.length === 0) {
			this.item.hide();
			return;
		}
		const done = active.reduce((a, r) => a + r.done, 0);
		const total = active.reduce((a, r) => a + r.total, 0);
		const parts: string[] = [];
		// A goal's state says more than its run's progress while it is analysed, planned or reviewed.
		if (goals.length) parts.push(`$(rocket) ${goals.length === 1 ? goals[0].state : `${goals.length} goals`}`);
		if (active.length) parts.push(`$(sync~spin) ${active.length === 1 ? active[0].workflow : `${active.length} runs`} ${done}/${total}`);
		if (waiting) parts.push(`$(bell-dot) ${waiting} waiting`);
		this.item.text = parts.join('  ');
		const tips = goals.map((g) => `Goal "${g.goal}": ${g.state}${g.detail ? ` — ${g.detail}` : ''}`);
		tips.push(waiting ? `${waiting} step${waiting === 1 ? '' : 's'} waiting for your decision — click to open the board` : 'Show the progress board');
		this.item.tooltip = tips.join('\n');
		this.item.backgroundColor = waiting ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
		this.item.show();
	}

	dispose(): void {
		for (const s of this.subs) s.dispose();
		this.item.dispose();
	}
}
