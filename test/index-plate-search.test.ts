import test from 'ava';
import { IndexError } from '../common/errors.js';
import type { TrackRecord } from '../common/messages.js';
import { openIndex, parseQuery, verifyIndex, type Scope, type SearchIndex, type SearchQuery, type TrackRecordSummary } from '../search-index/index.js';
import { makeRecord, rng, tempDir } from './support/index-records.js';
import { testDataKey } from './support/data-key.js';

const T0 = 1_700_000_000_000;
const POLICE: Scope = { departments: ['police'] };

function car(id: string, plate: string, start: number, extra: Partial<TrackRecord> & { plateColour?: string; department?: string } = {}): TrackRecord {
  const { plateColour, department, ...rest } = extra;
  return {
    ...makeRecord({ id, start, end: start + 1000, cls: 'car', department: department ?? 'police', attributes: { colour: 'white', vehicleType: 'car', plate, plateColour: plateColour ?? 'blue', plateConfidence: 0.9 } }),
    ...rest,
  };
}

async function all(index: SearchIndex, q: SearchQuery, scope: Scope): Promise<TrackRecordSummary[]> {
  const out: TrackRecordSummary[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 1000; i++) {
    const page = await index.query({ ...q, ...(cursor ? { cursor } : {}) }, scope);
    out.push(...page.records);
    if (page.nextCursor === null) return out;
    cursor = page.nextCursor;
  }
  throw new Error('no end of pages');
}

async function fixture(t: { teardown: (fn: () => void | Promise<void>) => void }, scanBudget?: number): Promise<SearchIndex> {
  const { dir, cleanup } = tempDir('plate');
  t.teardown(cleanup);
  const index = await openIndex({ dataKey: testDataKey(),  dir, batchSize: 64, flushMs: 10, sweepIntervalMs: 0, ...(scanBudget ? { scanBudget } : {}) });
  for (const r of [
    car('a1', '鲁B12345', T0 + 1000),
    car('a2', '鲁B12345', T0 + 2000),
    car('a3', '鲁B12345', T0 + 3000, { department: 'traffic' }),
    car('c1', '鲁B1234S', T0 + 4000),
    car('c2', '鲁B1Z345', T0 + 5000, { plateColour: 'yellow' }),
    car('f1', '鲁B12346', T0 + 6000),
    car('f2', '苏B12345', T0 + 7000),
    car('w1', '鲁B99923', T0 + 8000),
    car('w2', '鲁A55523', T0 + 9000, { plateColour: 'yellow' }),
    car('w3', '京B23123', T0 + 10_000),
    car('w4', '鲁BD2318', T0 + 11_000, { plateColour: 'green' }),
    { ...makeRecord({ id: 'raw1', start: T0 + 12_000, cls: 'car', attributes: { plateRaw: 'lb-12x' } }) },
    makeRecord({ id: 'p1', start: T0 + 13_000, cls: 'person', attributes: { gender: 'male', upperColour: 'red', lowerColour: 'blue' } }),
    makeRecord({ id: 'p2', start: T0 + 14_000, cls: 'person', attributes: { gender: 'female', upperColour: 'white', lowerColour: 'blue' } }),
  ]) await index.put(r);
  await index.flush();
  t.teardown(() => index.close());
  return index;
}

test('index - plate search: exact plate, newest first, in scope only', async (t) => {
  const index = await fixture(t);
  const page = await index.query({ plate: '鲁B12345', plateFuzzy: false }, POLICE);
  t.deepEqual(page.records.map((r) => [r.id, r.plateMatch]), [['a2', 'exact'], ['a1', 'exact']]);
  t.is(page.nextCursor, null);
  // Separators, case and O/I as people type them.
  t.deepEqual((await index.query({ plate: '鲁b·1234s', plateFuzzy: false }, POLICE)).records.map((r) => r.id), ['c1']);
  t.deepEqual((await index.query({ plate: '鲁B12345', plateFuzzy: false }, { departments: ['traffic'] })).records.map((r) => r.id), ['a3']);
  t.deepEqual((await index.query({ plate: '鲁B12345', plateFuzzy: false }, 'all')).records.map((r) => r.id), ['a3', 'a2', 'a1']);
  t.deepEqual((await index.query({ plate: '鲁B12345' }, { departments: [] })).records, []);
});

