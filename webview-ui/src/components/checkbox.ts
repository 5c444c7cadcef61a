// A labelled checkbox: `vscode-checkbox` today.
import type { Checkbox } from '@vscode/webview-ui-toolkit';

export interface CheckboxOptions {
	label?: string;
	/** Accessible name when there is no visible label. */
	ariaLabel?: string;
	title?: string;
	className?: string;
	checked?: boolean;
	onChange?: (checked: boolean) => void;
}

// The toolkit emits `change` for programmatic changes too; only the user's clicks reach `onChange`.
let silent = false;

export function createCheckbox(options: CheckboxOptions): HTMLElement {
	const el = document.createElement('vscode-checkbox') as Checkbox;
	if (options.label) el.textContent = options.label;
	if (options.ariaLabel) el.setAttribute('aria-label', options.ariaLabel);
	if (options.title) el.title = options.title;
	if (options.className) el.className = options.className;
	el.checked = options.checked ?? false;
	const onChange = options.onChange;
	if (onChange)
		el.addEventListener('change', () => {
			if (!silent) onChange(el.checked);
		});
	return el;
}

export function isChecked(el: HTMLElement): boolean {
	return (el as Checkbox).checked;
}

/** Sets the box from code; its `onChange` is not called. */
export function setChecked(el: HTMLElement, checked: boolean, indeterminate = false): void {
	const box = el as Checkbox;
	silent = true;
	try {
		if (box.checked !== checked) box.checked = checked;
		if (box.indeterminate !== indeterminate) box.indeterminate = indeterminate;
	} finally {
		silent = false;
	}
}

export function setCheckboxDisabled(el: HTMLElement, disabled: boolean): void {
	if (el.hasAttribute('disabled') !== disabled) el.toggleAttribute('disabled', disabled);
}

export function setCheckboxLabel(el: HTMLElement, label: string): void {
	if (el.textContent !== label) el.textContent = label;
}
