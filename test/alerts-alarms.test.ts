import test from 'ava';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../common/log.js';
import { AlertError } from '../common/errors.js';
import { freePort } from '../common/net.js';
import type { AlarmEvent } from '../common/messages.js';
import {
  ALARM_KINDS, DEFAULT_CORE_USER, alarmSubject, alertSubject, openAlertSink, type AlarmKind, type AlertSinkEvent, type WireAlertV1,
} from '../alerts/index.js';
import { crowdEvent, frequencyEvent, readDurableAlarms, startNats, strangerEvent, watchlistEvent } from './harness/nats.js';

const quiet = createLogger({ level: 'error' });
const ctx = { district: 'Shinan', location: { lat: 36.06, lon: 120.38 }, snapshotRef: '/api/v1/alarms/x/snapshot' };
const eventOf: Record<AlarmKind, (i: number, camera: string) => AlarmEvent> = {
  watchlist: watchlistEvent, frequency: frequencyEvent, stranger: strangerEvent,
};

/** Per (kind, camera), the alarm ids in stream order. */
function idsByKindAndCamera(got: ReadonlyArray<{ alarm: WireAlertV1 }>): Map<string, string[]> {
  const by = new Map<string, string[]>();
  for (const { alarm } of got) {
    const key = `${alarm.kind}/${alarm.camera}`;
    by.set(key, [...(by.get(key) ?? []), alarm.id]);
  }
  return by;
}

test('alerts - every alarm kind reaches a durable consumer exactly once, on its subject, in order per camera and kind', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const sink = await openAlertSink({ servers: nats.url, ...DEFAULT_CORE_USER, dataDir: nats.dir, node: 'n1', log: quiet });
  t.teardown(() => sink.close());
  const cameras = ['cam-1', 'cam-2'];
  const rounds = 5;
  // Interleaved: round by round, camera by camera, kind by kind, with a crowd alert among them.
  await sink.submit(crowdEvent(0, 'gate'), ctx);
  for (let i = 0; i < rounds; i++) {
    for (const camera of cameras) {
      for (const kind of ALARM_KINDS) {
        const wire = await sink.submitAlarm(eventOf[kind](i, camera), ctx);
        t.is(wire.messageId, `n1:${kind}:${wire.id}`);
        t.is(wire.publishedAt, null);
      }
    }
    // The rule re-emits a decision it is not sure went out: the same id is the same message.
    await sink.submitAlarm(watchlistEvent(i, 'cam-1'), ctx);
  }
  t.true(await sink.drain(15_000));
  const total = 1 + rounds * cameras.length * ALARM_KINDS.length;
  const got = await readDurableAlarms(nats.url, 'alarm-check', total);
  t.is(got.length, total, 'every alarm once, the resubmitted ones included');
  t.is(new Set(got.map((g) => g.alarm.messageId)).size, total, 'no duplicates');
  for (const { subject, alarm } of got) {
    if (alarm.kind === 'crowd') { t.is(subject, alertSubject('Shinan', 'cam-1', 'gate')); continue; }
    t.is(subject, alarmSubject(alarm.kind, 'Shinan', alarm.camera));
    t.is(alarm.district, 'Shinan');
    t.deepEqual(alarm.location, ctx.location);
    t.is(alarm.snapshotRef, ctx.snapshotRef);
    t.is(alarm.node, 'n1');
    t.is(typeof alarm.publishedAt, 'number');
    t.true(alarm.emittedAt <= (alarm.publishedAt ?? 0));
  }
  const order = idsByKindAndCamera(got);
  for (const kind of ALARM_KINDS) {
    for (const camera of cameras) {
      const prefix = { watchlist: 'wl', frequency: 'fq', stranger: 'st' }[kind];
      t.deepEqual(order.get(`${kind}/${camera}`), Array.from({ length: rounds }, (_, i) => `${prefix}-${camera}-${i}`), `${kind} on ${camera} in order`);
    }
  }
  // seq strictly increases along each (kind, camera): what a subscriber can check order with.
  const lastSeq = new Map<string, number>();
  for (const { alarm } of got) {
    const key = `${alarm.kind}/${alarm.camera}`;
    t.true(alarm.seq > (lastSeq.get(key) ?? 0), `${key} seq ${alarm.seq}`);
    lastSeq.set(key, alarm.seq);
  }
  const s = sink.status();
  t.is(s.rejected, 0);
  t.is(s.outboxDepth, 0);
  t.is(s.published - s.duplicates, total + 1, 'every alarm, and the crowd alert\'s schema v2 twin (its own stream)');
});

