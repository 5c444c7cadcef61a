// A real VS Code workbench in headless chromium with the extension loaded, and the few gestures the e2e tests make.
// The selectors are VS Code internals (checked on code-server 4.139.1 / VS Code 1.139.1, which setup.sh pins).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Browser, Frame, Locator, Page } from 'playwright-core';
import { launchBrowser, newPage, screenshot } from '../vscode/browser';
import { startCodeServer, sleep, type CodeServer } from '../vscode/codeServer';
import { REPO_ROOT } from '../vscode/installation';
import { packageVsix } from '../vscode/vsixPackage';
import { copyFixtureWorkspace, type WorkspaceCopy } from '../vscode/workspaceCopy';

export const CONTAINER_TITLE = 'Quantum Orchestrator';

interface ManifestCommand {
	command: string;
	title: string;
	category?: string;
}

/** The palette label of a command as package.json declares it ("Category: Title"). */
export function paletteLabel(commandId: string): string {
	const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { contributes?: { commands?: ManifestCommand[] } };
	const cmd = manifest.contributes?.commands?.find((c) => c.command === commandId);
	if (!cmd) throw new Error(`package.json declares no command ${commandId}`);
	return cmd.category ? `${cmd.category}: ${cmd.title}` : cmd.title;
}

export class Workbench {
	private constructor(
		readonly page: Page,
		readonly workspace: WorkspaceCopy,
		private readonly browser: Browser,
		private readonly server: CodeServer,
		/** False with the development extension: the smoke-test driver it needs suppresses toasts and dialogs. */
		readonly showsToasts: boolean,
	) {}

	/**
	 * Opens a fresh copy of the fixture workspace with the extension packaged by vsce and installed as a user would.
	 * QO_E2E_EXTENSION=dev loads the built repository as a development extension instead (no packaging; that needs
	 * the smoke-test driver, under which the workbench shows no toasts).
	 */
	static async open(options: { workspaceTrust?: boolean } = {}): Promise<Workbench> {
		const fromVsix = process.env.QO_E2E_EXTENSION !== 'dev';
		const workspace = copyFixtureWorkspace('qo-e2e-');
		const server = await startCodeServer({ ...(fromVsix ? { vsix: [packageVsix()] } : { smokeTestDriver: true }), ...options });
		const browser = await launchBrowser();
		try {
			const page = await newPage(browser);
			const payload = JSON.stringify([['extensionDevelopmentPath', server.remoteUri(REPO_ROOT)]]);
			const query = `folder=${encodeURIComponent(workspace.path)}${fromVsix ? '' : `&payload=${encodeURIComponent(payload)}`}`;
			await page.goto(`${server.url}?${query}`);
			await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
			await page.locator(`.activitybar [aria-label^="${CONTAINER_TITLE}"]`).first().waitFor({ timeout: 60_000 });
			return new Workbench(page, workspace, browser, server, fromVsix);
		} catch (err) {
			await browser.close();
			await server.stop();
			workspace.remove();
			throw err;
		}
	}

	async close(): Promise<void> {
		await this.browser.close();
		await this.server.stop();
		this.workspace.remove();
	}

	file(relative: string): string {
		return join(this.workspace.path, relative);
	}

	/**
	 * Runs a command from the palette by its label ("Quantum Orchestrator: Run Current File"). The palette is reopened
	 * until the command shows: its `when` clause may turn true a moment later (an editor's language is set late).
	 */
	async runCommand(label: string, timeoutMs = 20_000): Promise<void> {
		const deadline = Date.now() + timeoutMs;
		const row = this.page.locator('.quick-input-list .monaco-list-row').filter({ hasText: new RegExp(`^${escapeRegExp(label)}`) }).first();
		for (;;) {
			const input = await this.openQuickInput();
			await input.fill(`>${label}`);
			try {
				await row.click({ timeout: 3_000 });
				return;
			} catch (err) {
				if (Date.now() > deadline) throw new Error(`no "${label}" in the command palette`, { cause: err });
			}
		}
	}

