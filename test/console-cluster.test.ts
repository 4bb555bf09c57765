/**
 * The dashboard's cluster card in a real browser (chromium via playwright-core) against the API harness, no
 * pipeline: an operator sees nodes, the shard without a replica, unassigned cameras and consumers' lag; an
 * investigator (403) and a single node (404) see no card.
 */
import test from 'ava';
import { startHarness, TOKENS, type ApiHarness } from './support/api-app.js';
import { launchBrowser, playwrightAvailable, type Page } from './support/browser.js';
import { FakeCluster } from './support/cluster-status.js';

const unavailable = playwrightAvailable();

async function openDashboard(page: Page, base: string, token: string): Promise<void> {
  await page.goto(`${base}/console/`);
  await page.getByTestId('token').fill(token);
  await page.getByTestId('signin').click();
  await page.getByTestId('who').waitFor({ timeout: 15_000 });
  await page.goto(`${base}/console/#/live`);
  await page.getByTestId('health').waitFor({ timeout: 15_000 });
}

(unavailable && process.env['CI'] !== 'true' ? test.skip : test)('console - the dashboard shows the cluster to operators, and nothing to investigators or on a single node', async (t) => {
  if (unavailable) { t.fail(unavailable); return; }
  t.timeout(120_000);
  let single: ApiHarness | null = null;
  let clustered: ApiHarness | null = null;
  let browser: Awaited<ReturnType<typeof launchBrowser>> | null = null;
  try {
    [single, clustered] = await Promise.all([startHarness({ perDepartment: 1 }), startHarness({ perDepartment: 1, cluster: new FakeCluster() })]);
    browser = await launchBrowser();
    const page = await browser.context.newPage();
    await page.evaluate('localStorage.setItem("cvcore.console.lang", "en")').catch(() => undefined);

    await openDashboard(page, clustered.url, TOKENS.operator);
    const card = page.getByTestId('cluster');
    await card.waitFor({ timeout: 15_000 });
    t.is(await page.locator('[data-testid=cluster-nodes] tbody tr').count(), 3);
    const b = await page.locator('[data-node="node-b"]').innerText();
    t.regex(b, /draining/);
    t.regex(b, /1 \/ 4/);
    t.regex(await page.locator('[data-node="node-c"]').innerText(), /\bno\b/);
    t.regex(await page.getByTestId('cluster-no-replica').innerText(), /Shards without a live replica: 3/);
    t.regex(await page.getByTestId('cluster-unassigned').innerText(), /cam-old, cam-new/);
    t.regex(await page.locator('[data-testid=cluster-consumers] tbody tr').nth(2).innerText(), /index-node-c-3.*\s+node-c\s+3\s+4000\s+64/s);
    await page.getByTestId('lang').selectOption('zh-CN');
    t.regex(await page.getByTestId('cluster-no-replica').innerText(), /无存活副本的分片: 3/);
    await page.getByTestId('lang').selectOption('en');
    await page.getByTestId('signout').click();

    // The investigator's 403 and the single node's 404 hide the card: give the first poll time to answer.
    for (const [h, token] of [[clustered, TOKENS.ps], [single, TOKENS.operator]] as const) {
      await openDashboard(page, h.url, token);
      await new Promise((r) => setTimeout(r, 1500));
      t.is(await page.getByTestId('cluster').count(), 0, `${h === single ? 'single node' : 'investigator'}: no cluster card`);
      await page.getByTestId('signout').click();
    }
  } finally {
    await browser?.close();
    await Promise.all([single?.close(), clustered?.close()]);
  }
});
