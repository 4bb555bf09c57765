import test from 'ava';
import { startHarness, TOKENS, type ApiHarness } from './support/api-app.js';

let h: ApiHarness;
test.before(async () => { h = await startHarness({ perDepartment: 2 }); });
test.after.always(async () => { await h?.close(); });

test('api - /metrics answers Prometheus text with camera, index and HTTP series', async (t) => {
  await h.get('/api/v1/search', TOKENS.ps);
  await h.get('/api/v1/search', null);
  const res = await h.get('/metrics');
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await res.text();
  t.regex(text, /# TYPE cvcore_camera_frames_decoded_total counter/);
  t.regex(text, /cvcore_camera_frames_dropped_total\{camera="cam-tr-1"\} 0/);
  t.regex(text, /cvcore_camera_state\{camera="cam-ps-1",state="stopped"\} 1/);
  t.regex(text, /cvcore_index_records 4/);
  t.regex(text, /cvcore_http_requests_total\{method="GET",route="\/api\/v1\/search",status="200"\} 1/);
  t.regex(text, /cvcore_http_requests_total\{method="GET",route="\/api\/v1\/search",status="401"\} 1/);
  t.regex(text, /# TYPE cvcore_alert_outbox_depth gauge/);
  // Every sample line parses as name{labels} value.
  for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) t.regex(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? -?[0-9.e+NaInf-]+$/, line);
});