	/** Opens a workspace file in an editor through Quick Open. */
	async openFile(relative: string): Promise<void> {
		const input = await this.openQuickInput();
		await input.fill(relative);
		const name = relative.split('/').pop() ?? relative;
		await this.page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().click({ timeout: 15_000 });
		await this.page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: 15_000 });
	}

	private async openQuickInput(): Promise<Locator> {
		await this.page.keyboard.press('Escape');
		await this.page.keyboard.press('F1');
		const input = this.page.locator('.quick-input-widget input');
		await input.waitFor({ timeout: 15_000 });
		return input;
	}

	/** Shows the Quantum Orchestrator container in the side bar (a click on an active container would hide it). */
	async showContainer(): Promise<void> {
		const item = this.page.locator('.activitybar .action-item', { has: this.page.locator(`[aria-label^="${CONTAINER_TITLE}"]`) }).first();
		if (!((await item.getAttribute('class')) ?? '').split(/\s+/).includes('checked')) await item.click();
		await this.sidebar().locator('.pane-header', { hasText: 'Operations' }).waitFor({ timeout: 15_000 });
		if (process.env.QO_E2E_SCREENSHOTS) await this.widenSidebar(620);
	}

	/** Drags the side bar's edge so the tree and the board read well in screenshots. */
	private async widenSidebar(width: number): Promise<void> {
		const box = await this.sidebar().boundingBox();
		if (!box || box.width >= width) return;
		const y = box.y + box.height / 2;
		await this.page.mouse.move(box.x + box.width + 1, y);
		await this.page.mouse.down();
		await this.page.mouse.move(box.x + width, y, { steps: 5 });
		await this.page.mouse.up();
		await this.page.mouse.move(1000, 600); // off the sash and the tabs: no hover tooltip in the shot
	}

	sidebar(): Locator {
		return this.page.locator('[id="workbench.parts.sidebar"]');
	}

	/** A row of the side bar's trees that contains every text given. */
	treeRow(...texts: string[]): Locator {
		let row = this.sidebar().locator('.monaco-list-row');
		for (const text of texts) row = row.filter({ hasText: text });
		return row.first();
	}

	/** Expands a collapsed tree row (through its twistie: a click on the label may run the item's command). */
	async expand(row: Locator): Promise<void> {
		if ((await row.getAttribute('aria-expanded')) === 'false') await row.locator('.monaco-tl-twistie').click();
	}

	/** The first webview frame (nested iframes; never the workbench itself) in which `find` matches; `what` names it in errors. */
	async frameWith(what: string, find: (frame: Frame) => Locator, timeoutMs = 30_000): Promise<Frame> {
		const deadline = Date.now() + timeoutMs;
		while (Date.now() < deadline) {
			for (const frame of this.page.frames().filter((f) => f !== this.page.mainFrame())) {
				try {
					if ((await find(frame).count()) > 0) return frame;
				} catch {
					// the frame navigated or went away meanwhile
				}
			}
			await sleep(250);
		}
		throw new Error(`no frame with ${what} within ${timeoutMs} ms`);
	}

	async waitForFile(relative: string, timeoutMs = 30_000): Promise<void> {
		const deadline = Date.now() + timeoutMs;
		while (!existsSync(this.file(relative))) {
			if (Date.now() > deadline) throw new Error(`${relative} did not appear within ${timeoutMs} ms`);
			await sleep(200);
		}
	}

	/** Waits for a notification: the toast a user sees, or (without toasts) the entry in the notification center. */
	async expectNotification(text: RegExp, timeoutMs = 15_000): Promise<void> {
		if (this.showsToasts) {
			await this.page.locator('.notifications-toasts .notification-toast', { hasText: text }).first().waitFor({ timeout: timeoutMs });
			return;
		}
		await this.runCommand('Notifications: Show Notifications');
		const center = this.page.locator('.notifications-center');
		await center.filter({ hasText: text }).waitFor({ timeout: timeoutMs });
		await center.click();
		await this.page.keyboard.press('Escape');
	}

	screenshotOnFailure(name: string): Promise<string | undefined> {
		return screenshot(this.page, `e2e-${name}`);
	}

	/** Screenshots for the README, saved when QO_E2E_SCREENSHOTS names a folder (docs/images). */
	async documentationShot(name: string): Promise<void> {
		const dir = process.env.QO_E2E_SCREENSHOTS;
		if (!dir) return;
		const file = join(REPO_ROOT, dir, `${name}.png`);
		mkdirSync(dirname(file), { recursive: true });
		await sleep(500); // let spinners and transitions settle
		await this.page.screenshot({ path: file });
		console.log(`      saved ${file}`);
	}
}

function escapeRegExp(text: string): string {
	return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * One workbench for a mocha suite: opened before its tests, a screenshot of each failed test, closed after.
 * Returns a getter, since the workbench exists only once `before` has run.
 */
export function useWorkbench(options?: Parameters<typeof Workbench.open>[0]): () => Workbench {
	let wb: Workbench | undefined;
	before(async function () {
		wb = await Workbench.open(options);
	});
	afterEach(async function () {
		if (this.currentTest?.state === 'failed' && wb) {
			const shot = await wb.screenshotOnFailure(this.currentTest.title);
			if (shot) console.log(`      screenshot: ${shot}`);
		}
	});
	after(async function () {
		await wb?.close();
	});
	return () => {
		if (!wb) throw new Error('the workbench is not open (before() failed)');
		return wb;
	};
}
