import test from 'ava';
import { TokenBuckets } from '../api/index.js';
import { startHarness, TOKENS, type ApiHarness } from './support/api-app.js';

let h: ApiHarness;
test.before(async () => { h = await startHarness({ perDepartment: 1, rateLimit: { perMinute: 60, burst: 3 } }); });
test.after.always(async () => { await h?.close(); });

test('api - a token over its burst gets 429 API_RATE_LIMITED with Retry-After; other tokens are unaffected', async (t) => {
  for (let i = 0; i < 3; i++) t.is((await h.get('/api/v1/cameras', TOKENS.ps)).status, 200);
  const limited = await h.get('/api/v1/cameras', TOKENS.ps);
  t.is(limited.status, 429);
  t.is((await limited.json() as { code: string }).code, 'API_RATE_LIMITED');
  const retry = Number(limited.headers.get('retry-after'));
  t.true(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
  t.is((await h.get('/api/v1/cameras', TOKENS.traffic)).status, 200);
  // Probes and scrapers are not throttled by investigators' traffic.
  t.is((await h.get('/metrics')).status, 200);
  const metrics = await (await h.get('/metrics')).text();
  t.regex(metrics, /cvcore_http_rate_limited_total 1/);
});

test('api - token buckets refill at the sustained rate and stay bounded in keys', (t) => {
  let now = 0;
  const b = new TokenBuckets({ perMinute: 60, burst: 2 }, { now: () => now, maxKeys: 3 });
  t.is(b.take('a'), 0);
  t.is(b.take('a'), 0);
  t.is(b.take('a'), 1);
  now += 1000;
  t.is(b.take('a'), 0);
  t.is(b.take('a'), 1);
  for (const k of ['b', 'c', 'd', 'e']) b.take(k);
  t.is(b.size, 3);
  t.throws(() => new TokenBuckets({ perMinute: 0, burst: 1 }), { instanceOf: RangeError });
});
