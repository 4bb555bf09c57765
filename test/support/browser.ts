/**
 * Starts Debian's chromium through playwright-core for the console's browser tests. playwright-core lives in
 * the console's own package (console/node_modules), so it is loaded with createRequire, and only the few
 * calls the tests make are typed here: the root build does not depend on the console's packages.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../common/paths.js';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
] as const;

export interface Locator {
  click(): Promise<void>;
  fill(value: string): Promise<void>;
  selectOption(value: string): Promise<unknown>;
  setInputFiles(path: string): Promise<void>;
  waitFor(o?: { state?: 'attached' | 'visible' | 'hidden' | 'detached'; timeout?: number }): Promise<void>;
  count(): Promise<number>;
  first(): Locator;
  nth(i: number): Locator;
  locator(selector: string): Locator;
  textContent(): Promise<string | null>;
  innerText(): Promise<string>;
  getAttribute(name: string): Promise<string | null>;
  allTextContents(): Promise<string[]>;
  evaluate<R>(fn: (el: { getAttribute(name: string): string | null }) => R): Promise<R>;
}

export interface Page {
  goto(url: string): Promise<unknown>;
  reload(): Promise<unknown>;
  locator(selector: string): Locator;
  getByTestId(id: string): Locator;
  screenshot(o: { path: string; fullPage?: boolean }): Promise<unknown>;
  waitForFunction(fn: string, arg?: unknown, o?: { timeout?: number; polling?: number }): Promise<unknown>;
  evaluate<R>(fn: string): Promise<R>;
  on(ev: 'console' | 'pageerror', fn: (m: { text?: () => string; message?: string }) => void): void;
  close(): Promise<void>;
}

export interface BrowserContext {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

interface Chromium {
  launchPersistentContext(dir: string, o: Record<string, unknown>): Promise<BrowserContext>;
}

export function playwrightAvailable(): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install -y chromium; npm test installs it)`;
  if (!existsSync(join(REPO_ROOT, 'console', 'node_modules', 'playwright-core'))) return 'console/node_modules/playwright-core is missing (cd console && npm ci)';
  return null;
}

/** A headless chromium with a fresh profile; `close()` removes the profile. */
export async function launchBrowser(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const require = createRequire(join(REPO_ROOT, 'console', 'package.json'));
  const { chromium } = require('playwright-core') as { chromium: Chromium };
  const profile = await mkdtemp(join(tmpdir(), 'cvcore-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS],
    viewport: { width: 1100, height: 760 },
    locale: 'en-GB',
    timezoneId: 'Asia/Shanghai',
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}
