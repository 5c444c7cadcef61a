// A tiny element builder: no templates, no innerHTML, so nothing from the host is ever parsed as markup.

export interface ElementProps {
	className?: string;
	text?: string;
	title?: string;
	attrs?: Record<string, string>;
}

export type Child = Node | string | undefined | false | null;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props?: ElementProps, ...children: Child[]): HTMLElementTagNameMap[K] {
	const el = document.createElement(tag);
	if (props) {
		if (props.className) el.className = props.className;
		if (props.text !== undefined) el.textContent = props.text;
		if (props.title) el.title = props.title;
		if (props.attrs) for (const [k, v] of Object.entries(props.attrs)) el.setAttribute(k, v);
	}
	for (const child of children) if (child) el.append(child);
	return el;
}

/** Sets text only when it differs: a write of equal text still costs a style and layout pass. */
export function setText(el: Element, text: string): void {
	if (el.textContent !== text) el.textContent = text;
}

export function setHidden(el: HTMLElement, hidden: boolean): void {
	if (el.hidden !== hidden) el.hidden = hidden;
}

export function setClass(el: Element, className: string): void {
	if (el.className !== className) el.className = className;
}
