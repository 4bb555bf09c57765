/**
 * `cvcore bench alerts`: what the alert path costs. Starts its own nats-server (repo nats.conf, temp dir) and
 * measures, in the same run:
 *  - bare JetStream: publishes with acks (msgID set, up to 256 in flight), the tool the stage is built on;
 *  - the sink: submit -> RocksDB outbox -> JetStream publish -> ack -> outbox delete, until drained;
 *  - latency from the event that crossed the threshold (`at`, stamped when the event is made) to its delivery
 *    at a subscriber's durable pull consumer, at a steady rate.
 * Target: latency p99 under 250 ms.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, connect, DeliverPolicy } from 'nats';
import {
  ALERT_STREAM, ALERT_STREAM_V2, alertSubject, CROWD_SCHEMAS, DEFAULT_CORE_USER, DEFAULT_SUBSCRIBER_USER, openAlertSink, startNatsServer, validateAlert,
  validateAlertV2, type CrowdSchema,
} from '../alerts/index.js';
import { createLogger } from '../common/log.js';
import type { CrowdAlertEvent } from '../common/messages.js';

const TARGET_P99_MS = 250;
const BARE_WINDOW = 256;

interface BenchOptions { json: boolean; count: number; zones: number; latencyCount: number; rate: number; crowdSchemas: CrowdSchema[] }

function parse(args: readonly string[]): BenchOptions {
  const o: BenchOptions = { json: false, count: 3_000, zones: 32, latencyCount: 400, rate: 200, crowdSchemas: [...CROWD_SCHEMAS] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--json') { o.json = true; continue; }
    if (a === '--crowd-schemas') {
      // As config nats.crowdSchemas: v1,v2 (the default), v2 or v1.
      const list = String(args[++i] ?? '').split(',').filter((x) => x.length > 0);
      if (list.length === 0 || list.some((x) => !(CROWD_SCHEMAS as readonly string[]).includes(x))) throw new RangeError(`--crowd-schemas takes ${CROWD_SCHEMAS.join(',')}, or one of them`);
      o.crowdSchemas = [...new Set(list as CrowdSchema[])];
      continue;
    }
    const key = ({ '--count': 'count', '--zones': 'zones', '--latency-count': 'latencyCount', '--rate': 'rate' } as const)[a as '--count'];
    const v = Number(args[++i]);
    if (key === undefined) throw new RangeError(`unknown option ${a ?? ''} (known: --json --count N --zones N --latency-count N --rate PER_S --crowd-schemas v1,v2|v2|v1)`);
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${a} must be a positive integer`);
    o[key] = v;
  }
  return o;
}

/** Each phase has its own incidents: message ids are (incident, phase, at), and `at` values of phases may meet. */
function event(i: number, zone: string, at: number, run: string): CrowdAlertEvent {
  return {
    incidentId: `bench-${run}-${zone}`, phase: i === 0 ? 'raised' : 'updated', cameraId: 'cam-bench', zoneId: zone, count: 20 + (i % 50),
    threshold: 15, density: 1.2, severity: 'medium', windowMs: 5_000, startedAt: at - 5_000, at, evidence: [16, 18, 20], snapshotSeq: i,
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export async function benchAlerts(args: string[]): Promise<number> {
  const o = parse(args);
  const dir = await mkdtemp(join(tmpdir(), 'cvcore-bench-alerts-'));
  const server = await startNatsServer({ storeDir: join(dir, 'nats') });
  const log = createLogger({ level: 'error' });
  // A crowd decision is one message per schema version it goes out in.
  const perDecision = o.crowdSchemas.length;
  const sink = await openAlertSink({ servers: server.url, ...DEFAULT_CORE_USER, dataDir: join(dir, 'core'), node: 'bench', outboxLimit: perDecision * (o.count + o.latencyCount) + 10, crowdSchemas: o.crowdSchemas, log });
  // The latency subscriber reads v1 where v1 goes out, else v2.
  const v1 = o.crowdSchemas.includes('v1');
  const zones = Array.from({ length: o.zones }, (_, z) => `z${z}`);
  const ctx = { district: 'bench', location: { lat: 36.07, lon: 120.38 }, snapshotRef: null };
  try {
    // Bare JetStream, same subjects and a payload of the same size as a real alert.
    const bare = await connect({ servers: server.url, ...DEFAULT_CORE_USER });
    const js = bare.jetstream();
    const sample = new TextEncoder().encode(JSON.stringify({ ...(await sink.submit(event(0, 'warmup', Date.now(), 'warmup'), { ...ctx, district: 'warmup' })) }));
    await sink.drain(10_000);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: BARE_WINDOW }, async () => {
      for (let i = next++; i < o.count; i = next++) {
        const z = zones[i % zones.length] ?? 'z0';
        await js.publish(alertSubject('bare', 'cam-bench', z), sample, { msgID: `bare-${i}` });
      }
    }));
    const bareSecs = (performance.now() - t0) / 1000;
    await bare.close();

    // Through the sink: submits as the pipeline makes them (one after another), timed until the outbox is empty.
    const base = Date.now();
    const t1 = performance.now();
    for (let i = 0; i < o.count; i++) await sink.submit(event(i, zones[i % zones.length] ?? 'z0', base + i, 'throughput'), ctx);
    const submitSecs = (performance.now() - t1) / 1000;
    if (!(await sink.drain(120_000))) throw new Error('the outbox did not drain within 120 s');
    const sinkSecs = (performance.now() - t1) / 1000;

    // Latency at a steady rate, to a subscriber's durable consumer that only sees this phase.
    const sub = await connect({ servers: server.url, ...DEFAULT_SUBSCRIBER_USER });
    const jsm = await sub.jetstreamManager();
    const stream = v1 ? ALERT_STREAM : ALERT_STREAM_V2;
    await jsm.consumers.add(stream, { durable_name: 'bench-latency', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New, filter_subject: v1 ? 'citybrain.alerts.crowd.latency.>' : 'citybrain.v2.alerts.crowd.latency.>' });
    const messages = await (await sub.jetstream().consumers.get(stream, 'bench-latency')).consume({ max_messages: 256 });
    const latencies: number[] = [];
    const received = (async () => {
      for await (const m of messages) {
        latencies.push(Date.now() - (v1 ? validateAlert(m.json()).at : validateAlertV2(m.json()).at));
        m.ack();
        if (latencies.length >= o.latencyCount) break;
      }
    })();
    const gap = 1000 / o.rate;
    const t2 = performance.now();
    for (let i = 0; i < o.latencyCount; i++) {
      const wait = t2 + i * gap - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await sink.submit(event(i, zones[i % zones.length] ?? 'z0', Date.now(), 'latency'), { ...ctx, district: 'latency' });
    }
    const done = await Promise.race([received.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 30_000))]);
    // Leaving the loop with `break` already stopped the consumer's iterator (nats.js 2.29's close() then never
    // settles), so only an unfinished iterator is closed here.
    if (!done) await messages.close();
    await sub.close();
    const sorted = [...latencies].sort((a, b) => a - b);
    const result = {
      bench: 'alerts',
      count: o.count,
      zones: o.zones,
      crowd_schemas: o.crowdSchemas,
      messages_per_decision: perDecision,
      alerts_per_s: Math.round(o.count / sinkSecs),
      bare_jetstream_per_s: Math.round(o.count / bareSecs),
      ratio_vs_bare_jetstream: Number((bareSecs / sinkSecs).toFixed(3)),
      /** Submits alone (outbox writes), without waiting for the publishes to finish. */
      submit_per_s: Math.round(o.count / submitSecs),
      latency_rate_per_s: o.rate,
      latency_samples: latencies.length,
      latency_p50_ms: percentile(sorted, 50),
      latency_p99_ms: percentile(sorted, 99),
      latency_max_ms: sorted.at(-1) ?? Number.NaN,
      target_p99_ms: TARGET_P99_MS,
      meets_target: done && percentile(sorted, 99) < TARGET_P99_MS,
      status: sink.status(),
    };
    if (o.json) process.stdout.write(JSON.stringify(result) + '\n');
    else {
      process.stdout.write([
        `alerts through the outbox: ${result.alerts_per_s}/s (${o.count} alerts, ${o.zones} zones, crowd schemas ${o.crowdSchemas.join('+')})`,
        `bare JetStream publish+ack: ${result.bare_jetstream_per_s}/s  -> ratio ${result.ratio_vs_bare_jetstream}`,
        `threshold event -> subscriber at ${o.rate}/s: p50 ${result.latency_p50_ms} ms, p99 ${result.latency_p99_ms} ms, max ${result.latency_max_ms} ms `
          + `(target p99 < ${TARGET_P99_MS} ms: ${result.meets_target ? 'met' : 'NOT met'}; ${latencies.length}/${o.latencyCount} received)`,
      ].join('\n') + '\n');
    }
    return 0;
  } finally {
    await sink.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
