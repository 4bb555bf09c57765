import test from 'ava';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { AlertError } from '../common/errors.js';
import { ALERT_V1_FIELDS, alertSubject, eventSubject, validateAlert, type CrowdAlertV1 } from '../alerts/index.js';

const valid: CrowdAlertV1 = {
  schemaVersion: 1, kind: 'crowd', id: 'inc-1', messageId: 'n1:inc-1:raised:2000', seq: 1, phase: 'raised', district: 'Shinan',
  camera: 'cam-1', zone: 'gate', location: { lat: 36.06, lon: 120.38 }, count: 30, threshold: 20, density: 2.1, windowMs: 5000,
  severity: 'high', startedAt: 1000, at: 2000, emittedAt: 2001, publishedAt: null, evidence: [21, 25, 30], snapshotRef: 'cam-1/42', node: 'n1',
};

test('alerts - schema v1 accepts a well-formed alert and the JSON Schema lists the same fields', async (t) => {
  t.deepEqual(validateAlert(valid), valid);
  // Built path from dist/test to the source tree: the JSON file is not copied by tsc.
  const schemaPath = fileURLToPath(new URL('../../alerts/schema/crowd-alert.v1.json', import.meta.url));
  const schema = JSON.parse(await readFile(schemaPath, 'utf8')) as { required: string[]; properties: Record<string, unknown>; additionalProperties: boolean };
  t.deepEqual([...schema.required].sort(), [...ALERT_V1_FIELDS].sort());
  t.deepEqual(Object.keys(schema.properties).sort(), [...ALERT_V1_FIELDS].sort());
  t.false(schema.additionalProperties);
});

test('alerts - schema v1 rejects malformed alerts naming the path', (t) => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ ...valid, count: -1 }, 'count'],
    [{ ...valid, phase: 'started' }, 'phase'],
    [{ ...valid, severity: 'extreme' }, 'severity'],
    [{ ...valid, location: { lat: 91, lon: 0 } }, 'location.lat'],
    [{ ...valid, at: 500 }, 'at'],
    [{ ...valid, camera: '' }, 'camera'],
    [{ ...valid, extra: 1 }, 'extra'],
    [{ ...valid, evidence: [1, -2] }, 'evidence[1]'],
    [{ ...valid, schemaVersion: 2 }, 'schemaVersion'],
  ];
  for (const [bad, path] of cases) {
    const err = t.throws(() => validateAlert(bad), { instanceOf: AlertError });
    t.is(err?.code, 'ALERT_INVALID_EVENT');
    t.is(err?.detail['path'], path);
  }
  const { count: _omit, ...missing } = valid;
  t.throws(() => validateAlert(missing), { message: /alert\.count is required/ });
});

test('alerts - subjects are sanitised so a name cannot add tokens or wildcards', (t) => {
  t.is(alertSubject('Shinan', 'cam-1', 'gate'), 'citybrain.alerts.crowd.Shinan.cam-1.gate');
  t.is(alertSubject('a.b', 'cam *1', 'z>'), 'citybrain.alerts.crowd.a_b.cam__1.z_');
  t.is(alertSubject('', 'c', 'z'), 'citybrain.alerts.crowd._.c.z');
  t.is(eventSubject('zone_count', ['d', 'c', 'z.1']), 'citybrain.events.zone_count.d.c.z_1');
  t.is(eventSubject('stream_health', ['d', 'c']), 'citybrain.events.stream_health.d.c');
});
