/**
 * Cluster records, search and audit over a real 3-server NATS cluster (nats-cluster.conf users) and real RocksDB
 * indexes: an analytics publisher, three index nodes giving every one of S = 4 shards two replicas (A holds all
 * four, B1 shards 0-1, B2 shards 2-3), and an api node's ClusterIndex. Results are compared with one plain local
 * index holding the same records.
 */
import test from 'ava';
import { join } from 'node:path';
import sharp from 'sharp';
import { peopleOf, withPeople } from '../common/frame-people.js';
import { openBucket } from '../cluster/kv.js';
import { connect, type NatsConnection } from 'nats';
import { ClusterError, CvcoreError } from '../common/errors.js';
import type { ObjectClass, TrackRecord } from '../common/messages.js';
import { startNatsCluster, type NatsCluster } from '../cluster/nats-cluster.js';
import {
  AuditMaterialiser, ClusterIndex, ErasureApplier, RecordPublisher, SearchService, ShardConsumer, decodeRecordPayload, encodeRecordPayload,
  ensureRecordStreams, erasureConsumerName, frameTimeOf,
} from '../cluster/records-index.js';
import { shardOf } from '../cluster/shards.js';
import { CLUSTER_USERS, STREAMS, demoPassword, erasureSubject, recordSubject } from '../cluster/subjects.js';
import { openIndex, type FaceMatchList, type FaceSearchOptions, type Scope, type SearchIndex, type SearchQuery } from '../search-index/index.js';
import { makeRecord, rng, tempDir, unitVector } from './support/index-records.js';
import { testDataKey } from './support/data-key.js';

const S = 4;
const N = 480;
const D = 1024;
const T0 = Date.now() - 3_600_000;
const CLASSES: ObjectClass[] = ['car', 'person', 'bus', 'truck'];
const COLOURS = ['red', 'blue', 'white'];
const ERASURE_STREAM = { replicas: 3, retentionDays: 30 };

interface IndexNode {
  name: string;
  shards: number[];
  index: SearchIndex;
  nc: NatsConnection;
  consumer: ShardConsumer | null;
  service: SearchService | null;
  erasures: ErasureApplier | null;
}

interface World {
  cluster: NatsCluster;
  dir: string;
  records: TrackRecord[];
  reference: SearchIndex;
  publisher: RecordPublisher;
  pubNc: NatsConnection;
  nodes: IndexNode[];
  api: ClusterIndex;
  apiNc: NatsConnection;
  auditIndex: SearchIndex;
  materialiser: AuditMaterialiser;
  cleanups: Array<() => Promise<void> | void>;
}

let w: World | null = null;
const world = (): World => {
  if (!w) throw new Error('the cluster did not start');
  return w;
};

