// The pending decisions, as one queue at the top of the board, with a selection answered in one go.
import type { WebviewToHost } from '../../../src/protocol/messages';
import type { DecisionView } from '../../../src/protocol/viewModels';
import { createButton, setButtonDisabled, setButtonLabel } from '../components/button';
import { createCheckbox, setChecked } from '../components/checkbox';
import { createBadge, setBadge } from '../components/indicators';
import { createTextField, inputValue } from '../components/textInput';
import type { BoardContext } from './context';
import { DecisionCard, REASON_MAX } from './decisionCard';
import { h, setHidden } from './dom';

/** The protocol's limit on ids per answer. */
const MAX_IDS_PER_ANSWER = 1000;

export class DecisionQueue {
	readonly el: HTMLElement;
	private readonly list = h('div', { className: 'decision-list' });
	private readonly count = createBadge('0', 'decisions-count');
	private readonly selectAll: HTMLElement;
	private readonly bulk: HTMLElement;
	private readonly bulkReason: HTMLElement;
	private readonly approveSelected: HTMLElement;
	private readonly rejectSelected: HTMLElement;
	private readonly bulkSlot = h('div', { className: 'notice-slot' });
	private readonly cards = new Map<string, DecisionCard>();
	private readonly selected = new Set<string>();

	constructor(private readonly ctx: BoardContext) {
		this.selectAll = createCheckbox({ label: 'Select all', className: 'decisions-select-all', onChange: (checked) => this.selectEvery(checked) });
		this.bulkReason = createTextField({ placeholder: 'Reason for the selected (optional)', ariaLabel: 'Reason for the selected decisions', maxLength: REASON_MAX, className: 'decisions-reason' });
		this.approveSelected = createButton({ label: 'Approve selected', className: 'act-approve-selected', onClick: () => this.answerSelected(true) });
		this.rejectSelected = createButton({ label: 'Reject selected', appearance: 'secondary', className: 'act-reject-selected', onClick: () => this.answerSelected(false) });
		this.bulk = h('div', { className: 'decisions-bulk' }, this.selectAll, this.bulkReason, h('div', { className: 'decision-buttons' }, this.approveSelected, this.rejectSelected));
		this.el = h(
			'section',
			{ className: 'decisions', attrs: { 'aria-label': 'Pending decisions' } },
			h('h2', { className: 'section-title' }, h('span', { text: 'Pending decisions' }), this.count),
			this.bulk,
			this.bulkSlot,
			this.list,
		);
		this.el.hidden = true;
	}

	render(decisions: readonly DecisionView[]): void {
		setHidden(this.el, decisions.length === 0);
		setBadge(this.count, String(decisions.length));
		const seen = new Set<string>();
		let previous: Element | null = null;
		for (const d of decisions) {
			seen.add(d.id);
			let card = this.cards.get(d.id);
			if (card) card.update(d);
			else {
				card = new DecisionCard(d, { ctx: this.ctx, onSelect: (id, on) => this.onSelect(id, on) });
				this.cards.set(d.id, card);
			}
			// Keyed: a card keeps its element (and whatever the user typed in it); only its position is fixed up.
			const wanted: ChildNode | null = previous ? previous.nextSibling : this.list.firstChild;
			if (card.el !== wanted) this.list.insertBefore(card.el, wanted);
			previous = card.el;
		}
		for (const [id, card] of this.cards) {
			if (seen.has(id)) continue;
			card.dispose();
			this.cards.delete(id);
			this.selected.delete(id);
		}
		this.syncSelection();
	}

	/** Scrolls to and highlights a decision; false when it is not pending. */
	focus(decisionId: string): boolean {
		const card = this.cards.get(decisionId);
		if (!card) return false;
		card.flash();
		return true;
	}

	setTrusted(trusted: boolean): void {
		this.el.classList.toggle('untrusted', !trusted);
	}

	private onSelect(id: string, on: boolean): void {
		if (on) this.selected.add(id);
		else this.selected.delete(id);
		this.syncSelection();
	}

	private selectEvery(on: boolean): void {
		this.selected.clear();
		if (on) for (const id of this.cards.keys()) this.selected.add(id);
		for (const card of this.cards.values()) card.setSelected(on);
		this.syncSelection();
	}

	private syncSelection(): void {
		const n = this.selected.size;
		const total = this.cards.size;
		setChecked(this.selectAll, n > 0 && n === total, n > 0 && n < total);
		setButtonLabel(this.approveSelected, n ? `Approve ${n} selected` : 'Approve selected');
		setButtonLabel(this.rejectSelected, n ? `Reject ${n} selected` : 'Reject selected');
		setButtonDisabled(this.approveSelected, n === 0);
		setButtonDisabled(this.rejectSelected, n === 0);
		// With a single decision its own buttons say it all: no selection.
		this.el.classList.toggle('single', total < 2);
	}

	/** One `answer` per group: approvals with and without "always allow" travel separately, as the protocol has one flag. */
	private answerSelected(approve: boolean): void {
		const cards = [...this.cards.values()].filter((c) => this.selected.has(c.id));
		if (!cards.length) return;
		const reason = inputValue(this.bulkReason).trim().slice(0, REASON_MAX) || undefined;
		const groups = new Map<boolean, string[]>();
		for (const card of cards) {
			const always = approve && card.alwaysAllow;
			const ids = groups.get(always) ?? [];
			ids.push(card.id);
			groups.set(always, ids);
		}
		const anchor = { slot: this.bulkSlot, onError: () => cards.forEach((c) => c.setBusy(false)) };
		for (const [always, ids] of groups) {
			for (let i = 0; i < ids.length; i += MAX_IDS_PER_ANSWER) {
				const message: WebviewToHost = {
					type: 'answer',
					decisionIds: ids.slice(i, i + MAX_IDS_PER_ANSWER),
					approve,
					...(reason ? { reason } : {}),
					...(always ? { alwaysAllow: true } : {}),
				};
				this.ctx.post(message, anchor);
			}
		}
		for (const card of cards) card.setBusy(true);
	}
}
