// Headless Debian chromium through playwright-core, with what a workbench run needs and nothing that phones home.
import { chromium, type Browser, type Page } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { installation, REPO_ROOT } from './installation';

export const RESULTS_DIR = join(REPO_ROOT, 'test-results');

export function launchBrowser(): Promise<Browser> {
	return chromium.launch({
		executablePath: installation().chromium,
		headless: process.env.QO_HEADED !== '1',
		// playwright gives every launch a fresh temporary profile.
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
			'--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
	});
}

export async function newPage(browser: Browser): Promise<Page> {
	const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
	return context.newPage();
}

/** Saves a full-page screenshot into test-results/ and returns its path (undefined when the page is gone). */
export async function screenshot(page: Page, name: string): Promise<string | undefined> {
	mkdirSync(RESULTS_DIR, { recursive: true });
	const file = join(RESULTS_DIR, `${name.replace(/[^\w.-]+/g, '-')}.png`);
	try {
		await page.screenshot({ path: file });
		return file;
	} catch {
		return undefined;
	}
}