async function connectAs(url: string, user: string): Promise<NatsConnection> {
  return connect({ servers: url.split(','), user, pass: demoPassword(user), timeout: 5_000, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
}

async function waitFor(what: string, pred: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function makeRecords(): TrackRecord[] {
  const rand = rng(16);
  // Plates from their own generator (the other fields stay as they were); few characters, so many plates are one
  // character apart and plate searches have exact, confusion and fuzzy matches on every shard.
  const prand = rng(61);
  const plateChars = '0128DBZS';
  const out: TrackRecord[] = [];
  for (let i = 0; i < N; i++) {
    const cls = CLASSES[Math.floor(rand() * CLASSES.length)]!;
    const cameraId = `cam-${Math.floor(rand() * 12)}`;
    // Coarse start times: many records share one, so the id tie-break decides the order across shards too.
    const start = T0 + Math.floor(rand() * 120) * 1000;
    const face = cls === 'person' && rand() < 0.7;
    out.push(makeRecord({
      id: `${cameraId}:${i}:${start}`,
      cameraId,
      department: rand() < 0.4 ? 'traffic' : 'police',
      cls,
      start,
      end: start + 4000,
      attributes: cls === 'person' ? { gender: rand() < 0.5 ? 'male' : 'female' } : { colour: COLOURS[Math.floor(rand() * 3)]!, vehicleType: cls },
      thumbnail: rand() < 0.5 ? new Uint8Array([0xff, 0xd8, i & 0xff, (i >> 8) & 0xff, 0xff, 0xd9]) : null,
      embedding: face ? unitVector(rand, D) : null,
    }));
    if (cls !== 'person') {
      const plate = '鲁B' + Array.from({ length: 5 }, () => plateChars[Math.floor(prand() * (prand() < 0.5 ? 3 : plateChars.length))]).join('');
      const r = out[out.length - 1]!;
      out[out.length - 1] = { ...r, attributes: { ...r.attributes, plate, plateColour: 'blue' }, plateCrop: prand() < 0.5 ? new Uint8Array([0xff, 0xd8, 0x50, i & 0xff, 0xff, 0xd9]) : null };
    }
  }
  return out;
}

async function startIndexNode(cluster: NatsCluster, dir: string, name: string, user: string, shards: number[], scanBudget?: number): Promise<IndexNode> {
  const index = await openIndex({ dataKey: testDataKey(),  dir: join(dir, name), batchSize: 64, flushMs: 20, sweepIntervalMs: 0, vectorSaveIntervalMs: 0, ...(scanBudget ? { scanBudget } : {}) });
  const nc = await connectAs(cluster.url, user);
  // As runtime/cluster-node.ts: the erasures (tombstones) first, then the record consumers that skip them.
  const erasures = await ErasureApplier.start(nc, { node: name, shards: S, indexShards: shards, index, stream: ERASURE_STREAM });
  const consumer = await ShardConsumer.start(nc, { node: name, shards: S, indexShards: shards, index, streams: { replicas: 3, trackDays: 30, faceDays: 7 }, skip: (id) => erasures.isErased(id) });
  const service = await SearchService.start(nc, { shards: S, indexShards: shards, index });
  return { name, shards, index, nc, consumer, service, erasures };
}

async function pageAll(index: SearchIndex, q: SearchQuery, scope: Scope, maxPages = 500): Promise<{ ids: string[]; pages: number; missing: number[] }> {
  const ids: string[] = [];
  const missing = new Set<number>();
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await index.query(cursor === undefined ? q : { ...q, cursor }, scope);
    pages += 1;
    ids.push(...page.records.map((r) => r.id));
    for (const s of page.missingShards ?? []) missing.add(s);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined && pages < maxPages);
  return { ids, pages, missing: [...missing] };
}

const held = (n: IndexNode, r: TrackRecord): boolean => n.shards.includes(shardOf(r.cameraId, S));

test.before(async () => {
  const { dir, cleanup } = tempDir('cluster-records');
  const cleanups: World['cleanups'] = [cleanup];
  try {
    const cluster = await startNatsCluster({ servers: 3, dir: join(dir, 'nats') });
    cleanups.unshift(() => cluster.stop());
    const records = makeRecords();
    const reference = await openIndex({ dataKey: testDataKey(),  dir: join(dir, 'reference'), batchSize: 128, flushMs: 10, sweepIntervalMs: 0, vectorSaveIntervalMs: 0 });
    cleanups.unshift(() => reference.close());
    for (const r of records) await reference.put(r);
    await reference.settle();

    const pubNc = await connectAs(cluster.url, CLUSTER_USERS.analytics);
    cleanups.unshift(() => pubNc.close());
    await ensureRecordStreams(await pubNc.jetstreamManager(), { replicas: 3, trackDays: 30, faceDays: 7 });
    const publisher = new RecordPublisher(pubNc, { shards: S });

    const nodes: IndexNode[] = [];
    cleanups.unshift(async () => {
      for (const n of nodes) {
        await n.service?.stop();
        await n.consumer?.stop();
        await n.erasures?.stop();
        await n.nc.close();
        await n.index.close();
      }
    });
    nodes.push(await startIndexNode(cluster, dir, 'A', CLUSTER_USERS.index, [0, 1, 2, 3], 25));
    nodes.push(await startIndexNode(cluster, dir, 'B1', CLUSTER_USERS.node, [0, 1]));
    nodes.push(await startIndexNode(cluster, dir, 'B2', CLUSTER_USERS.index, [2, 3]));

    const apiNc = await connectAs(cluster.url, CLUSTER_USERS.api);
    cleanups.unshift(() => apiNc.close());
    const auditIndex = await openIndex({ dataKey: testDataKey(),  dir: join(dir, 'api-audit'), sweepIntervalMs: 0, vectorSaveIntervalMs: 0 });
    cleanups.unshift(() => auditIndex.close());
    const materialiser = await AuditMaterialiser.start(apiNc, { node: 'api-1', index: auditIndex, replicas: 3 });
    cleanups.unshift(() => materialiser.stop());
    const api = new ClusterIndex(apiNc, { node: 'api-1', shards: S, searchTimeoutMs: 3_000, audit: auditIndex, erasure: { stream: ERASURE_STREAM, waitMs: 20_000 } });
    cleanups.unshift(() => api.close());
    w = { cluster, dir, records, reference, publisher, pubNc, nodes, api, apiNc, auditIndex, materialiser, cleanups };
  } catch (err) {
    for (const c of cleanups) await Promise.resolve(c()).catch(() => undefined);
    throw err;
  }
});

test.after.always(async () => {
  if (!w) return;
  for (const c of w.cleanups) await Promise.resolve(c()).catch(() => undefined);
});

test.serial('record codec - round trip and malformed payloads', (t) => {
  const rand = rng(3);
  const r = makeRecord({ id: 'cam-x:1:5', cameraId: 'cam-x', thumbnail: new Uint8Array([1, 2, 3]), embedding: unitVector(rand, D), attributes: { colour: 'red', age: 31 } });
  const back = decodeRecordPayload(encodeRecordPayload(r));
  t.deepEqual({ ...back, embedding: [...back.embedding!], thumbnail: [...back.thumbnail!] }, { ...r, embedding: [...r.embedding!], thumbnail: [...r.thumbnail!], plateCrop: null });
  const plain = makeRecord({ id: 'cam-x:2:5', cameraId: 'cam-x' });
  t.deepEqual(decodeRecordPayload(encodeRecordPayload(plain)), { ...plain, plateCrop: null });
  // The plate crop travels after the embedding.
  const plated = { ...r, attributes: { plate: '鲁B12345' }, plateCrop: new Uint8Array([0xff, 0xd8, 9, 0xff, 0xd9]) };
  const pb = decodeRecordPayload(encodeRecordPayload(plated));
  t.deepEqual([...pb.plateCrop!], [...plated.plateCrop]);
  t.deepEqual([...pb.thumbnail!], [...plated.thumbnail!]);
  t.deepEqual([...pb.embedding!], [...plated.embedding!]);
  const good = encodeRecordPayload(r);
  for (const bad of [new Uint8Array(0), new TextEncoder().encode('{"id":"x"}'), good.subarray(0, good.length - 1), good.subarray(0, 20)]) {
    const err = t.throws(() => decodeRecordPayload(bad));
    t.true(err instanceof ClusterError);
    t.is((err as ClusterError).code, 'CLUSTER_BAD_MESSAGE');
  }
});

test.serial('records - published over 4 shards, each index node ingests exactly its shards; a republish is a duplicate', async (t) => {
  const { records, publisher, nodes } = world();
  for (let i = 0; i < records.length; i += 40) await Promise.all(records.slice(i, i + 40).map((r) => publisher.publish(r)));
  // The same ids again (an analytics node that restarted before it saw the acks).
  await Promise.all(records.slice(0, 25).map((r) => publisher.publish(r)));
  const st = publisher.stats();
  t.is(st.published, N + 25);
  t.is(st.duplicates, 25);
  t.is(st.failed, 0);
  t.true(st.ackMs.count > 0 && st.ackMs.p50 > 0);
  t.log(`publish call-to-ack: p50 ${st.ackMs.p50.toFixed(1)} ms, p99 ${st.ackMs.p99.toFixed(1)} ms over ${st.ackMs.count} (3 replicas)`);
  for (const n of nodes) {
    const want = records.filter((r) => held(n, r));
    await waitFor(`${n.name} to hold ${want.length} records`, () => n.index.stats().records === want.length);
    await waitFor(`${n.name}'s consumers to be drained`, async () => (await n.consumer!.status()).every((c) => c.pending === 0 && c.ackPending === 0));
    const status = await n.consumer!.status();
    t.is(status.length, n.shards.length * 2, `${n.name}: one consumer per held shard and stream`);
    t.is(n.index.stats().faces, want.filter((r) => r.embedding).length);
    for (const r of records.slice(0, 25)) if (held(n, r)) t.truthy(await n.index.get(r.id, 'all'));
  }
  // Re-putting the same id into a local index replaces the record and leaves the counts alone.
  const ref = world().reference;
  const before = ref.stats();
  for (const r of records.slice(0, 30)) await ref.put(r);
  await ref.flush();
  t.deepEqual([ref.stats().records, ref.stats().faces], [before.records, before.faces]);
});

test.serial('search - cluster pages match one index exactly (order, ids, no gaps, no repeats)', async (t) => {
  const { api, reference, records } = world();
  // The plate seen most often, so its search has exact matches on several shards and one-offs after them.
  const seen = new Map<string, number>();
  for (const r of records) if (typeof r.attributes['plate'] === 'string') seen.set(r.attributes['plate'], (seen.get(r.attributes['plate']) ?? 0) + 1);
  const top = [...seen.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  const queries: Array<[SearchQuery, Scope]> = [
    [{ limit: 37 }, 'all'],
    [{ limit: 500 }, 'all'],
    [{ limit: 5, classes: ['car'] }, 'all'],
    [{ limit: 20, attributes: { colour: 'red' } }, 'all'],
    [{ limit: 11, cameraIds: ['cam-1', 'cam-7', 'cam-10'] }, 'all'],
    [{ limit: 13, from: T0 + 30_000, to: T0 + 60_000 }, 'all'],
    [{ limit: 17 }, { departments: ['traffic'] }],
    [{ limit: 9, classes: ['person'], attributes: { gender: 'female' } }, { departments: ['police'] }],
    [{ limit: 10 }, { departments: [] }],
    [{ limit: 10, cameraIds: ['no-such-camera'] }, 'all'],
    // Plate searches: plate order (exact, then confusions, then other one-offs) merged across the shards.
    [{ limit: 2, plate: top }, 'all'],
    [{ limit: 1, plate: top }, { departments: ['police'] }],
    [{ limit: 7, plate: '鲁B*' }, 'all'],
    [{ limit: 4, plate: '*12' }, { departments: ['traffic'] }],
    [{ limit: 5, plate: '*D*' }, 'all'],
    [{ limit: 2, plate: '鲁B?0*', attributes: { colour: 'red' } }, 'all'],
  ];
  for (const [q, scope] of queries) {
    const want = await pageAll(reference, q, scope);
    const got = await pageAll(api, q, scope);
    if (q.plate !== undefined) t.true(want.pages > 1, `a plate search over several pages: ${JSON.stringify(q)}`);
    t.deepEqual(got.missing, [], JSON.stringify(q));
    t.is(new Set(got.ids).size, got.ids.length, `no repeats: ${JSON.stringify(q)}`);
    t.deepEqual(got.ids, want.ids, `same records in the same order: ${JSON.stringify(q)} ${JSON.stringify(scope)}`);
  }
  const kinds = new Set((await reference.query({ plate: top, limit: 500 }, 'all')).records.map((r) => r.plateMatch));
  t.true(kinds.has('exact') && kinds.size > 1, 'the plate search above crosses from exact to one-off matches');
  // Department scope is enforced on the index nodes: a traffic-scoped caller sees traffic records only.
  const traffic = await api.query({ limit: 500 }, { departments: ['traffic'] });
  t.true(traffic.records.length > 0);
  t.true(traffic.records.every((r) => r.department === 'traffic'));
});

test.serial('search - bad queries and foreign cursors are INDEX_BAD_QUERY', async (t) => {
  const { api, reference } = world();
  const local = await reference.query({ limit: 3 }, 'all');
  for (const q of [{ limit: 0 }, { classes: ['spaceship'] }, { cursor: local.nextCursor! }, { cursor: 'not-a-cursor' }] as SearchQuery[]) {
    const err = await t.throwsAsync(api.query(q, 'all'));
    t.is((err as CvcoreError).code, 'INDEX_BAD_QUERY', JSON.stringify(q));
  }
  const err = await t.throwsAsync(api.faceSearch(new Float32Array(3), {}, 'all'));
  t.is((err as CvcoreError).code, 'INDEX_BAD_QUERY');
});

test.serial('search - face top k matches one index; get and thumbnail ask the record\'s shard', async (t) => {
  const { api, reference, records } = world();
  const faces = records.filter((r) => r.embedding);
  for (const probe of [faces[0]!, faces[7]!, faces[faces.length - 1]!]) {
    const cases: Array<[FaceSearchOptions, Scope]> = [[{ k: 10 }, 'all'], [{ k: 5 }, { departments: ['traffic'] }], [{ k: 3, cameraIds: [probe.cameraId] }, 'all']];
    for (const [opts, scope] of cases) {
      const want = await reference.faceSearch(probe.embedding!, opts, scope);
      const got: FaceMatchList = await api.faceSearch(probe.embedding!, opts, scope);
      t.is(got.missingShards, undefined);
      t.deepEqual(got.map((m) => m.record.id), want.map((m) => m.record.id));
      got.forEach((m, i) => t.true(Math.abs(m.similarity - want[i]!.similarity) < 1e-5));
    }
  }
  const withThumb = records.find((r) => r.thumbnail && r.embedding)!;
  const full = await api.get(withThumb.id, 'all');
  t.truthy(full);
  t.deepEqual([...full!.embedding!], [...withThumb.embedding!]);
  t.deepEqual([...(await api.thumbnail(withThumb.id, 'all'))!], [...withThumb.thumbnail!]);
  const withCrop = records.find((r) => r.plateCrop)!;
  t.deepEqual([...(await api.plateCrop(withCrop.id, 'all'))!], [...withCrop.plateCrop!]);
  t.deepEqual([...(await api.get(withCrop.id, 'all'))!.plateCrop!], [...withCrop.plateCrop!]);
  t.is(await api.plateCrop(withCrop.id, { departments: [withCrop.department === 'police' ? 'traffic' : 'police'] }), null);
  t.is(await api.plateCrop(records.find((r) => !r.plateCrop)!.id, 'all'), null);
  const other = withThumb.department === 'police' ? 'traffic' : 'police';
  t.is(await api.get(withThumb.id, { departments: [other] }), null);
  t.is(await api.thumbnail(withThumb.id, { departments: [other] }), null);
  t.is(await api.get('cam-1:999999:1', 'all'), null);
  t.is(await api.get('no-colons', 'all'), null);
});

test.serial('records - a payload that does not decode is terminated and does not block its shard', async (t) => {
  const { pubNc, publisher, nodes } = world();
  const js = pubNc.jetstream();
  const shard = 1;
  await js.publish(recordSubject('track', shard), new TextEncoder().encode('not a record'), { msgID: 'garbage-1' });
  const cam = Array.from({ length: 50 }, (_, i) => `late-${i}`).find((c) => shardOf(c, S) === shard)!;
  const after = makeRecord({ id: `${cam}:1:${T0}`, cameraId: cam, start: T0 });
  await publisher.publish(after);
  for (const n of nodes.filter((x) => x.shards.includes(shard))) {
    await waitFor(`${n.name} to index the record after the garbage`, async () => (await n.index.get(after.id, 'all')) !== null);
    await waitFor(`${n.name} to count the garbage`, () => n.consumer!.stats().malformed === 1);
  }
  await world().reference.put(after);
  await world().reference.flush();
  world().records.push(after);
  t.pass();
});

test.serial('records - a restarted node catches up from its durable consumers; a new node rebuilds its shards from the streams', async (t) => {
  const { cluster, dir, records, publisher, nodes, reference } = world();
  const b2 = nodes.find((n) => n.name === 'B2')!;
  await b2.consumer!.stop();
  b2.consumer = null;
  const cams = Array.from({ length: 200 }, (_, i) => `more-${i}`).filter((c) => [2, 3].includes(shardOf(c, S))).slice(0, 5);
  const more = cams.map((c, i) => makeRecord({ id: `${c}:${i}:${T0 + i}`, cameraId: c, start: T0 + i, department: 'police' }));
  for (const r of more) await publisher.publish(r);
  for (const r of more) await reference.put(r);
  await reference.flush();
  records.push(...more);
  b2.consumer = await ShardConsumer.start(b2.nc, { node: 'B2', shards: S, indexShards: [2, 3], index: b2.index });
  await waitFor('B2 to catch up', async () => (await Promise.all(more.map((r) => b2.index.get(r.id, 'all')))).every((x) => x !== null));
  t.is(b2.index.stats().records, records.filter((r) => held(b2, r)).length);

  // C is new: its consumers start at the beginning of the streams.
  const c = await startIndexNode(cluster, dir, 'C', CLUSTER_USERS.index, [1]);
  nodes.push(c);
  const want = records.filter((r) => held(c, r)).length;
  await waitFor(`C to rebuild shard 1 (${want} records)`, () => c.index.stats().records === want);
  t.is(c.index.stats().records, want);
});

test.serial('records - a NATS server killed: publishes still resolve on acks and every record reaches its shards', async (t) => {
  const { cluster, records, publisher, reference, nodes } = world();
  const victim = cluster.servers[0]!;
  await victim.kill();
  t.teardown(() => victim.start());
  const cams = Array.from({ length: 40 }, (_, i) => `crash-${i}`);
  const batch = cams.map((c, i) => makeRecord({ id: `${c}:${i}:${T0 + 500 + i}`, cameraId: c, start: T0 + 500 + i }));
  const t0 = Date.now();
  await Promise.all(batch.map((r) => publisher.publish(r)));
  t.log(`40 publishes acked ${Date.now() - t0} ms after a server was killed`);
  for (const r of batch) await reference.put(r);
  await reference.flush();
  records.push(...batch);
  t.log(`retries while a server was down: ${publisher.stats().retries}`);
  for (const n of nodes) {
    await waitFor(`${n.name} to index the records published during the outage`, async () =>
      (await Promise.all(batch.filter((r) => held(n, r)).map((r) => n.index.get(r.id, 'all')))).every((x) => x !== null));
  }
  t.log(`indexed on every replica ${Date.now() - t0} ms after the kill`);
  await victim.start();
  t.is(publisher.stats().failed, 0);
});

test.serial('audit - an entry appended through the cluster index is readable from the materialised trail', async (t) => {
  const { api } = world();
  const at = Date.now();
  await api.appendAudit({ at, tokenId: 'tok-1', role: 'investigator', department: 'police', action: 'search', query: { limit: 5 }, results: ['a', 'b'] });
  await api.appendAudit({ at: at + 1, tokenId: 'tok-2', role: 'auditor', department: '*', action: 'audit', query: null, results: 0 });
  await waitFor('the audit entries to be materialised', async () => (await api.readAudit({ from: at })).entries.length === 2, 30_000);
  const page = await api.readAudit({ from: at });
  t.deepEqual(page.entries.map((e) => e.tokenId), ['tok-1', 'tok-2']);
  t.deepEqual(page.entries[0]!.results, ['a', 'b']);
  await t.throwsAsync(api.appendAudit({ at: -1 } as never));
  const err = await t.throwsAsync(api.put(world().records[0]!));
  t.is((err as CvcoreError).code, 'CLUSTER_NOT_SUPPORTED');
});

test.serial('search - one replica down: answers stay complete; every replica down: missingShards names the shards', async (t) => {
  const { api, reference, nodes } = world();
  const q: SearchQuery = { limit: 41 };
  const want = await pageAll(reference, q, 'all');
  const a = nodes.find((n) => n.name === 'A')!;
  await a.service!.stop();
  a.service = null;
  // Interest moves between servers within moments; the outcome is what is waited for, not its timing.
  await waitFor('complete answers from the remaining replicas', async () => {
    const got = await pageAll(api, q, 'all');
    return got.missing.length === 0 && JSON.stringify(got.ids) === JSON.stringify(want.ids);
  });
  t.deepEqual((await pageAll(api, q, 'all')).ids, want.ids);

  // Take shard 1's other replicas away (B1, C): shard 1 and 0 (B1) go missing and keep their place in the cursor.
  for (const n of nodes.filter((x) => x.name === 'B1' || x.name === 'C')) { await n.service!.stop(); n.service = null; }
  let page = await api.query(q, 'all');
  await waitFor('shards 0 and 1 to be reported missing', async () => {
    page = await api.query(q, 'all');
    return JSON.stringify(page.missingShards) === JSON.stringify([0, 1]);
  });
  t.truthy(page.nextCursor, 'a page with missing shards always has a cursor');
  t.true(page.records.every((r) => [2, 3].includes(shardOf(r.cameraId, S))));
  const faces = await api.faceSearch(world().records.find((r) => r.embedding)!.embedding!, { k: 5 }, 'all');
  t.deepEqual(faces.missingShards, [0, 1]);
  const s0 = world().records.find((r) => shardOf(r.cameraId, S) === 0)!;
  const err = await t.throwsAsync(api.get(s0.id, 'all'));
  t.is((err as CvcoreError).code, 'CLUSTER_SHARD_UNAVAILABLE');

  // B1 comes back: going on from the cursors of the pages with missing shards still yields every record once.
  const b1 = nodes.find((n) => n.name === 'B1')!;
  const ids: string[] = [];
  let cursor: string | null = null;
  let restored = false;
  for (let i = 0; i < 200; i++) {
    const p: Awaited<ReturnType<ClusterIndex['query']>> = await api.query(cursor === null ? q : { ...q, cursor }, 'all');
    ids.push(...p.records.map((r) => r.id));
    cursor = p.nextCursor;
    if (!restored && i === 2) {
      b1.service = await SearchService.start(b1.nc, { shards: S, indexShards: b1.shards, index: b1.index });
      restored = true;
      await waitFor('B1 to answer again', async () => (await api.query({ limit: 1, cameraIds: [s0.cameraId] }, 'all')).missingShards === undefined);
    }
    if (cursor === null) break;
  }
  t.is(cursor, null);
  t.is(new Set(ids).size, ids.length, 'no record twice');
  t.deepEqual([...ids].sort(), [...want.ids].sort(), 'every record once, the missing shards\' ones later');

  // Every replica of every shard down: all four named, nothing silently dropped.
  for (const n of nodes) { await n.service?.stop(); n.service = null; }
  await waitFor('all shards to be reported missing', async () => {
    const p = await api.query(q, 'all');
    return JSON.stringify(p.missingShards) === JSON.stringify([0, 1, 2, 3]) && p.records.length === 0 && p.nextCursor !== null;
  });
  t.pass();
});

// ---- erasure across the cluster (cluster/erasure.ts) ---------------------------------------------------------
// These tests come last and use records of their own, so the counts the tests above check are not touched.

/** Cameras whose records land on the given shard. */
function camerasOfShard(prefix: string, shard: number, count: number): string[] {
  return Array.from({ length: 400 }, (_, i) => `${prefix}-${i}`).filter((c) => shardOf(c, S) === shard).slice(0, count);
}

/** Every record id the record log still holds on a shard's subjects (read independently of the erasure code). */
async function idsInRecordLog(nc: NatsConnection, shard: number): Promise<Set<string>> {
  const out = new Set<string>();
  for (const [stream, kind] of [[STREAMS.tracks, 'track'], [STREAMS.faces, 'face']] as const) {
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(stream, { subjects_filter: recordSubject(kind, shard) } as never);
    const total = (info.state.subjects as Record<string, number> | undefined)?.[recordSubject(kind, shard)] ?? 0;
    if (total === 0) continue;
    const oc = await nc.jetstream().consumers.get(stream, { filterSubjects: recordSubject(kind, shard), headers_only: true });
    let seen = 0;
    while (seen < total) {
      const batch = await oc.fetch({ max_messages: 256, expires: 2_000 });
      let got = 0;
      for await (const m of batch) {
        got++; seen++;
        // An earlier test put a payload that does not decode on the log; the message id is the record id anyway.
        const id = m.headers?.get('Nats-Msg-Id');
        if (id) out.add(id);
        if (m.info.pending === 0) break;
      }
      if (got === 0) break;
    }
    await oc.delete().catch(() => undefined);
  }
  return out;
}

async function restartServices(): Promise<void> {
  for (const n of world().nodes) if (!n.service) n.service = await SearchService.start(n.nc, { shards: S, indexShards: n.shards, index: n.index });
  const probe = camerasOfShard('probe', 0, 1)[0]!;
  await waitFor('every shard to answer again', async () => (await world().api.query({ limit: 1, cameraIds: [probe] }, 'all')).missingShards === undefined
    && (await world().api.query({ limit: 1 }, 'all')).missingShards === undefined);
}

async function publishAndWait(records: TrackRecord[]): Promise<void> {
  const { publisher, nodes } = world();
  for (const r of records) await publisher.publish(r);
  for (const n of nodes.filter((x) => x.consumer)) {
    await waitFor(`${n.name} to index the new records`, async () =>
      (await Promise.all(records.filter((r) => held(n, r)).map((r) => n.index.get(r.id, 'all')))).every((x) => x !== null));
  }
}

test.serial('erasure - a dry run changes nothing; the erasure reaches every replica of each shard and the record log; out-of-scope ids stay', async (t) => {
  await restartServices();
  const { api, nodes, apiNc } = world();
  const rand = rng(77);
  const now = Date.now();
  const police: TrackRecord[] = [];
  const traffic: TrackRecord[] = [];
  for (let shard = 0; shard < S; shard++) {
    for (const [i, cam] of camerasOfShard('erase', shard, 2).entries()) {
      police.push(makeRecord({ id: `${cam}:${i}:${now - 60_000}`, cameraId: cam, start: now - 60_000, end: now - 50_000, department: 'police', cls: 'person', embedding: i === 0 ? unitVector(rand, D) : null, thumbnail: new Uint8Array([0xff, 0xd8, 1, 0xff, 0xd9]) }));
      traffic.push(makeRecord({ id: `${cam}:${i + 10}:${now - 40_000}`, cameraId: cam, start: now - 40_000, end: now - 30_000, department: 'traffic', cls: 'person' }));
    }
  }
  await publishAndWait([...police, ...traffic]);
  const asked = [...police, ...traffic].map((r) => r.id).concat(['erase-missing:1:2', 'no-camera']);
  const scope: Scope = { departments: ['police'] };
  const holders = (r: TrackRecord): IndexNode[] => nodes.filter((n) => held(n, r));
  t.true(police.every((r) => holders(r).length >= 2), 'every shard has at least two replicas');

  const dry = await api.erase({ ids: asked, scope, dryRun: true });
  t.deepEqual([...dry.tracks].sort(), police.map((r) => r.id).sort());
  t.deepEqual([...dry.notFound].sort(), [...traffic.map((r) => r.id), 'erase-missing:1:2', 'no-camera'].sort(), 'out of scope and missing are alike');
  t.is(dry.faces, police.filter((r) => r.embedding).length);
  t.is(dry.thumbnails, police.length);
  for (const r of [...police, ...traffic]) for (const n of holders(r)) t.truthy(await n.index.get(r.id, 'all'), `dry run: ${n.name} still holds ${r.id}`);

  const t0 = Date.now();
  const done = await api.erase({ ids: asked, scope, erasureId: 'er-test-1' });
  t.log(`cluster erasure of ${police.length} records over ${S} shards: ${Date.now() - t0} ms (dry run, publish, replicas, record log)`);
  t.deepEqual([...done.tracks].sort(), [...dry.tracks].sort());
  t.deepEqual([...done.notFound].sort(), [...dry.notFound].sort());
  t.deepEqual(done.cluster, { applied: nodes.map((n) => n.name).sort(), pending: [] }, 'every live replica applied it before the answer');
  t.deepEqual(done.recordLog, { deleted: police.length, notFound: [] });
  for (const r of police) {
    for (const n of holders(r)) t.is(await n.index.get(r.id, 'all'), null, `${n.name} no longer holds ${r.id}`);
    t.is(await api.get(r.id, 'all'), null);
  }
  for (const r of traffic) for (const n of holders(r)) t.truthy(await n.index.get(r.id, 'all'), `${n.name} keeps the out-of-scope ${r.id}`);
  for (let shard = 0; shard < S; shard++) {
    const inLog = await idsInRecordLog(apiNc, shard);
    for (const r of police.filter((x) => shardOf(x.cameraId, S) === shard)) t.false(inLog.has(r.id), `the record log no longer holds ${r.id}`);
    for (const r of traffic.filter((x) => shardOf(x.cameraId, S) === shard)) t.true(inLog.has(r.id), `the record log keeps ${r.id}`);
  }
  // Erasing again finds nothing: nothing is published.
  const again = await api.erase({ ids: police.map((r) => r.id), scope });
  t.deepEqual(again.tracks, []);
  t.is(again.notFound.length, police.length);
  // Only an api (or multi-role) node publishes erasures: an index or analytics user cannot forge one.
  const a = nodes.find((n) => n.name === 'A')!;
  for (const nc of [a.nc, world().pubNc]) {
    const forged = await t.throwsAsync(nc.jetstream({ timeout: 2_000 }).publish(erasureSubject(0), new TextEncoder().encode('{"v":1}')));
    t.regex(forged?.message ?? '', /Permissions Violation for Publish/);
  }
  // Audit redaction is not a cluster operation.
  const err = await t.throwsAsync(api.erase({ ids: traffic.map((r) => r.id), scope: 'all', redactAudit: true }));
  t.is((err as CvcoreError).code, 'CLUSTER_NOT_SUPPORTED');
});

test.serial('erasure - a replica down during the erasure applies it when back; a late copy in the log is not stored again, nor by a node rebuilt from the log', async (t) => {
  const { api, nodes, cluster, dir, pubNc } = world();
  const now = Date.now();
  const mine = [2, 3].flatMap((shard) => camerasOfShard('down', shard, 2)).map((cam, i) => makeRecord({ id: `${cam}:${i}:${now - 20_000}`, cameraId: cam, start: now - 20_000, end: now - 15_000, department: 'police' }));
  await publishAndWait(mine);
  const b2 = nodes.find((n) => n.name === 'B2')!;
  const a = nodes.find((n) => n.name === 'A')!;
  // B2 goes down (its index stays on disk): no search answers, no records, no erasures.
  await b2.service!.stop(); b2.service = null;
  await b2.consumer!.stop(); b2.consumer = null;
  await b2.erasures!.stop(); b2.erasures = null;
  const t0 = Date.now();
  const r = await api.erase({ ids: mine.map((x) => x.id), scope: 'all', erasureId: 'er-test-2' });
  t.log(`erasure with a replica down answered in ${Date.now() - t0} ms`);
  t.is(r.tracks.length, mine.length);
  t.true(r.cluster!.pending.includes('B2'), 'B2 is pending');
  t.true(r.cluster!.applied.includes('A'), 'A applied it');
  for (const x of mine) {
    t.is(await a.index.get(x.id, 'all'), null);
    t.truthy(await b2.index.get(x.id, 'all'), 'B2 was down: it still holds the record until it is back');
  }
  // Back: B2 reads the erasure from its durable consumer.
  b2.erasures = await ErasureApplier.start(b2.nc, { node: 'B2', shards: S, indexShards: b2.shards, index: b2.index });
  b2.consumer = await ShardConsumer.start(b2.nc, { node: 'B2', shards: S, indexShards: b2.shards, index: b2.index, skip: (id) => b2.erasures!.isErased(id) });
  b2.service = await SearchService.start(b2.nc, { shards: S, indexShards: b2.shards, index: b2.index });
  await waitFor('B2 to apply the erasure it missed', async () => (await Promise.all(mine.map((x) => b2.index.get(x.id, 'all')))).every((x) => x === null));
  t.true(b2.erasures.isErased(mine[0]!.id));
  const jsm = await world().apiNc.jetstreamManager();
  const name = erasureConsumerName('B2', shardOf(mine[0]!.cameraId, S));
  await waitFor('B2\'s erasure consumer to be acked', async () => (await jsm.consumers.info(STREAMS.erasures, name)).num_ack_pending === 0);

  // A late copy of an erased record in the log (an outbox that published after the duplicate window): no replica
  // stores it, and a node rebuilt from the log (D, shards 2-3) neither.
  const late = mine[0]!;
  const ack = await pubNc.jetstream().publish(recordSubject('track', shardOf(late.cameraId, S)), encodeRecordPayload(late), { msgID: `${late.id}#late` });
  t.false(ack.duplicate);
  await waitFor('A and B2 to skip the late copy', () => a.consumer!.stats().skipped >= 1 && b2.consumer!.stats().skipped >= 1);
  const d = await startIndexNode(cluster, dir, 'D', CLUSTER_USERS.index, [2, 3]);
  nodes.push(d);
  await waitFor('D to rebuild shards 2-3 as B2 holds them', () => d.index.stats().records === b2.index.stats().records);
  t.true(d.consumer!.stats().skipped >= 1, 'D skipped the erased record');
  t.true(d.erasures!.isErased(late.id), 'D read the erasures before its record consumers started');
  for (const x of mine) for (const n of [a, b2, d]) t.is(await n.index.get(x.id, 'all'), null, `${n.name} does not hold ${x.id}`);
});

test.serial('erasure - crowd frames in the snapshot bucket: the person\'s box is blanked (a dry run changes nothing), a frame without a placeable box is deleted, others stay', async (t) => {
  const { apiNc, auditIndex } = world();
  const kv = await openBucket(apiNc.jetstream(), 'CVCORE_SNAPSHOTS', { replicas: 3, ttlMs: 3_600_000 });
  const api = new ClusterIndex(apiNc, { node: 'api-2', shards: S, searchTimeoutMs: 3_000, audit: auditIndex, erasure: { stream: ERASURE_STREAM, waitMs: 20_000, frames: kv } });
  t.teardown(() => api.close());
  const now = Date.now();
  const [camX, camY, camZ] = ['framecam-x', 'framecam-y', 'framecam-z'];
  const box = { x: 200, y: 100, w: 60, h: 120 };
  const trajectory = Array.from({ length: 41 }, (_, i) => ({ t: now - 10_000 + i * 500, ...box }));
  // X: a person with a trajectory while the frame was taken; Y: one without (a record from before trajectories).
  const rx = { ...makeRecord({ id: `${camX}:1:${now - 10_000}`, cameraId: camX, start: now - 10_000, end: now + 10_000, department: 'police', cls: 'person' }), trajectory, frame: { width: 640, height: 480 } };
  const ry = makeRecord({ id: `${camY}:1:${now - 10_000}`, cameraId: camY, start: now - 10_000, end: now + 10_000, department: 'police', cls: 'person' });
  await publishAndWait([rx, ry]);
  const red = await sharp({ create: { width: box.w, height: box.h, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toBuffer();
  const frame = withPeople(await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 255, g: 255, b: 255 } } })
    .composite([{ input: red, left: box.x, top: box.y }]).jpeg({ quality: 90 }).toBuffer(), [box, { x: 500, y: 300, w: 40, h: 80 }]);
  for (const cam of [camX, camY, camZ]) await kv.put(`${cam}-7`, frame);
  const pixel = async (jpeg: Uint8Array, x: number, y: number): Promise<number[]> => {
    const { data } = await sharp(jpeg).extract({ left: x, top: y, width: 1, height: 1 }).raw().toBuffer({ resolveWithObject: true });
    return [...data.subarray(0, 3)];
  };
  t.true((await pixel(frame, box.x + 30, box.y + 60))[1]! < 40, 'the person is red in the frame');

  const dry = await api.erase({ ids: [rx.id, ry.id], scope: 'all', dryRun: true });
  t.deepEqual(dry.alarmFrames, { blanked: [`${camX}-7`], deleted: [`${camY}-7`] });
  for (const cam of [camX, camY]) t.deepEqual(Buffer.from((await kv.get(`${cam}-7`))!.value), frame, 'a dry run changes no frame');

  const storedAt = (await kv.get(`${camX}-7`))!.created.getTime();
  const done = await api.erase({ ids: [rx.id, ry.id], scope: 'all', erasureId: 'er-test-frames' });
  t.deepEqual(done.alarmFrames, { blanked: [`${camX}-7`], deleted: [`${camY}-7`] });
  const x = (await kv.get(`${camX}-7`))!;
  const [r, g] = await pixel(x.value, box.x + 30, box.y + 60);
  t.true(r! > 200 && g! > 60, `the person's box is filled with its mean colour (got ${r}, ${g})`);
  t.deepEqual(await pixel(x.value, 20, 20), await pixel(frame, 20, 20), 'the rest of the frame stays');
  t.is(peopleOf(x.value)?.length, 2, 'the frame keeps its people (the API blurs their heads by them)');
  t.is(frameTimeOf(x.value, 0), storedAt, 'the rewritten frame keeps its time for a later erasure');
  const y = await kv.get(`${camY}-7`);
  t.true(y === null || y.operation !== 'PUT', 'the frame where the box cannot be placed is deleted');
  t.deepEqual(Buffer.from((await kv.get(`${camZ}-7`))!.value), frame, 'another camera\'s frame stays');
});
