/** The recording settings: defaults, per-camera overrides over them, and bad values rejected with their path. */
import test from 'ava';
import { ConfigError } from '../common/errors.js';
import { cameraRecording, parseCamera, parseConfig } from '../config/index.js';

const cam = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ id: 'c1', url: 'rtsp://127.0.0.1:1/x', ...extra });

test('recording config - defaults: off, 10 s segments, 30 days, no quotas, 1 GiB kept free, 10 min clips', (t) => {
  const cfg = parseConfig({ cameras: [cam()] });
  t.is(cfg.recording.mode, 'off');
  t.is(cfg.recording.segmentSeconds, 10);
  t.is(cfg.recording.retentionDays, 30);
  t.is(cfg.recording.quotaBytes, 0);
  t.is(cfg.recording.totalQuotaBytes, 0);
  t.is(cfg.recording.minFreeBytes, 1024 ** 3);
  t.is(cfg.recording.maxClipMs, 600_000);
  t.is(cfg.cameras[0]!.recording, null);
  t.deepEqual(cameraRecording(cfg.recording, cfg.cameras[0]!), {
    mode: 'off', preRollMs: 10_000, postRollMs: 10_000, classes: cfg.recording.classes, retentionDays: 30, quotaBytes: 0,
  });
});

test('recording config - a camera\'s own settings override the top-level ones field by field', (t) => {
  const cfg = parseConfig({
    recording: { mode: 'continuous', quotaBytes: 5_000_000, classes: ['person'] },
    cameras: [cam({ recording: { mode: 'events', preRollMs: 3_000, classes: ['car', 'bus'] } }), cam({ id: 'c2' })],
  });
  const a = cameraRecording(cfg.recording, cfg.cameras[0]!);
  t.is(a.mode, 'events');
  t.is(a.preRollMs, 3_000);
  t.is(a.postRollMs, 10_000);
  t.deepEqual(a.classes, ['car', 'bus']);
  t.is(a.quotaBytes, 5_000_000);
  t.is(cameraRecording(cfg.recording, cfg.cameras[1]!).mode, 'continuous');
  t.is(parseCamera(cam({ recording: { mode: 'off' } })).recording?.mode, 'off');
});

test('recording config - bad values are rejected with their path', (t) => {
  const path = (input: unknown): string | undefined => t.throws(() => parseConfig(input), { instanceOf: ConfigError })?.detail['path'] as string | undefined;
  t.is(path({ recording: { mode: 'always' } }), 'recording.mode');
  t.is(path({ recording: { segmentSeconds: 1 } }), 'recording.segmentSeconds');
  t.is(path({ recording: { segmentSeconds: 4.5 } }), 'recording.segmentSeconds');
  t.is(path({ recording: { quotaBytes: -1 } }), 'recording.quotaBytes');
  t.is(path({ recording: { maxClipMs: 10 } }), 'recording.maxClipMs');
  t.is(path({ recording: { classes: ['dog'] } }), 'recording.classes[0]');
  t.is(path({ recording: { retention: 3 } }), 'recording.retention');
  t.is(path({ cameras: [cam({ recording: { mode: 'sometimes' } })] }), 'cameras[0].recording.mode');
  t.is(path({ cameras: [cam({ recording: { retentionDays: 0 } })] }), 'cameras[0].recording.retentionDays');
  t.is(path({ cameras: [cam({ recording: { segmentSeconds: 4 } })] }), 'cameras[0].recording.segmentSeconds');
});
