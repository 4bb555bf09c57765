import test from 'ava';
import { IndexError } from '../common/errors.js';
import { openIndex, parseQuery } from '../search-index/index.js';
import { tempDir } from './support/index-records.js';
import { testDataKey } from './support/data-key.js';

const CASES: Array<[string, unknown, string]> = [
  ['not an object', 'red car', 'query'],
  ['an array', [], 'query'],
  ['null', null, 'query'],
  ['unknown key', { colour: 'red' }, 'colour'],
  ['unknown attribute', { attributes: { hat: 'yes' } }, 'attributes.hat'],
  ['attributes not an object', { attributes: 'red' }, 'attributes'],
  ['attribute not a string', { attributes: { colour: 3 } }, 'attributes.colour'],
  ['attribute empty', { attributes: { colour: '' } }, 'attributes.colour'],
  ['cameraIds not an array', { cameraIds: 'cam-1' }, 'cameraIds'],
  ['cameraIds empty', { cameraIds: [] }, 'cameraIds'],
  ['camera id not a string', { cameraIds: ['cam-1', 7] }, 'cameraIds[1]'],
  ['class unknown', { classes: ['dragon'] }, 'classes[0]'],
  ['classes not an array', { classes: 'car' }, 'classes'],
  ['from a string', { from: '2024-01-01' }, 'from'],
  ['to fractional', { to: 1.5 }, 'to'],
  ['from negative', { from: -1 }, 'from'],
  ['from after to', { from: 2000, to: 1000 }, 'from'],
  ['limit zero', { limit: 0 }, 'limit'],
  ['limit too large', { limit: 501 }, 'limit'],
  ['limit not an integer', { limit: 2.5 }, 'limit'],
  ['limit a string', { limit: '10' }, 'limit'],
  ['cursor not a string', { cursor: 12 }, 'cursor'],
  ['cursor garbage', { cursor: '%%%' }, 'cursor'],
];

for (const [name, input, field] of CASES) {
  test(`index - bad query input is rejected naming the field: ${name}`, (t) => {
    const err = t.throws(() => parseQuery(input), { instanceOf: IndexError });
    t.is(err?.code, 'INDEX_BAD_QUERY');
    t.is(err?.detail['field'], field);
  });
}

test('index - a valid query passes through parseQuery unchanged', (t) => {
  const q = { cameraIds: ['cam-1'], classes: ['car' as const], from: 1, to: 2, attributes: { colour: 'red' }, limit: 500 };
  t.deepEqual(parseQuery(q), q);
  t.deepEqual(parseQuery({ limit: 1 }), { limit: 1 });
});

test('index - query, face search and put reject bad input with typed errors', async (t) => {
  const { dir, cleanup } = tempDir('badq');
  t.teardown(cleanup);
  const index = await openIndex({ dataKey: testDataKey(),  dir, dimensions: 8, sweepIntervalMs: 0 });
  await t.throwsAsync(index.query({ limit: 0 }, 'all'), { code: 'INDEX_BAD_QUERY' } as never);
  // A cursor's content is the issuing index's to check (parseQuery checks only its shape).
  await t.throwsAsync(index.query({ cursor: Buffer.from('{"x":1}').toString('base64url') }, 'all'), { code: 'INDEX_BAD_QUERY' } as never);
  await t.throwsAsync(index.faceSearch(new Float32Array(7), {}, 'all'), { code: 'INDEX_BAD_QUERY' } as never);
  await t.throwsAsync(index.faceSearch(new Float32Array(8), { k: 0 }, 'all'), { code: 'INDEX_BAD_QUERY' } as never);
  await t.throwsAsync(index.faceSearch(new Float32Array(8), { from: 5, to: 1 }, 'all'), { code: 'INDEX_BAD_QUERY' } as never);
  const bad = { id: 'a\x00b', cameraId: 'c', department: 'd', district: '', cls: 'car' as const, start: 1, end: 2, hits: 1, score: 1, box: { x: 0, y: 0, w: 1, h: 1 }, attributes: {}, thumbnail: null, embedding: null };
  await t.throwsAsync(index.put(bad), { code: 'INDEX_BAD_RECORD' } as never);
  await t.throwsAsync(index.put({ ...bad, id: 'ok', end: 0 }), { code: 'INDEX_BAD_RECORD' } as never);
  await t.throwsAsync(index.put({ ...bad, id: 'ok', embedding: new Float32Array(3) }), { code: 'INDEX_BAD_RECORD' } as never);
  t.is(index.stats().pendingWrites, 0);
  await index.close();
});
