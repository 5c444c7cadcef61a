// One pending decision: what the step will do, and the ways to answer it.
import type { DecisionView } from '../../../src/protocol/viewModels';
import { createButton, setButtonDisabled } from '../components/button';
import { createCheckbox, isChecked, setCheckboxLabel, setChecked } from '../components/checkbox';
import { createBadge, setBadge } from '../components/indicators';
import { createTextArea, createTextField, inputValue, setInputValue } from '../components/textInput';
import type { BoardContext } from './context';
import { h, setHidden, setText } from './dom';
import { formatTime } from './format';

export const REASON_MAX = 2000;
/** Buttons come back if the host neither removes the decision nor answers within this time. */
const BUSY_TIMEOUT_MS = 10_000;

export interface DecisionCardHost {
	readonly ctx: BoardContext;
	/** The user ticked or unticked this decision's box. */
	onSelect(decisionId: string, selected: boolean): void;
}

interface Editor {
	el: HTMLElement;
	area: HTMLElement;
	error: HTMLElement;
}

/** How each kind of decision is named on its card. */
const KIND_LABEL: Record<DecisionView['kind'], { badge: string; aria: string }> = {
	approval: { badge: 'approval', aria: 'Approval' },
	'in-doubt': { badge: 'in doubt', aria: 'In-doubt step' },
	proposal: { badge: 'proposed change', aria: 'Proposed change' },
	budget: { badge: 'budget', aria: 'Budget pause' },
	replan: { badge: 'new plan', aria: 'Changed plan' },
};

export class DecisionCard {
	readonly el: HTMLElement;
	private decision: DecisionView;
	private signature = '';
	private readonly info = h('div', { className: 'decision-info' });
	private readonly kind = createBadge('', 'decision-kind');
	private readonly select: HTMLElement;
	private readonly reasonField: HTMLElement;
	private readonly alwaysAllowBox: HTMLElement;
	private readonly showButton: HTMLElement;
	private readonly editButton: HTMLElement;
	private readonly answerButtons: HTMLElement[];
	/** Where the host's answer to an action taken in this card appears. */
	readonly slot = h('div', { className: 'notice-slot' });
	private editor: Editor | undefined;
	private busyTimer: ReturnType<typeof setTimeout> | undefined;

	constructor(
		decision: DecisionView,
		private readonly host: DecisionCardHost,
	) {
		this.decision = decision;
		this.select = createCheckbox({
			ariaLabel: 'Select this decision',
			className: 'decision-select',
			onChange: (checked) => host.onSelect(this.decision.id, checked),
		});
		this.reasonField = createTextField({ placeholder: 'Reason (optional)', ariaLabel: 'Reason', maxLength: REASON_MAX, className: 'decision-reason-field' });
		this.alwaysAllowBox = createCheckbox({ label: 'Always allow this rule', className: 'decision-always' });
		const approve = createButton({ label: 'Approve', className: 'act-approve', onClick: () => this.answer(true) });
		const reject = createButton({ label: 'Reject', appearance: 'secondary', className: 'act-reject', onClick: () => this.answer(false) });
		this.showButton = createButton({
			label: 'Show',
			appearance: 'secondary',
			className: 'act-show',
			onClick: () => host.ctx.post({ type: 'showDecision', decisionId: this.decision.id }, { slot: this.slot }),
		});
		const edit = createButton({ label: 'Edit & approve', appearance: 'secondary', className: 'act-edit', onClick: () => this.toggleEditor() });
		this.editButton = edit;
		this.answerButtons = [approve, reject, edit];
		this.el = h(
			'article',
			{ className: 'decision', attrs: { tabindex: '-1', 'data-decision-id': decision.id } },
			h('div', { className: 'decision-top' }, this.select, this.kind, this.info),
			h('div', { className: 'decision-answer' }, this.alwaysAllowBox, this.reasonField),
			h('div', { className: 'decision-buttons' }, approve, reject, this.showButton, edit),
			this.slot,
		);
		this.update(decision);
	}

	get id(): string {
		return this.decision.id;
	}

	/** Approving with "always allow" ticked (only offered when a rule raised the decision). */
	get alwaysAllow(): boolean {
		return this.decision.rule !== undefined && isChecked(this.alwaysAllowBox);
	}