test('alerts - a bad alarm is refused before the outbox, counted, and a stray field on the event never reaches the wire', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const sink = await openAlertSink({ servers: nats.url, ...DEFAULT_CORE_USER, dataDir: nats.dir, node: 'n1', log: quiet });
  t.teardown(() => sink.close());
  const events: AlertSinkEvent[] = [];
  sink.on((e) => events.push(e));
  const over = await t.throwsAsync(sink.submitAlarm(watchlistEvent(0, 'cam-1', { similarity: 1.2 }), ctx), { instanceOf: AlertError });
  t.is(over?.code, 'ALERT_INVALID_EVENT');
  t.is(over?.detail['path'], 'similarity');
  const kind = await t.throwsAsync(sink.submitAlarm({ ...strangerEvent(0, 'cam-1'), kind: 'loitering' } as unknown as AlarmEvent, ctx), { instanceOf: AlertError });
  t.is(kind?.detail['path'], 'kind');
  const noCtx = await t.throwsAsync(sink.submitAlarm(frequencyEvent(0, 'cam-1'), { ...ctx, district: '' }), { instanceOf: AlertError });
  t.is(noCtx?.detail['path'], 'district');
  t.is(sink.status().rejected, 3);
  t.is(sink.status().outboxDepth, 0);
  t.is(events.filter((e) => e.type === 'rejected' && e.code === 'ALERT_INVALID_EVENT').length, 3);
  // A person's name on the event (a bug upstream) is not copied: the wire alarm is built field by field.
  const named = { ...watchlistEvent(1, 'cam-1'), name: 'Alice Example', photo: 'base64...' } as AlarmEvent;
  const wire = await sink.submitAlarm(named, ctx);
  t.false('name' in wire);
  t.is(wire.seq, 1, 'refused alarms took no sequence');
  t.true(await sink.drain(5_000));
  const got = await readDurableAlarms(nats.url, 'bad-check', 1);
  t.is(got.length, 1);
  t.false(JSON.stringify(got[0]?.alarm).includes('Alice'));
});

test('alerts - alarms of every kind left in the outbox by a killed core are republished to their subjects after a restart', async (t) => {
  const port = await freePort();
  const nats = await startNats({ port });
  await nats.down();
  t.teardown(() => nats.stop());
  const dataDir = join(nats.dir, 'core');
  const producer = fileURLToPath(new URL('./fixtures/alarm-producer.js', import.meta.url));
  const child = spawn(process.execPath, [producer, `nats://127.0.0.1:${port}`, dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const depth = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`producer never submitted: ${out}`)); }, 30_000);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /submitted (\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
    child.on('error', reject);
  });
  const exited = new Promise<string | null>((resolve) => child.on('exit', (_c, signal) => resolve(signal)));
  child.kill('SIGKILL');
  t.is(await exited, 'SIGKILL');
  t.is(depth, 8, 'one crowd alert (in schema v1 and v2) and two alarms of each kind waited in the outbox');

  await nats.start();
  const sink = await openAlertSink({ servers: nats.url, ...DEFAULT_CORE_USER, dataDir, node: 'n1', log: quiet });
  t.teardown(() => sink.close());
  t.is(sink.status().outboxDepth, 8);
  t.true(await sink.drain(15_000));
  const got = await readDurableAlarms(nats.url, 'restart-check', 7);
  t.is(got.length, 7);
  for (const { subject, alarm } of got) {
    t.is(subject, alarm.kind === 'crowd' ? alertSubject('Shinan', 'cam-1', 'gate') : alarmSubject(alarm.kind, 'Shinan', alarm.camera));
  }
  const order = idsByKindAndCamera(got);
  t.deepEqual(order.get('watchlist/cam-1'), ['wl-cam-1-0', 'wl-cam-1-1']);
  t.deepEqual(order.get('frequency/cam-1'), ['fq-cam-1-0', 'fq-cam-1-1']);
  t.deepEqual(order.get('stranger/cam-1'), ['st-cam-1-0', 'st-cam-1-1']);
  // New alarms after the restart continue the sequence rather than reuse one.
  const next = await sink.submitAlarm(strangerEvent(2, 'cam-1'), ctx);
  t.is(next.seq, 9);
});
