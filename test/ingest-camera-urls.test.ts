/**
 * Camera URLs are not a way into the server: only the allowed schemes (rtsp/rtsps by default) reach ffmpeg,
 * local files only where the config file allows them and never through the API, and ffmpeg itself runs with a
 * protocol whitelist per scheme. Tried through the real API and real ffmpeg.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { parseCamera, parseConfig } from '../config/index.js';
import { ConfigError } from '../common/errors.js';
import { decoderArgs, liveArgs } from '../ingest/index.js';
import { startHarness, TOKENS, type ApiHarness } from './support/api-app.js';

let h: ApiHarness;
test.before(async () => { h = await startHarness({ perDepartment: 1 }); });
test.after.always(async () => { await h?.close(); });

const call = (method: string, path: string, body: unknown): Promise<Response> => fetch(h.url + path, {
  method, headers: { authorization: `Bearer ${TOKENS.operator}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
});

const refused = (fn: () => unknown, path: string): RegExpMatchArray | null => {
  const err = (() => { try { fn(); return null; } catch (e) { return e; } })();
  if (!(err instanceof ConfigError) || err.code !== 'CONFIG_URL_REFUSED' || err.detail['path'] !== path) return null;
  return [err.message];
};

test('config: a camera URL must use an allowed scheme; local files only where the config file allows them', (t) => {
  const cam = (url: string) => ({ id: 'c', url });
  for (const url of ['/etc/passwd', 'file:///etc/passwd', 'concat:/etc/passwd|/etc/hosts', 'subfile:,,start,0,end,9,,:/etc/passwd', 'http://10.0.0.1/x.m3u8', 'gopher://x/1', 'rtsp://cam.example/a b']) {
    t.truthy(refused(() => parseConfig({ cameras: [cam(url)] }), 'cameras[0].url'), url);
  }
  t.regex(refused(() => parseConfig({ cameras: [cam('/etc/passwd')] }), 'cameras[0].url')![0], /allowLocalFiles/);
  t.is(parseConfig({ cameras: [cam('rtsp://u:p@10.0.0.1:554/s')] }).cameras[0]!.url, 'rtsp://u:p@10.0.0.1:554/s');
  t.is(parseConfig({ cameras: [cam('rtsps://10.0.0.1/s')] }).cameras.length, 1);
  // The machine's operator may allow files (benchmarks, tests) and other camera protocols, in the config file.
  t.is(parseConfig({ ingest: { allowLocalFiles: true }, cameras: [cam('/srv/media/vtest.mp4')] }).cameras.length, 1);
  t.is(parseConfig({ ingest: { urlSchemes: ['rtsp', 'http'] }, cameras: [cam('http://10.0.0.1/x.m3u8')] }).cameras.length, 1);
  // Never a protocol that is not a camera's, whatever the config says.
  t.throws(() => parseConfig({ ingest: { urlSchemes: ['rtsp', 'concat'] } }), { code: 'CONFIG_INVALID_VALUE' });
  // Cameras checked on their own (run-time adds) get the default: rtsp and rtsps, no files.
  t.truthy(refused(() => parseCamera(cam('file:///etc/passwd'), 'body'), 'body.url'));
});

test('api: an operator cannot point a camera at a file on the server, by POST or by PATCH, and nothing changes', async (t) => {
  const before = h.cameras.list().length;
  const res = await call('POST', '/api/v1/cameras', { id: 'cam-evil', url: 'file:///etc/passwd', department: 'traffic' });
  t.is(res.status, 400);
  const body = await res.json() as { code: string; message: string };
  t.is(body.code, 'CONFIG_URL_REFUSED');
  t.regex(body.message, /^body\.url: local files are not cameras/);
  t.false(h.cameras.has('cam-evil'));
  t.is(h.cameras.list().length, before);
  const id = h.cameras.list()[0]!.id;
  const url = h.cameras.get(id).config.url;
  const patch = await call('PATCH', `/api/v1/cameras/${id}`, { url: '/etc/shadow' });
  t.is(patch.status, 400);
  t.is((await patch.json() as { code: string }).code, 'CONFIG_URL_REFUSED');
  t.is(h.cameras.get(id).config.url, url);
  // A camera URL stays fine.
  t.is((await call('POST', '/api/v1/cameras', { id: 'cam-ok', url: 'rtsp://10.0.0.7/s', department: 'traffic', enabled: false })).status, 201);
});

test('ffmpeg runs with the scheme\'s protocol whitelist: an RTSP camera\'s decoder cannot open a file', async (t) => {
  const rtsp = decoderArgs({ url: 'rtsp://10.0.0.1/s', fps: 1, width: 64, height: 64, transport: 'udp' });
  const wl = rtsp.input[rtsp.input.indexOf('-protocol_whitelist') + 1];
  t.is(wl, 'rtsp,rtsps,rtp,srtp,udp,tcp,tls');
  t.true(liveArgs({ url: 'rtsp://10.0.0.1/s', transport: 'udp' }, 800).includes('rtsp,rtsps,rtp,srtp,udp,tcp,tls'));
  t.is(decoderArgs({ url: '/srv/a.mp4', fps: 1, width: 64, height: 64, transport: 'tcp' }).input[3], 'file');
  // The whitelist is ffmpeg's own: given the RTSP camera's input options, a file input is refused by ffmpeg.
  const stderr = await new Promise<string>((resolve) => {
    execFile('ffmpeg', ['-hide_banner', '-protocol_whitelist', wl!, '-i', '/etc/hostname', '-f', 'null', '-'], { timeout: 30_000 }, (_err, _out, err) => resolve(err));
  });
  t.regex(stderr, /Protocol 'file' not on whitelist/);
});
