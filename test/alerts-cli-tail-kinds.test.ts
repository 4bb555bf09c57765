import test from 'ava';
import { createLogger } from '../common/log.js';
import { DEFAULT_CORE_USER, openAlertSink, validateWireAlert } from '../alerts/index.js';
import { parseTailArgs, tailAlerts } from '../cli/commands/alerts.js';
import { connectAs, crowdEvent, frequencyEvent, startNats, strangerEvent, watchlistEvent } from './harness/nats.js';

const quiet = createLogger({ level: 'error' });
const ctx = { district: 'Shinan', location: null, snapshotRef: null };

test('alerts - cvcore alerts tail prints every kind, filters by --kind, and shows an unknown kind raw', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const sink = await openAlertSink({ servers: nats.url, ...DEFAULT_CORE_USER, dataDir: nats.dir, node: 'n1', log: quiet });
  t.teardown(() => sink.close());
  await sink.submit(crowdEvent(0, 'gate'), ctx);
  await sink.submitAlarm(watchlistEvent(0, 'cam-1'), ctx);
  await sink.submitAlarm(watchlistEvent(1, 'cam-2', { entryKind: 'plate', similarity: null, threshold: null, plate: 'B12345', plateEdits: 1 }), ctx);
  await sink.submitAlarm(frequencyEvent(0, 'cam-1'), ctx);
  await sink.submitAlarm(strangerEvent(0, 'cam-1'), ctx);
  await sink.submitAlarm(strangerEvent(1, 'cam-1', { reason: 'no_face', similarity: null, threshold: null, dwellMs: 90_000 }), ctx);
  t.true(await sink.drain(5_000));
  // A newer producer's kind: the stream captures it, and an older tail must not crash on it.
  const nc = await connectAs(nats.url, DEFAULT_CORE_USER);
  await nc.jetstream().publish('citybrain.alerts.loitering.Shinan.cam-1', new TextEncoder().encode(JSON.stringify({ schemaVersion: 1, kind: 'loitering', id: 'lo-1' })));
  await nc.close();

  const text: string[] = [];
  const warnings: string[] = [];
  t.is(await tailAlerts(parseTailArgs(['--url', nats.url, '--durable', 'all', '--count', '7', '--timeout-ms', '8000'], {}), (l) => text.push(l), (l) => warnings.push(l)), 0);
  t.is(text.length, 7, text.join('\n'));
  t.deepEqual(warnings, []);
  const line = (re: RegExp): string => text.find((l) => re.test(l)) ?? '';
  t.regex(line(/ raised /), /raised +medium +Shinan\/cam-1\/gate count=20 threshold=15/);
  t.regex(line(/entry-0/), /watchlist +Shinan\/cam-1 list=wanted entry=entry-0 face similarity=0\.710 threshold=0\.55 track=cam-1:0:\d+ id=wl-cam-1-0 /);
  t.regex(line(/entry-1/), /watchlist +Shinan\/cam-2 list=wanted entry=entry-1 plate plate=B12345 edits=1 /);
  t.regex(line(/frequency/), /frequency +Shinan\/cam-1 rule=ten-in-seven count=3\/3 in 10m appearances=3 /);
  t.regex(line(/unknown_face/), /stranger +Shinan\/cam-1 zone=server-room reason=unknown_face similarity=0\.210 dwell=4s /);
  t.regex(line(/no_face/), /stranger +Shinan\/cam-1 zone=server-room reason=no_face dwell=90s /);
  t.regex(line(/loitering/), /^citybrain\.alerts\.loitering\.Shinan\.cam-1 \(a kind this version does not know, shown raw\) \{"schemaVersion":1,"kind":"loitering","id":"lo-1"\}$/);

  // --kind: one durable per kind; only those kinds come, as validated JSON.
  const json: string[] = [];
  t.is(await tailAlerts(parseTailArgs(['--url', nats.url, '--durable', 'desk', '--kind', 'watchlist,frequency', '--json', '--count', '3', '--timeout-ms', '8000'], {}), (l) => json.push(l)), 0);
  const kinds = json.map((l) => validateWireAlert(JSON.parse(l))?.kind).sort();
  t.deepEqual(kinds, ['frequency', 'watchlist', 'watchlist']);
  // Nothing else arrives on those durables: a stranger or crowd alarm would have shown up here.
  const more: string[] = [];
  t.is(await tailAlerts(parseTailArgs(['--url', nats.url, '--durable', 'desk', '--kind', 'watchlist,frequency', '--count', '1', '--timeout-ms', '1500'], {}), (l) => more.push(l)), 3);
  t.deepEqual(more, []);
  // The stranger durable of the same desk starts from the beginning of its own kind.
  const strangers: string[] = [];
  t.is(await tailAlerts(parseTailArgs(['--url', nats.url, '--durable', 'desk', '--kind', 'stranger', '--count', '2', '--timeout-ms', '8000'], {}), (l) => strangers.push(l)), 0);
  t.true(strangers.every((l) => / stranger /.test(l)));

  t.throws(() => parseTailArgs(['--kind', 'watchlist,parade'], {}), { instanceOf: RangeError, message: /--kind .*parade/ });
  t.throws(() => parseTailArgs(['--kind', 'crowd', '--subject', 'citybrain.alerts.crowd.>'], {}), { instanceOf: RangeError, message: /--kind and --subject/ });
});