test('index - plate search: fuzzy matches come after exact ones, OCR confusions before other substitutions', async (t) => {
  const index = await fixture(t);
  const page = await index.query({ plate: '鲁B12345' }, POLICE);
  // Within a kind: plate order (UTF-8 bytes), then newest first.
  t.deepEqual(page.records.map((r) => [r.id, r.plateMatch]), [
    ['a2', 'exact'], ['a1', 'exact'], ['c1', 'confusion'], ['c2', 'confusion'], ['f2', 'fuzzy'], ['f1', 'fuzzy'],
  ]);
  t.is(page.nextCursor, null);
  // Paging across the phases gives the same sequence, whatever the page size.
  for (const limit of [1, 2, 3, 4, 5]) {
    t.deepEqual((await all(index, { plate: '鲁B12345', limit }, POLICE)).map((r) => r.id), ['a2', 'a1', 'c1', 'c2', 'f2', 'f1'], `limit ${limit}`);
  }
  // Other predicates filter every phase.
  t.deepEqual((await index.query({ plate: '鲁B12345', attributes: { plateColour: 'yellow' } }, POLICE)).records.map((r) => r.id), ['c2']);
  t.deepEqual((await index.query({ plate: '鲁B12345', from: T0 + 4500 }, POLICE)).records.map((r) => r.id), ['c2', 'f2', 'f1']);
  t.deepEqual((await index.query({ plate: '鲁B12345', cameraIds: ['cam-9'] }, POLICE)).records, []);
});

test('index - plate search: wildcards at the end, the start, the middle and single characters', async (t) => {
  const index = await fixture(t);
  const ids = async (plate: string, scope: Scope = POLICE): Promise<string[]> => (await all(index, { plate, limit: 2 }, scope)).map((r) => r.id);
  // Forward index: plate order, then newest first.
  t.deepEqual(await ids('鲁B*'), ['a2', 'a1', 'f1', 'c1', 'c2', 'w1', 'w4']);
  t.deepEqual((await ids('*23')).sort(), ['w1', 'w2', 'w3'].sort());
  t.deepEqual((await ids('*23*')).sort(), ['a1', 'a2', 'c1', 'f1', 'f2', 'w1', 'w2', 'w3', 'w4'].sort());
  t.deepEqual((await ids('鲁B?2345')).sort(), ['a1', 'a2']);
  t.deepEqual((await ids('鲁B1?345')).sort(), ['a1', 'a2', 'c2']);
  t.deepEqual((await ids('鲁*3')).sort(), ['w1', 'w2']);
  t.deepEqual(await ids('京B*', { departments: ['traffic'] }), []);
  const page = await index.query({ plate: '鲁B*', attributes: { plateColour: 'green' } }, POLICE);
  t.deepEqual(page.records.map((r) => [r.id, r.plateMatch]), [['w4', 'exact']]);
  // A wildcard pattern has no fuzzy phase.
  t.false((await all(index, { plate: '*23' }, POLICE)).some((r) => r.plateMatch !== 'exact'));
});

test('index - plate search: a reading that fits no plate format is found by exact and wildcard search', async (t) => {
  const index = await fixture(t);
  t.deepEqual((await index.query({ plate: 'LB12X' }, POLICE)).records.map((r) => r.id), ['raw1']);
  t.deepEqual((await index.query({ plate: 'LB*' }, POLICE)).records.map((r) => r.id), ['raw1']);
});

test('index - plate search within a small scan budget pages with cursors and misses nothing', async (t) => {
  const index = await fixture(t, 2);
  t.deepEqual((await all(index, { plate: '*23*' }, 'all')).map((r) => r.id).sort(), ['a1', 'a2', 'a3', 'c1', 'f1', 'f2', 'w1', 'w2', 'w3', 'w4'].sort());
  // No literal at either end: the whole plate index, a budget at a time.
  const first = await index.query({ plate: '?B*8*' }, 'all');
  t.not(first.nextCursor, null);
  t.deepEqual((await all(index, { plate: '?B*8*' }, 'all')).map((r) => r.id), ['w4']);
});