	update(decision: DecisionView): void {
		this.decision = decision;
		// Decisions rarely change in place; redraw the description only when they do, and never the user's input.
		const signature = JSON.stringify(decision);
		if (signature === this.signature) return;
		this.signature = signature;
		this.el.dataset.decisionId = decision.id;
		this.el.setAttribute('aria-label', `${KIND_LABEL[decision.kind].aria}: ${decision.summary}`);
		setBadge(this.kind, KIND_LABEL[decision.kind].badge, `decision-kind kind-${decision.kind}`);
		this.info.replaceChildren(...this.describe(decision));
		setHidden(this.alwaysAllowBox, decision.rule === undefined);
		if (decision.rule) {
			const scope = decision.ruleLabel ?? decision.rule;
			setCheckboxLabel(this.alwaysAllowBox, `Always allow ${scope} here`);
			this.alwaysAllowBox.title = `Approve, and stop asking about ${scope} in this workspace (rule ${decision.rule}; revoke with "Manage Always-Allowed Rules")`;
		}
		setText(this.showButton, showLabel(decision));
		// Only a step's own parameters can be edited; a proposal, a budget pause or a new plan is taken or left.
		const editable = decision.kind === 'approval' || decision.kind === 'in-doubt';
		setHidden(this.editButton, !editable);
		if (!editable) this.closeEditor();
	}

	setSelected(selected: boolean): void {
		setChecked(this.select, selected);
	}

	/** Briefly highlights the card (focusDecision, a click on a waiting step). */
	flash(): void {
		this.el.classList.remove('flash');
		// Restart the animation: reading layout between the two class changes is what makes it replay.
		void this.el.offsetWidth;
		this.el.classList.add('flash');
		this.el.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
		this.el.focus({ preventScroll: true });
	}

	/** Disables the answer buttons while the host handles an answer, so one click cannot answer twice. */
	setBusy(busy: boolean): void {
		clearTimeout(this.busyTimer);
		this.el.classList.toggle('busy', busy);
		for (const b of this.answerButtons) setButtonDisabled(b, busy);
		if (this.editor) for (const b of this.editor.el.querySelectorAll('vscode-button')) setButtonDisabled(b as HTMLElement, busy);
		if (busy) this.busyTimer = setTimeout(() => this.setBusy(false), BUSY_TIMEOUT_MS);
	}

	dispose(): void {
		clearTimeout(this.busyTimer);
		this.el.remove();
	}

	/** The reason typed in this card, trimmed; undefined when empty. */
	get reason(): string | undefined {
		const reason = inputValue(this.reasonField).trim().slice(0, REASON_MAX);
		return reason || undefined;
	}

	private answer(approve: boolean): void {
		const reason = this.reason;
		this.host.ctx.post(
			{
				type: 'answer',
				decisionIds: [this.decision.id],
				approve,
				...(reason ? { reason } : {}),
				...(approve && this.alwaysAllow ? { alwaysAllow: true } : {}),
			},
			this.anchor(),
		);
		this.setBusy(true);
	}

	anchor(): { slot: HTMLElement; onError: () => void } {
		return { slot: this.slot, onError: () => this.setBusy(false) };
	}

	private toggleEditor(): void {
		if (this.editor) {
			this.closeEditor();
			return;
		}
		const json = JSON.stringify(this.decision.parameters, null, 2);
		const area = createTextArea({ ariaLabel: 'Parameters (JSON)', className: 'decision-editor-area', rows: Math.min(16, json.split('\n').length + 1) });
		setInputValue(area, json);
		const error = h('div', { className: 'decision-editor-error', attrs: { role: 'alert' } });
		error.hidden = true;
		area.addEventListener('input', () => setHidden(error, true));
		const el = h(
			'div',
			{ className: 'decision-editor' },
			area,
			error,
			h(
				'div',
				{ className: 'decision-buttons' },
				createButton({ label: 'Approve with these parameters', className: 'act-edit-approve', onClick: () => this.editApprove() }),
				createButton({ label: 'Cancel', appearance: 'secondary', className: 'act-edit-cancel', onClick: () => this.closeEditor() }),
			),
		);
		this.editor = { el, area, error };
		this.slot.before(el);
		area.focus();
	}

	private closeEditor(): void {
		this.editor?.el.remove();
		this.editor = undefined;
	}

