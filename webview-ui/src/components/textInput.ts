// One-line and multi-line text inputs: `vscode-text-field` and `vscode-text-area` today.
import type { TextArea, TextField } from '@vscode/webview-ui-toolkit';

export interface TextInputOptions {
	placeholder?: string;
	ariaLabel?: string;
	className?: string;
	maxLength?: number;
	value?: string;
}

export function createTextField(options: TextInputOptions): HTMLElement {
	const el = document.createElement('vscode-text-field') as TextField;
	apply(el, options);
	return el;
}

export function createTextArea(options: TextInputOptions & { rows?: number }): HTMLElement {
	const el = document.createElement('vscode-text-area') as TextArea;
	apply(el, options);
	if (options.rows) el.setAttribute('rows', String(options.rows));
	el.setAttribute('resize', 'vertical');
	return el;
}

export function inputValue(el: HTMLElement): string {
	return (el as TextField | TextArea).value ?? '';
}

export function setInputValue(el: HTMLElement, value: string): void {
	(el as TextField | TextArea).value = value;
}

export function setInputDisabled(el: HTMLElement, disabled: boolean): void {
	if (el.hasAttribute('disabled') !== disabled) el.toggleAttribute('disabled', disabled);
}

function apply(el: TextField | TextArea, options: TextInputOptions): void {
	if (options.placeholder) el.setAttribute('placeholder', options.placeholder);
	if (options.ariaLabel) el.setAttribute('aria-label', options.ariaLabel);
	if (options.className) el.className = options.className;
	if (options.maxLength) el.setAttribute('maxlength', String(options.maxLength));
	if (options.value !== undefined) el.value = options.value;
}
