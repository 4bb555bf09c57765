/**
 * Crowd alert schema v2 (v1 and the clear reason): its validator and generated file, and the sink publishing each
 * crowd decision in both versions, v2 in a stream of its own so a strict v1 subscriber never meets a v2 message;
 * or in one version only (nats.crowdSchemas).
 */
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { AckPolicy, DeliverPolicy } from 'nats';
import { createLogger } from '../common/log.js';
import { AlertError } from '../common/errors.js';
import { REPO_ROOT } from '../common/paths.js';
import {
  ALERT_STREAM_V2, DEFAULT_CORE_USER, DEFAULT_SUBSCRIBER_USER, alertV2Subject, openAlertSink, validateAlert, validateAlertV2,
  validateAnyWireAlert, type CrowdAlertV2,
} from '../alerts/index.js';
import { connectAs, crowdEvent, readDurable, readDurableV2, startNats } from './harness/nats.js';
import { parseConfig } from '../config/index.js';

const quiet = createLogger({ level: 'error' });
const ctx = { district: 'Shinan', location: null, snapshotRef: null };

const v2: CrowdAlertV2 = {
  schemaVersion: 2, kind: 'crowd', id: 'inc-1', messageId: 'n1:inc-1:cleared:1700000002000:v2', seq: 4, phase: 'cleared',
  district: 'Shinan', camera: 'cam-1', zone: 'gate', location: null, count: 0, threshold: 15, density: null, windowMs: 5_000,
  severity: 'medium', startedAt: 1_700_000_000_000, at: 1_700_000_002_000, emittedAt: 1_700_000_002_001, publishedAt: null,
  evidence: [], snapshotRef: null, node: 'n1', clearReason: 'camera-removed',
};

test('alerts - crowd schema v2: the clear reason, its rules, and a v1 validator that refuses it', async (t) => {
  t.is(validateAlertV2(v2).clearReason, 'camera-removed');
  t.is(validateAnyWireAlert(v2)?.schemaVersion, 2);
  const bad = (value: object, path: string): void => {
    const err = t.throws(() => validateAlertV2(value), { instanceOf: AlertError });
    t.is(err?.code, 'ALERT_INVALID_EVENT');
    t.is(err?.detail['path'], path, JSON.stringify(value).slice(0, 80));
  };
  bad({ ...v2, clearReason: 'gone' }, 'clearReason');
  bad({ ...v2, clearReason: null }, 'clearReason');
  bad({ ...v2, phase: 'updated' }, 'clearReason');
  bad({ ...v2, extra: 1 }, 'extra');
  bad({ ...v2, schemaVersion: 1 }, 'schemaVersion');
  // A strict v1 subscriber refuses a v2 message: why v2 never goes where v1 subscribers read.
  t.throws(() => validateAlert(v2), { instanceOf: AlertError });

  // The generated file, compiled on its own (a subscriber in another language), says the same.
  const file = JSON.parse(await readFile(join(REPO_ROOT, 'alerts', 'schema', 'crowd-alert.v2.json'), 'utf8')) as object;
  const check = new Ajv2020({ strict: true }).compile(file);
  t.true(check(v2));
  t.true(check({ ...v2, phase: 'raised', clearReason: null }));
  t.false(check({ ...v2, clearReason: 'gone' }));
  t.false(check({ ...v2, extra: 1 }));
});

