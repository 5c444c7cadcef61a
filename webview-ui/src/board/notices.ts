// The host's answers (`notice`): shown next to what the user last clicked, or at the top when that is gone.
import { createButton } from '../components/button';
import type { NoticeAnchor } from './context';
import { h } from './dom';

/** An answer arriving later than this after the action is shown at the top instead of in the card. */
const ANCHOR_TTL_MS = 15_000;
const INFO_TTL_MS = 8_000;
const MAX_TOP = 3;

export class Notices {
	private anchor: (NoticeAnchor & { at: number }) | undefined;

	constructor(private readonly top: HTMLElement) {}

	/** The card the user just acted in; the next notice goes there. */
	setAnchor(anchor: NoticeAnchor | undefined): void {
		this.anchor = anchor ? { ...anchor, at: Date.now() } : undefined;
	}

	show(level: 'info' | 'error', text: string): void {
		const anchor = this.anchor;
		const useAnchor = anchor && anchor.slot.isConnected && Date.now() - anchor.at < ANCHOR_TTL_MS;
		const slot = useAnchor ? anchor.slot : this.top;
		if (useAnchor) {
			// One answer per action: the anchor is used once.
			this.anchor = undefined;
			slot.replaceChildren();
			if (level === 'error') anchor.onError?.();
		}
		const note = h('div', { className: `notice notice-${level}`, attrs: { role: level === 'error' ? 'alert' : 'status' } });
		const close = createButton({ label: '✕', appearance: 'icon', title: 'Dismiss', className: 'notice-close', onClick: () => note.remove() });
		note.append(h('span', { className: 'notice-text', text }), close);
		slot.append(note);
		while (slot === this.top && slot.childElementCount > MAX_TOP) slot.firstElementChild?.remove();
		if (level === 'info') setTimeout(() => note.remove(), INFO_TTL_MS);
	}
}
