import test from 'ava';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../common/errors.js';
import { loadConfig, parseCamera, parseConfig } from '../config/index.js';

const cam = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ id: 'c1', url: 'rtsp://127.0.0.1:1/x', ...extra });

test('config - defaults fill an empty config and the result is frozen', (t) => {
  const cfg = parseConfig({});
  t.is(cfg.inference.backend, 'onnx');
  t.is(cfg.ingest.queueSize, 4);
  t.deepEqual(cfg.cameras, []);
  t.true(Object.isFrozen(cfg));
  t.true(Object.isFrozen(cfg.inference));
  t.throws(() => { (cfg as { node: string }).node = 'x'; });
});

test('config - an unknown key is rejected with its path', (t) => {
  const err = t.throws(() => parseConfig({ cameras: [cam({ colour: 'red' })] }), { instanceOf: ConfigError });
  t.is(err?.code, 'CONFIG_UNKNOWN_KEY');
  t.is(err?.detail['path'], 'cameras[0].colour');
  t.regex(err?.message ?? '', /cameras\[0\]\.colour/);
  const top = t.throws(() => parseConfig({ inferenc: {} }), { instanceOf: ConfigError });
  t.is(top?.detail['path'], 'inferenc');
});

test('config - a wrong type names the path and the type', (t) => {
  const err = t.throws(() => parseConfig({ cameras: [cam({ fps: 'five' })] }), { instanceOf: ConfigError });
  t.is(err?.code, 'CONFIG_INVALID_TYPE');
  t.is(err?.detail['path'], 'cameras[0].fps');
  t.regex(err?.message ?? '', /must be a number, got string/);
});

test('config - bounds, enums and required fields', (t) => {
  t.is(t.throws<ConfigError>(() => parseConfig({ inference: { workers: 0 } }))?.code, 'CONFIG_OUT_OF_RANGE');
  t.is(t.throws<ConfigError>(() => parseConfig({ inference: { backend: 'cuda' } }))?.code, 'CONFIG_INVALID_VALUE');
  const missing = t.throws(() => parseConfig({ cameras: [{ id: 'c1' }] }), { instanceOf: ConfigError });
  t.is(missing?.code, 'CONFIG_MISSING_FIELD');
  t.is(missing?.detail['path'], 'cameras[0].url');
  t.is(t.throws<ConfigError>(() => parseConfig({ cameras: [cam({ id: 'bad id!' })] }))?.code, 'CONFIG_INVALID_VALUE');
});

test('config - cross-field rules name the path', (t) => {
  const dup = t.throws(() => parseConfig({ cameras: [cam(), cam()] }), { instanceOf: ConfigError });
  t.is(dup?.detail['path'], 'cameras[1].id');
  const zone = { id: 'z', polygon: [[0, 0], [10, 0], [10, 10]], crowd: { threshold: 5, clearThreshold: 5 } };
  const hyst = t.throws(() => parseConfig({ cameras: [cam({ zones: [zone] })] }), { instanceOf: ConfigError });
  t.is(hyst?.detail['path'], 'cameras[0].zones[0].crowd.clearThreshold');
  const tooFew = t.throws(() => parseConfig({ cameras: [cam({ zones: [{ id: 'z', polygon: [[0, 0], [1, 1]] }] })] }), { instanceOf: ConfigError });
  t.is(tooFew?.code, 'CONFIG_OUT_OF_RANGE');
  t.is(tooFew?.detail['path'], 'cameras[0].zones[0].polygon');
});

test('config - a camera entry added at run time is checked the same way', (t) => {
  t.is(parseCamera(cam()).fps, 5);
  t.is(t.throws<ConfigError>(() => parseCamera(cam({ transport: 'sctp' })))?.code, 'CONFIG_INVALID_VALUE');
});

test('config - an unreadable or non-JSON file is CONFIG_UNREADABLE', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cvcore-cfg-'));
  const bad = join(dir, 'bad.json');
  await writeFile(bad, '{ "cameras": [ }');
  t.is((await t.throwsAsync<ConfigError>(loadConfig(bad)))?.code, 'CONFIG_UNREADABLE');
  t.is((await t.throwsAsync<ConfigError>(loadConfig(join(dir, 'none.json'))))?.code, 'CONFIG_UNREADABLE');
  const good = join(dir, 'good.json');
  await writeFile(good, JSON.stringify({ cameras: [cam()] }));
  t.is((await loadConfig(good)).cameras[0]?.id, 'c1');
});

test('config - a self-intersecting zone polygon is rejected with its path', (t) => {
  const bowtie = { id: 'z', polygon: [[0, 0], [10, 10], [10, 0], [0, 10]] };
  const err = t.throws<Error & { code: string; detail: Record<string, unknown> }>(() => parseConfig({ cameras: [cam({ zones: [bowtie] })] }));
  t.is(err?.code, 'TRACKING_BAD_ZONE');
  t.regex(err?.message ?? '', /cameras\[0\]\.zones\[0\]/);
});

test('config - the detector is checked against the model manifest, with its input size and cadence', (t) => {
  const cfg = parseConfig({ cameras: [cam()] });
  t.is(cfg.inference.model, 'centernet');
  t.is(cfg.inference.inputSize, null, 'the model\'s own size');
  t.is(cfg.cameras[0]!.detectEvery, 1);
  t.is(parseConfig({ inference: { inputSize: 320 } }).inference.inputSize, 320);
  t.true(cfg.inference.workers >= 1, 'one worker per core by default');
  const unknown = t.throws(() => parseConfig({ inference: { model: 'yolov99' } }), { instanceOf: ConfigError });
  t.is(unknown?.code, 'CONFIG_INVALID_VALUE');
  t.is(unknown?.detail['path'], 'inference.model');
  t.regex(unknown?.message ?? '', /not a detector.*detectors: centernet/);
  // A manifest entry that is not a detector is refused as well.
  t.is(t.throws(() => parseConfig({ inference: { model: 'faceres' } }), { instanceOf: ConfigError })?.detail['path'], 'inference.model');
  const size = t.throws(() => parseConfig({ inference: { inputSize: 300 } }), { instanceOf: ConfigError });
  t.is(size?.code, 'CONFIG_INVALID_VALUE');
  t.is(size?.detail['path'], 'inference.inputSize');
  t.regex(size?.message ?? '', /runs at 256, 320, 384, 448, 512, not 300/);
  const every = t.throws(() => parseConfig({ cameras: [cam({ detectEvery: 0 })] }), { instanceOf: ConfigError });
  t.is(every?.code, 'CONFIG_OUT_OF_RANGE');
  t.is(every?.detail['path'], 'cameras[0].detectEvery');
  t.is(t.throws(() => parseCamera(cam({ detectEvery: 1.5 })), { instanceOf: ConfigError })?.detail['path'], 'camera.detectEvery');
});

test('config - inference.plates reads plates by default and must be a boolean', (t) => {
  t.true(parseConfig({}).inference.plates);
  t.false(parseConfig({ inference: { plates: false } }).inference.plates);
  const bad = t.throws<ConfigError>(() => parseConfig({ inference: { plates: 'yes' } }));
  t.is(bad?.code, 'CONFIG_INVALID_TYPE');
  t.is(bad?.detail['path'], 'inference.plates');
});
