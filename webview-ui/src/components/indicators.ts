// Small read-only indicators: badge, spinner, divider.

/**
 * A badge in the toolkit's look. Not `vscode-badge`: its template carries a `style` attribute, which a CSP without
 * 'unsafe-inline' blocks and reports as a violation on every page load.
 */
export function createBadge(text: string, className?: string): HTMLElement {
	const el = document.createElement('span');
	el.className = badgeClass(className);
	el.textContent = text;
	return el;
}

export function setBadge(el: HTMLElement, text: string, className?: string): void {
	if (el.textContent !== text) el.textContent = text;
	if (className !== undefined) {
		const next = badgeClass(className);
		if (el.className !== next) el.className = next;
	}
}

function badgeClass(className: string | undefined): string {
	return className ? `qo-badge ${className}` : 'qo-badge';
}

/** An indeterminate spinner (`vscode-progress-ring`); `label` is what a screen reader hears. */
export function createSpinner(label: string, className?: string): HTMLElement {
	const el = document.createElement('vscode-progress-ring');
	el.setAttribute('aria-label', label);
	if (className) el.className = className;
	return el;
}

/** A horizontal rule (`vscode-divider`). */
export function createDivider(): HTMLElement {
	const el = document.createElement('vscode-divider');
	el.setAttribute('role', 'presentation');
	return el;
}
