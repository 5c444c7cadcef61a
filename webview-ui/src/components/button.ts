// A button: `vscode-button` today; callers only see an element, a label and a disabled flag.
export interface ButtonOptions {
	label: string;
	appearance?: 'primary' | 'secondary' | 'icon';
	title?: string;
	className?: string;
	/** Not called while the button is disabled. */
	onClick?: (event: MouseEvent) => void;
}

export function createButton(options: ButtonOptions): HTMLElement {
	const el = document.createElement('vscode-button');
	el.setAttribute('appearance', options.appearance ?? 'primary');
	el.textContent = options.label;
	if (options.title) el.title = options.title;
	if (options.className) el.className = options.className;
	if (options.appearance === 'icon') el.setAttribute('aria-label', options.title ?? options.label);
	const onClick = options.onClick;
	if (onClick) {
		el.addEventListener('click', (event) => {
			if (!el.hasAttribute('disabled')) onClick(event);
		});
	}
	return el;
}

export function setButtonDisabled(el: HTMLElement, disabled: boolean): void {
	if (el.hasAttribute('disabled') !== disabled) el.toggleAttribute('disabled', disabled);
}

export function setButtonLabel(el: HTMLElement, label: string): void {
	if (el.textContent !== label) el.textContent = label;
}