test('alerts - every crowd decision goes out in v1 and in v2; v2 carries the clear reason, in its own stream', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const sink = await openAlertSink({ servers: nats.url, ...DEFAULT_CORE_USER, dataDir: nats.dir, node: 'n1', log: quiet });
  t.teardown(() => sink.close());
  await sink.submit(crowdEvent(0, 'gate'), ctx);
  await sink.submit(crowdEvent(1, 'gate', { phase: 'cleared', count: 0 }), ctx); // the rule's own clear: no reason given
  await sink.submit(crowdEvent(0, 'pier', { phase: 'raised' }), ctx);
  await sink.submit(crowdEvent(1, 'pier', { phase: 'cleared', count: 0, clearReason: 'camera-removed' }), ctx);
  t.true(await sink.drain(10_000));

  // v1: unchanged, strictly valid, in CITYBRAIN_ALERTS (read with no filter: nothing of v2 is there).
  const v1 = await readDurable(nats.url, 'v1-desk', 4);
  t.is(v1.length, 4);
  t.true(v1.every((a) => a.schemaVersion === 1 && !('clearReason' in a)));

  // v2: the same decisions, in the same order per zone, with the reason on the clears.
  const nc = await connectAs(nats.url, DEFAULT_SUBSCRIBER_USER);
  t.teardown(() => nc.close());
  const jsm = await nc.jetstreamManager();
  await jsm.consumers.add(ALERT_STREAM_V2, { durable_name: 'v2-desk', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
  const consumer = await nc.jetstream().consumers.get(ALERT_STREAM_V2, 'v2-desk');
  const got: Array<{ subject: string; alert: CrowdAlertV2 }> = [];
  const deadline = Date.now() + 10_000;
  while (got.length < 4 && Date.now() < deadline) {
    const m = await consumer.next({ expires: 2_000 });
    if (m === null) continue;
    got.push({ subject: m.subject, alert: validateAlertV2(m.json()) });
    m.ack();
  }
  const of = (zone: string) => got.filter((g) => g.alert.zone === zone);
  t.deepEqual(of('gate').map((g) => [g.alert.phase, g.alert.clearReason]), [['raised', null], ['cleared', 'zone-empty']]);
  t.deepEqual(of('pier').map((g) => [g.alert.phase, g.alert.clearReason]), [['raised', null], ['cleared', 'camera-removed']]);
  for (const { subject, alert } of got) {
    t.is(subject, alertV2Subject('Shinan', 'cam-1', alert.zone));
    const twin = v1.find((a) => a.id === alert.id && a.phase === alert.phase);
    t.truthy(twin, 'its v1 twin');
    t.is(alert.messageId, `${twin!.messageId}:v2`);
    t.is(alert.at, twin!.at);
  }
});

test('alerts - nats.crowdSchemas: v2 only puts each decision out once, in v2; v1 only, once in v1; the core keeps its v1 view either way', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const only2 = await openAlertSink({ servers: nats.url, ...DEFAULT_CORE_USER, dataDir: join(nats.dir, 'v2only'), node: 'n2', crowdSchemas: ['v2'], log: quiet });
  t.teardown(() => only2.close());
  const raised = await only2.submit(crowdEvent(0, 'gate'), ctx);
  const cleared = await only2.submit(crowdEvent(1, 'gate', { phase: 'cleared', count: 0, clearReason: 'camera-disabled' }), ctx);
  // What the core's own history and API show: v1's form, with v1's message id.
  t.is(raised.schemaVersion, 1);
  t.notThrows(() => validateAlert(raised));
  t.false('clearReason' in cleared);
  t.false(raised.messageId.endsWith(':v2'));
  t.true(await only2.drain(10_000));
  t.is(only2.status().published, 2, 'two decisions, two messages');
  const v2only = await readDurableV2(nats.url, 'v2-only-desk', 2);
  t.deepEqual(v2only.map((a) => [a.phase, a.clearReason, a.messageId]), [['raised', null, `${raised.messageId}:v2`], ['cleared', 'camera-disabled', `${cleared.messageId}:v2`]]);
  t.deepEqual(await readDurable(nats.url, 'v1-none', 0, 3_000), [], 'nothing in the v1 stream');

  const only1 = await openAlertSink({ servers: nats.url, ...DEFAULT_CORE_USER, dataDir: join(nats.dir, 'v1only'), node: 'n1', crowdSchemas: ['v1'], log: quiet });
  t.teardown(() => only1.close());
  await only1.submit(crowdEvent(0, 'pier'), ctx);
  t.true(await only1.drain(10_000));
  t.is(only1.status().published, 1);
  t.is((await readDurable(nats.url, 'v1-only-desk', 1)).length, 1);
  t.is((await readDurableV2(nats.url, 'v2-after', 2, 3_000)).length, 2, 'nothing new in the v2 stream');

  await t.throwsAsync(openAlertSink({ servers: nats.url, ...DEFAULT_CORE_USER, dataDir: join(nats.dir, 'bad'), node: 'n3', crowdSchemas: [] as never, log: quiet }), { instanceOf: RangeError });
  const err = t.throws(() => parseConfig({ nats: { crowdSchemas: ['v3'] } }));
  t.regex(err!.message, /nats\.crowdSchemas/);
  t.deepEqual(parseConfig({}).nats.crowdSchemas, ['v1', 'v2']);
});