test('index - plate search matches a brute-force scan over random plates', async (t) => {
  // Many small pages over 1500 records: seconds on a busy 2-core host.
  t.timeout(90_000);
  const { dir, cleanup } = tempDir('plate-bf');
  t.teardown(cleanup);
  const index = await openIndex({ dataKey: testDataKey(),  dir, batchSize: 128, flushMs: 10, sweepIntervalMs: 0 });
  const rand = rng(3);
  const pick = (s: string): string => s[Math.floor(rand() * s.length)]!;
  const plates: Array<[string, string, string]> = [];
  for (let i = 0; i < 1500; i++) {
    const plate = (rand() < 0.7 ? '鲁B' : pick('鲁苏京') + pick('ABC')) + Array.from({ length: 5 }, () => pick('0123456789DBZS')).join('');
    const department = rand() < 0.8 ? 'police' : 'traffic';
    plates.push([`r${i}`, plate, department]);
    await index.put(car(`r${i}`, plate, T0 + Math.floor(rand() * 300) * 1000, { department }));
  }
  await index.flush();
  const check = async (pattern: string): Promise<void> => {
    const re = new RegExp(`^${pattern.replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'u');
    const want = plates.filter(([, p, d]) => d === 'police' && re.test(p)).map(([id]) => id).sort();
    const got = await all(index, { plate: pattern, limit: 37 }, POLICE);
    t.deepEqual(got.map((r) => r.id).sort(), want, pattern);
  };
  for (const p of ['鲁B*', '*23', '*2*3*', '鲁B1*9', '苏?1*', '?B0*', '鲁B12345']) await check(p);
  // Fuzzy: exactly one character off, confusions first.
  const target = plates[5]![1];
  const got = await all(index, { plate: target, limit: 7 }, POLICE);
  const off = (p: string): number => [...p].reduce((n, c, i) => n + (c !== [...target][i] ? 1 : 0), 0);
  const want = plates.filter(([, p, d]) => d === 'police' && [...p].length === [...target].length && off(p) <= 1).map(([id]) => id).sort();
  t.deepEqual(got.map((r) => r.id).sort(), want);
  const kinds = got.map((r) => r.plateMatch);
  t.deepEqual(kinds, [...kinds].sort((a, b) => ['exact', 'confusion', 'fuzzy'].indexOf(a!) - ['exact', 'confusion', 'fuzzy'].indexOf(b!)));
  await index.close();
});

test('index - clothing and plate colours are indexed attributes', async (t) => {
  const index = await fixture(t);
  t.deepEqual((await index.query({ attributes: { upperColour: 'red' } }, POLICE)).records.map((r) => r.id), ['p1']);
  t.deepEqual((await index.query({ attributes: { lowerColour: 'blue' } }, POLICE)).records.map((r) => r.id), ['p2', 'p1']);
  t.deepEqual((await index.query({ attributes: { plateColour: 'yellow' } }, POLICE)).records.map((r) => r.id), ['w2', 'c2']);
  // Blue, most plates, has no entries of its own: the time index filtered on the digest answers.
  t.deepEqual((await all(index, { attributes: { plateColour: 'blue' }, limit: 3 }, POLICE)).map((r) => r.id), ['w3', 'w1', 'f2', 'f1', 'c1', 'a2', 'a1']);
  t.deepEqual((await index.query({ classes: ['car'], attributes: { plateColour: 'blue', colour: 'white' }, from: T0 + 7000 }, 'all')).records.map((r) => r.id), ['w3', 'w1', 'f2']);
  t.deepEqual((await index.query({ classes: ['person'], attributes: { lowerColour: 'blue', gender: 'female' } }, POLICE)).records.map((r) => r.id), ['p2']);
});

test('index - the plate crop is stored with the record and its thumbnail, in scope only', async (t) => {
  const { dir, cleanup } = tempDir('plate-crop');
  t.teardown(cleanup);
  const index = await openIndex({ dataKey: testDataKey(),  dir, sweepIntervalMs: 0 });
  const thumb = new Uint8Array([0xff, 0xd8, 1, 2, 3]);
  const crop = new Uint8Array([0xff, 0xd8, 9, 8]);
  await index.put({ ...car('k1', '鲁B12345', T0), thumbnail: thumb, plateCrop: crop });
  await index.put({ ...car('k2', '鲁B12346', T0), thumbnail: null, plateCrop: crop });
  await index.put(car('k3', '鲁B12347', T0, { thumbnail: thumb }));
  await index.flush();
  t.deepEqual(await index.thumbnail('k1', 'all'), thumb);
  t.deepEqual(await index.plateCrop('k1', 'all'), crop);
  t.deepEqual(await index.plateCrop('k2', 'all'), crop);
  t.is(await index.thumbnail('k2', 'all'), null);
  t.deepEqual(await index.thumbnail('k3', 'all'), thumb);
  t.is(await index.plateCrop('k3', 'all'), null);
  t.is(await index.plateCrop('k1', { departments: ['traffic'] }), null);
  const r = await index.get('k1', 'all');
  t.deepEqual(r?.plateCrop, crop);
  t.deepEqual(r?.thumbnail, thumb);
  const page = await index.query({ plate: '鲁B1234?' }, 'all');
  t.deepEqual(page.records.map((x) => [x.id, x.hasPlateCrop, x.hasThumbnail]), [['k1', true, true], ['k2', true, false], ['k3', false, true]]);
  await index.close();
});

test('index - retention deletes plate entries with the record', async (t) => {
  const { dir, cleanup } = tempDir('plate-retention');
  t.teardown(cleanup);
  const DAY = 86_400_000;
  const now = T0 + 100 * DAY;
  let index = await openIndex({ dataKey: testDataKey(),  dir, sweepIntervalMs: 0, retention: { trackDays: 30, faceDays: 7 } });
  await index.put({ ...car('old', '鲁B12345', T0), plateCrop: new Uint8Array([1]) });
  await index.put(car('new', '鲁B12345', now - DAY));
  // Put again: the replaced version's plate entries go too.
  await index.put(car('moved', '鲁B00001', now - DAY));
  await index.flush();
  await index.put(car('moved', '鲁B00002', now - DAY));
  await index.flush();
  t.is(await index.sweep(now), 1);
  t.deepEqual((await index.query({ plate: '鲁B12345' }, 'all')).records.map((r) => r.id), ['new']);
  t.deepEqual((await index.query({ plate: '鲁B0000?' }, 'all')).records.map((r) => r.id), ['moved']);
  await index.close();
  const report = await verifyIndex(dir);
  t.deepEqual(report.problems, []);
  t.is(report.records, 2);
  index = await openIndex({ dataKey: testDataKey(),  dir, sweepIntervalMs: 0 });
  t.is(await index.plateCrop('old', 'all'), null);
  await index.close();
});

const BAD: Array<[string, unknown, string]> = [
  ['plate not a string', { plate: 7 }, 'plate'],
  ['plate empty', { plate: '' }, 'plate'],
  ['plate only separators', { plate: ' · ' }, 'plate'],
  ['plate only wildcards', { plate: '*?*' }, 'plate'],
  ['plate only a star', { plate: '*' }, 'plate'],
  ['plate outside the alphabet', { plate: '鲁B1234!' }, 'plate'],
  ['plate with a Latin province', { plate: 'ZZ是12345' }, 'plate'],
  ['plate too long', { plate: '鲁B12345678901234567' }, 'plate'],
  ['plateFuzzy not a boolean', { plate: '鲁B12345', plateFuzzy: 'yes' }, 'plateFuzzy'],
  ['plateFuzzy without a plate', { plateFuzzy: true }, 'plateFuzzy'],
  ['plateFuzzy with wildcards', { plate: '鲁B*', plateFuzzy: true }, 'plateFuzzy'],
  ['plate colour unknown', { attributes: { plateColour: 'pink' } }, 'attributes.plateColour'],
  ['upper colour unknown', { attributes: { upperColour: 'pink' } }, 'attributes.upperColour'],
  ['lower colour unknown', { attributes: { lowerColour: 7 } }, 'attributes.lowerColour'],
];

for (const [name, input, field] of BAD) {
  test(`index - bad plate query input is rejected naming the field: ${name}`, (t) => {
    const err = t.throws(() => parseQuery(input), { instanceOf: IndexError });
    t.is(err?.code, 'INDEX_BAD_QUERY');
    t.is(err?.detail['field'], field);
  });
}

test('index - a plate query is canonical after parseQuery; a cursor of another kind of query is refused', async (t) => {
  t.deepEqual(parseQuery({ plate: '鲁b-1234o**' }), { plate: '鲁B12340*' });
  const index = await fixture(t);
  const attrPage = await index.query({ limit: 1 }, POLICE);
  await t.throwsAsync(index.query({ plate: '鲁B*', cursor: attrPage.nextCursor! }, POLICE), { code: 'INDEX_BAD_QUERY' } as never);
  const platePage = await index.query({ plate: '鲁B*', limit: 1 }, POLICE);
  await t.throwsAsync(index.query({ cursor: platePage.nextCursor! }, POLICE), { code: 'INDEX_BAD_QUERY' } as never);
});

test('index - a record stored before plate search keeps its old key set, so deleting it removes exactly what was written', async (t) => {
  const { indexPrefixes, ownedKeys, toStored } = await import('../search-index/record.js');
  const now = toStored(car('k', '鲁B12345', T0, { plateColour: 'yellow' }), null);
  // As layout 2 wrote it before plate search: no `keys` marker, whatever attributes it carried.
  const { keys: _k, ...before } = { ...now, attributes: { ...now.attributes, upperColour: 'red' } };
  void _k;
  t.true(ownedKeys(now).some((k) => k.startsWith('P\x00')));
  t.true(indexPrefixes(now).some((p) => p.includes('\x00plateColour\x00')));
  t.false(ownedKeys(before).some((k) => k.startsWith('P\x00') || k.startsWith('Q\x00')));
  t.false(indexPrefixes(before).some((p) => /\x00(plateColour|upperColour|lowerColour)\x00/.test(p)));
  t.is(indexPrefixes(before).length, indexPrefixes(now).length - 1);
});