	private editApprove(): void {
		const editor = this.editor;
		if (!editor) return;
		const text = inputValue(editor.area);
		let parameters: unknown;
		try {
			parameters = JSON.parse(text);
		} catch (err) {
			this.editorError(`Invalid JSON: ${err instanceof Error ? err.message : String(err)}`);
			return;
		}
		if (parameters === null || typeof parameters !== 'object' || Array.isArray(parameters)) {
			this.editorError('Parameters must be a JSON object: { "name": value, ... }');
			return;
		}
		this.host.ctx.post({ type: 'editApprove', decisionId: this.decision.id, parameters: parameters as Record<string, unknown> }, this.anchor());
		this.setBusy(true);
	}

	private editorError(text: string): void {
		if (!this.editor) return;
		setText(this.editor.error, text);
		setHidden(this.editor.error, false);
	}

	private describe(d: DecisionView): Node[] {
		const ctx = this.host.ctx;
		const run = ctx.store.run(d.runId);
		const stepLink = h('button', { className: 'link step-link', text: d.stepId, title: 'Reveal this step in the tree and the log', attrs: { type: 'button' } });
		stepLink.addEventListener('click', () => ctx.post({ type: 'openStep', runId: d.runId, stepId: d.stepId }, { slot: this.slot }));
		const nodes: Node[] = [
			h('div', { className: 'decision-summary', text: d.summary }),
			h('div', { className: 'decision-reason', text: d.reason }),
			h(
				'div',
				{ className: 'decision-meta' },
				h('code', { className: 'decision-op', text: `${d.type}.${d.operation}` }),
				' · step ',
				stepLink,
				run ? ` · ${run.workflow}` : '',
				h('span', { className: 'decision-when', text: ` · asked ${formatTime(d.requestedAt)}` }),
			),
		];
		if (d.command !== undefined) {
			nodes.push(h('pre', { className: 'decision-command' }, h('code', { text: d.command })));
			if (d.cwd !== undefined) nodes.push(h('div', { className: 'decision-cwd' }, 'in ', h('code', { text: d.cwd })));
		}
		if (d.changedFiles && d.changedFiles.length > 1) nodes.push(h('div', { className: 'decision-file' }, 'files ', h('code', { text: d.changedFiles.join(', ') })));
		else if (d.file !== undefined) nodes.push(h('div', { className: 'decision-file' }, 'file ', h('code', { text: d.file })));
		if (d.details !== undefined) nodes.push(detailsView(d));
		if (d.rule !== undefined) nodes.push(h('div', { className: 'decision-rule' }, 'rule ', h('code', { text: d.rule })));
		nodes.push(parametersView(d.parameters));
		return nodes;
	}
}

/** A decision's text to read; a revised plan's diff with its added, changed and removed steps marked. */
function detailsView(d: DecisionView): HTMLElement {
	const code = h('code');
	if (d.kind === 'replan') {
		for (const line of (d.details ?? '').split('\n')) {
			const mark = line.startsWith('+ ') ? 'diff-add' : line.startsWith('- ') ? 'diff-del' : line.startsWith('~ ') ? 'diff-mod' : '';
			code.append(mark ? h('span', { className: mark, text: line }) : line, '\n');
		}
	} else code.textContent = d.details ?? '';
	return h('pre', { className: `decision-details${d.kind === 'replan' ? ' plan-diff' : ''}` }, code);
}

/** What "Show" opens for this decision. */
function showLabel(d: DecisionView): string {
	if (d.changedFiles && d.changedFiles.length > 1) return `Show diffs (${d.changedFiles.length})`;
	if (d.kind === 'replan') return 'Show plan diff';
	if (d.file) return 'Show diff';
	if (d.command) return 'Show command';
	return 'Show details';
}

/** Parameters, collapsed; the JSON is only built when first opened (it can be large). */
function parametersView(parameters: Record<string, unknown>): HTMLElement {
	const keys = Object.keys(parameters).length;
	const pre = h('pre', { className: 'decision-params-json' });
	const details = h('details', { className: 'decision-params' }, h('summary', { text: `Parameters (${keys})` }), pre);
	details.addEventListener('toggle', () => {
		if (details.open && !pre.textContent) pre.textContent = JSON.stringify(parameters, null, 2);
	});
	return details;
}
