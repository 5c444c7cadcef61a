// Registers the few toolkit elements the board uses. The toolkit is archived upstream: only this folder touches it.
import {
	provideVSCodeDesignSystem,
	vsCodeButton,
	vsCodeCheckbox,
	vsCodeDivider,
	vsCodeProgressRing,
	vsCodeTextArea,
	vsCodeTextField,
} from '@vscode/webview-ui-toolkit';

let registered = false;

/** Defines the `vscode-*` custom elements once; call before creating any of them. */
export function registerComponents(): void {
	if (registered) return;
	registered = true;
	provideVSCodeDesignSystem().register(
		vsCodeButton(),
		vsCodeCheckbox(),
		vsCodeDivider(),
		vsCodeProgressRing(),
		vsCodeTextArea(),
		vsCodeTextField(),
	);
}
