import test from 'ava';
import { parseCamera, parseConfig } from '../config/index.js';
import { decoderArgs, decoderOptionsFor } from '../ingest/index.js';

test('ingest - decoder options follow hwaccel and key-frame settings from config', (t) => {
  const cfg = parseConfig({ ingest: { hwaccel: 'cuda' } });
  const cam = parseCamera({ id: 'c', url: 'rtsp://u:p@10.0.0.1/s', fps: 5 });
  const o = decoderOptionsFor(cam, cfg.ingest, 7);
  t.is(o.hwaccel, 'cuda');
  t.false(o.keyframesOnly);
  t.is(o.firstSeq, 7);
  const { input, output } = decoderArgs(o);
  t.deepEqual(input.slice(input.indexOf('-hwaccel'), input.indexOf('-hwaccel') + 2), ['-hwaccel', 'cuda']);
  t.false(input.includes('-skip_frame'));
  t.true(output.includes('fps=5,scale=640:480'));

  const own = decoderOptionsFor(parseCamera({ id: 'c', url: 'rtsp://cam.example/x', hwaccel: 'none', fps: 0.2 }), cfg.ingest, 0);
  t.is(own.hwaccel, null, 'a camera may turn the ingest-wide hwaccel off');
  t.true(own.keyframesOnly, 'at 0.2 fps only key frames are decoded');
  t.true(decoderArgs(own).input.includes('nokey'));
  t.true(decoderOptionsFor(parseCamera({ id: 'c', url: 'rtsp://cam.example/x', keyframesOnly: true }), parseConfig({}).ingest, 0).keyframesOnly);
  t.throws(() => parseCamera({ id: 'c', url: 'rtsp://cam.example/x', hwaccel: 'vaapi' }), { message: /hwaccel/ });
});
