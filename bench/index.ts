/**
 * `cvcore bench index`: ingest rate against raw batched RocksDB puts of the same bytes (same run, same disk),
 * attribute-query latency, plate-search latency (exact, `鲁B*`, `*23`, `*23*`, one character off), and face kNN
 * latency and recall@10 against exact search.
 *
 * Data model: records spread over 7 days, 200 cameras in 5 departments, classes and attributes drawn like a
 * street scene; a fraction of records (default 10%) are people with a 1024-d face embedding. Embeddings are
 * "identities with appearances" (a random unit centre per person plus noise), because that is what face
 * embeddings look like; uniform random vectors in 1024-d have no meaningful neighbours.
 *
 * Plates like a city's traffic: vehicles (a pool of about one per four records) are seen again and again, most
 * registered locally (鲁B), some elsewhere in the province or in other provinces; new-energy plates are green
 * with 6 characters; 85% of sightings have a reading (3% of those a raw reading that fits no format) and a
 * plate crop. People carry clothing colours. Plates and clothing come from their own generator, so the rest of
 * the data is the same as before plates existed; `--no-plates` leaves them out (the ingest cost of the plate
 * keys is the difference between the two runs).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { exactSearch, MetricKind } from 'usearch';
import { VEHICLE_COLOURS } from '../common/colours.js';
import type { ObjectClass, TrackRecord } from '../common/messages.js';
import { PLATE_DIGITS, PLATE_LETTERS, PLATE_PROVINCES } from '../common/plates.js';
import { openIndex, type Scope, type SearchQuery } from '../search-index/index.js';
import { ROCKS_OPEN_OPTIONS, createRocks, type BatchOp } from '../search-index/rocks.js';
import { benchDataKey, clearBenchRing } from './data-key.js';

interface BenchArgs {
  records: number;
  faceFraction: number;
  dims: number;
  queries: number;
  batchSize: number;
  json: boolean;
  /** No encryption (bench only): values framed as sealed but copied, for the cost of the cipher. */
  clear: boolean;
  dir: string | null;
  plates: boolean;
}

const USAGE = 'usage: bench index [--records N] [--face-fraction F] [--dims D] [--queries Q] [--batch-size B] [--dir PATH] [--no-plates] [--clear] [--json]';

function parseArgs(args: string[]): BenchArgs {
  const a: BenchArgs = { records: 100_000, faceFraction: 0.1, dims: 1024, queries: 200, batchSize: 1024, json: false, dir: null, plates: true, clear: false };
  for (let i = 0; i < args.length; i++) {
    const k = args[i];
    const v = (): string => {
      const x = args[++i];
      if (x === undefined) throw new RangeError(`${k} needs a value`);
      return x;
    };
    const num = (name: string, min: number, max: number, int = true): number => {
      const n = Number(v());
      if (!Number.isFinite(n) || n < min || n > max || (int && !Number.isInteger(n))) throw new RangeError(`${name} must be ${int ? 'an integer' : 'a number'} in ${min}..${max}`);
      return n;
    };
    if (k === '--records') a.records = num('--records', 1000, 10_000_000);
    else if (k === '--face-fraction') a.faceFraction = num('--face-fraction', 0, 1, false);
    else if (k === '--dims') a.dims = num('--dims', 8, 4096);
    else if (k === '--queries') a.queries = num('--queries', 10, 100_000);
    else if (k === '--batch-size') a.batchSize = num('--batch-size', 1, 100_000);
    else if (k === '--dir') a.dir = v();
    else if (k === '--json') a.json = true;
    else if (k === '--no-plates') a.plates = false;
    // The same run without the cipher (values framed as sealed, bytes copied): the baseline of encryption's cost.
    else if (k === '--clear') a.clear = true;
    else throw new RangeError(`unknown argument ${String(k)}; ${USAGE}`);
  }
  return a;
}

/** A seeded generator (mulberry32): the benches' synthetic records are the same in every run. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
}

function unit(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const n = Math.sqrt(s) || 1;
  for (let i = 0; i < v.length; i++) v[i] = v[i]! / n;
  return v;
}

/** One appearance of an identity: its centre plus noise, so two appearances have cosine about 0.65. */
function appearance(rand: () => number, centre: Float32Array): Float32Array {
  const v = new Float32Array(centre.length);
  const sigma = 0.7 / Math.sqrt(centre.length);
  for (let i = 0; i < v.length; i++) v[i] = centre[i]! + sigma * gaussian(rand);
  return unit(v);
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const CLASSES: ObjectClass[] = ['car', 'car', 'car', 'person', 'person', 'bus', 'truck', 'motorcycle', 'bicycle'];
const COLOURS = ['white', 'black', 'grey', 'silver', 'red', 'blue', 'green', 'yellow', 'brown', 'orange'];
const AGE_BANDS = ['0-17', '18-30', '31-45', '46-60', '60+'];
const DEPARTMENTS = ['police', 'traffic', 'housing', 'service', 'transport'];
const CAMERAS = 200;
const SPAN_MS = 7 * 86_400_000;
const T0 = Date.UTC(2026, 0, 1);

/** A plate as a city's cameras see them: mostly local (鲁B), some from the province, some from elsewhere. */
function plateOf(rand: () => number): { plate: string; colour: string } {
  const r = rand();
  const province = r < 0.85 ? '鲁' : PLATE_PROVINCES[Math.floor(rand() * PLATE_PROVINCES.length)]!;
  const letter = r < 0.75 ? 'B' : PLATE_LETTERS[Math.floor(rand() * PLATE_LETTERS.length)]!;
  const ch = (): string => (rand() < 0.15 ? PLATE_LETTERS[Math.floor(rand() * PLATE_LETTERS.length)]! : PLATE_DIGITS[Math.floor(rand() * 10)]!);
  if (rand() < 0.08) {
    // New energy: D (electric) or F (hybrid), then 5 more.
    return { plate: province + letter + (rand() < 0.7 ? 'D' : 'F') + Array.from({ length: 5 }, ch).join(''), colour: 'green' };
  }
  const c = rand();
  return { plate: province + letter + Array.from({ length: 5 }, ch).join(''), colour: c < 0.88 ? 'blue' : c < 0.97 ? 'yellow' : c < 0.99 ? 'white' : 'black' };
}

export async function benchIndex(args: string[]): Promise<number> {
  let a: BenchArgs;
  try {
    a = parseArgs(args);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const root = a.dir ?? mkdtempSync(join(tmpdir(), 'cvcore-bench-index-'));
  const say = (m: string): void => {
    if (!a.json) process.stdout.write(m + '\n');
  };
  try {
    const rand = rng(42);
    const faces = Math.round(a.records * a.faceFraction);
    const identities = Math.max(1, Math.round(faces / 10));
    say(`bench index: ${a.records} records, ${faces} with a ${a.dims}-d face (${identities} identities), ${cpus().length} cpus, load ${loadavg()[0]!.toFixed(1)}`);
    const centres: Float32Array[] = [];
    for (let i = 0; i < identities; i++) {
      const c = new Float32Array(a.dims);
      for (let j = 0; j < a.dims; j++) c[j] = gaussian(rand);
      centres.push(unit(c));
    }
    // Thumbnail bytes are incompressible like JPEG; records share slices of one pool to keep memory flat.
    const pool = Buffer.alloc(1 << 20);
    for (let i = 0; i < pool.length; i++) pool[i] = Math.floor(rand() * 256);
    const faceEvery = faces > 0 ? a.records / faces : Infinity;
    // Plates and clothing from their own generator: the rest of the data stays what it was before plates.
    const prand = rng(1234);
    const vehicles = Math.max(1, Math.round(a.records / 4));
    const plateSeed = Array.from({ length: vehicles }, () => plateOf(prand));
    let plateBytes = 0;
    let plated = 0;
    const storedFaces = new Float32Array(faces * a.dims);
    const faceIds: string[] = [];
    const make = (i: number): TrackRecord => {
      const isFace = Math.floor(i / faceEvery) !== Math.floor((i + 1) / faceEvery) && faceIds.length < faces;
      const cls = isFace ? 'person' : CLASSES[Math.floor(rand() * CLASSES.length)]!;
      const cam = Math.floor(rand() * CAMERAS);
      const start = T0 + Math.floor(rand() * SPAN_MS);
      const attributes: Record<string, string | number> = cls === 'person'
        ? { gender: rand() < 0.5 ? 'male' : 'female', ageBand: AGE_BANDS[Math.floor(rand() * AGE_BANDS.length)]!, colour: COLOURS[Math.floor(rand() * COLOURS.length)]! }
        : { colour: COLOURS[Math.floor(rand() * COLOURS.length)]!, vehicleType: cls };
      let plateCrop: Uint8Array | null = null;
      if (a.plates && cls === 'person') {
        attributes['upperColour'] = VEHICLE_COLOURS[Math.floor(prand() * VEHICLE_COLOURS.length)]!;
        attributes['lowerColour'] = VEHICLE_COLOURS[Math.floor(prand() * VEHICLE_COLOURS.length)]!;
        attributes['upperColourConfidence'] = 0.7;
        attributes['lowerColourConfidence'] = 0.6;
      } else if (a.plates && cls !== 'bicycle' && prand() < 0.85) {
        // Some vehicles pass far more often than others (commuters, buses): a skewed pick from the pool.
        const v = plateSeed[Math.floor(vehicles * prand() ** 2)]!;
        if (prand() < 0.03) attributes['plateRaw'] = v.plate.slice(1, 6) + 'X';
        else attributes['plate'] = v.plate;
        attributes['plateColour'] = v.colour;
        attributes['plateConfidence'] = 0.9;
        attributes['plateRows'] = 1;
        const clen = 500 + Math.floor(prand() * 400);
        const coff = Math.floor(prand() * (pool.length - clen));
        plateCrop = pool.subarray(coff, coff + clen);
        plateBytes += clen;
        plated++;
      }
      let embedding: Float32Array | null = null;
      if (isFace) {
        embedding = appearance(rand, centres[Math.floor(rand() * identities)]!);
        storedFaces.set(embedding, faceIds.length * a.dims);
        attributes['faceQuality'] = 0.8;
      }
      const tlen = 1200 + Math.floor(rand() * 800);
      const off = Math.floor(rand() * (pool.length - tlen));
      const id = `cam-${cam}:${i}:${start}`;
      if (isFace) faceIds.push(id);
      return {
        id, cameraId: `cam-${cam}`, department: DEPARTMENTS[cam % DEPARTMENTS.length]!, district: `d${cam % 12}`,
        cls, start, end: start + 2000 + Math.floor(rand() * 30_000), hits: 20, score: 0.8,
        box: { x: 100, y: 100, w: 80, h: 160 }, attributes, thumbnail: pool.subarray(off, off + tlen), embedding, plateCrop,
      };
    };

    // 1. Ingest through the index (records generated on the fly; generation time is excluded).
    const ring = a.clear ? clearBenchRing() : benchDataKey();
    const index = await openIndex({ dataKey: ring, dir: join(root, 'index'), dimensions: a.dims, batchSize: a.batchSize, flushMs: 50, sweepIntervalMs: 0, vectorSaveIntervalMs: 0 });
    let genMs = 0;
    const t0 = performance.now();
    for (let i = 0; i < a.records; i++) {
      const g = performance.now();
      const r = make(i);
      genMs += performance.now() - g;
      await index.put(r);
      if (!a.json && i > 0 && i % 100_000 === 0) say(`  ingested ${i}`);
    }
    await index.flush();
    const ingestMs = performance.now() - t0 - genMs;
    const ingestRate = a.records / (ingestMs / 1000);
    const bytes = index.stats().bytesWritten;
    say(`ingest: ${Math.round(ingestRate)} records/s (${(bytes / 1e6).toFixed(0)} MB written)`);
    // Records are durable and searchable when flush() resolves (faces not yet in the graph are searched
    // exactly); the graph is built in the background. Its catch-up is timed here, and kNN is measured after it.
    const backlog = index.stats().faceGraphBacklog;
    const g0 = performance.now();
    await index.settle();
    const graphCatchUpS = (performance.now() - g0) / 1000;
    say(`face graph: ${backlog} faces still to build at the end of ingest, built ${graphCatchUpS.toFixed(1)} s later`);

    // 2. Attribute queries as investigators ask them, under a department scope half of the time.
    const qrand = rng(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(qrand() * xs.length)]!;
    const lat: number[] = [];
    let returned = 0;
    for (let i = 0; i < a.queries; i++) {
      const from = T0 + Math.floor(qrand() * (SPAN_MS - 3_600_000));
      const shapes: SearchQuery[] = [
        { attributes: { colour: pick(COLOURS) }, classes: ['car'], from, to: from + 3_600_000 },
        { cameraIds: [`cam-${Math.floor(qrand() * CAMERAS)}`], from, to: from + 3 * 3_600_000 },
        { classes: ['person'], attributes: { gender: pick(['male', 'female']), ageBand: pick(AGE_BANDS) } },
        { attributes: { colour: 'red', vehicleType: 'bus' } },
        { cameraIds: Array.from({ length: 10 }, () => `cam-${Math.floor(qrand() * CAMERAS)}`), classes: ['truck', 'bus'] },
      ];
      const q = { ...shapes[i % shapes.length]!, limit: 50 };
      const scope: Scope = i % 2 === 0 ? 'all' : { departments: [pick(DEPARTMENTS)] };
      const s = performance.now();
      const page = await index.query(q, scope);
      if (page.nextCursor && i % 4 === 0) await index.query({ ...q, cursor: page.nextCursor }, scope);
      lat.push(performance.now() - s);
      returned += page.records.length;
    }
    lat.sort((x, y) => x - y);
    say(`attribute query: p50 ${pct(lat, 50).toFixed(2)} ms, p99 ${pct(lat, 99).toFixed(2)} ms (${(returned / a.queries).toFixed(1)} records/page)`);

    // 2b. Plate searches, each kind on its own, under a department scope half of the time. A page of 50 (and
    // every fourth time the next page), as the console asks.
    const plateLat: Record<string, { p50: number; p99: number; perPage: number }> = {};
    if (a.plates) {
      const digits = (): string => String(Math.floor(qrand() * 100)).padStart(2, '0');
      const known = (): string => plateSeed[Math.floor(vehicles * qrand() ** 2)]!.plate;
      const kinds: Record<string, () => SearchQuery> = {
        exact: () => ({ plate: known(), plateFuzzy: false }),
        prefix: () => ({ plate: '鲁B*' }),
        suffix: () => ({ plate: `*${digits()}` }),
        middle: () => ({ plate: `*${digits()}*` }),
        // One character misread (a stored plate with one position changed): exact phase, then the fuzzy phases.
        fuzzy: () => {
          const c = [...known()];
          const at = 2 + Math.floor(qrand() * (c.length - 2));
          c[at] = c[at] === '8' ? 'B' : PLATE_DIGITS[Math.floor(qrand() * 10)]!;
          return { plate: c.join('') };
        },
      };
      for (const [kind, make] of Object.entries(kinds)) {
        const l: number[] = [];
        let got = 0;
        let shape = '';
        const n = Math.min(a.queries, 200);
        for (let i = 0; i < n; i++) {
          const q = { ...make(), limit: 50 };
          shape = String(q.plate);
          const scope: Scope = i % 2 === 0 ? 'all' : { departments: [pick(DEPARTMENTS)] };
          const s = performance.now();
          const page = await index.query(q, scope);
          if (page.nextCursor && i % 4 === 0) await index.query({ ...q, cursor: page.nextCursor }, scope);
          l.push(performance.now() - s);
          got += page.records.length;
        }
        l.sort((x, y) => x - y);
        plateLat[kind] = { p50: pct(l, 50), p99: pct(l, 99), perPage: got / n };
        say(`plate query ${kind.padEnd(6)} (e.g. ${shape}): p50 ${pct(l, 50).toFixed(2)} ms, p99 ${pct(l, 99).toFixed(2)} ms (${(got / n).toFixed(1)} records/page)`);
      }
    }

    // 3. Face kNN: a new appearance of a stored identity; recall against exact search over every stored face.
    const knnLat: number[] = [];
    let hits = 0;
    let possible = 0;
    const k = 10;
    const nq = faces > 0 ? Math.min(a.queries, 200) : 0;
    // Exact answers first: a brute-force scan of every stored face between timed searches would evict the
    // graph and the caches they use, and time the benchmark's own work into the index's latency.
    const knnQueries: Float32Array[] = [];
    const truths: Array<Set<string>> = [];
    for (let i = 0; i < nq; i++) {
      const q = appearance(qrand, centres[Math.floor(qrand() * identities)]!);
      const exact = exactSearch(storedFaces, q, a.dims, k, MetricKind.IP) as { keys: BigUint64Array };
      knnQueries.push(q);
      truths.push(new Set(Array.from(exact.keys, (x) => faceIds[Number(x)]!)));
    }
    for (let i = 0; i < nq; i++) {
      const s = performance.now();
      const got = await index.faceSearch(knnQueries[i]!, { k }, 'all');
      knnLat.push(performance.now() - s);
      possible += truths[i]!.size;
      for (const m of got) if (truths[i]!.has(m.record.id)) hits++;
    }
    knnLat.sort((x, y) => x - y);
    const recall = possible > 0 ? hits / possible : NaN;
    say(`face kNN (k=10 over ${faces} faces): p50 ${pct(knnLat, 50).toFixed(2)} ms, p99 ${pct(knnLat, 99).toFixed(2)} ms, recall@10 ${recall.toFixed(3)}`);
    await index.close();

    // 3b. A restart: the face graph is not persisted (it would hold the embeddings in clear), so an open loads every
    // face from the sealed entries into the graph's exactly searched tail and rebuilds the graph in the background.
    const o0 = performance.now();
    const reopened = await openIndex({ dataKey: ring, dir: join(root, 'index'), dimensions: a.dims, sweepIntervalMs: 0 });
    const reopenMs = performance.now() - o0;
    const tailKnn: number[] = [];
    for (let i = 0; i < Math.min(nq, 20); i++) {
      const s = performance.now();
      await reopened.faceSearch(knnQueries[i]!, { k }, 'all');
      tailKnn.push(performance.now() - s);
    }
    tailKnn.sort((x, y) => x - y);
    const rssAtOpenMb = process.memoryUsage().rss / 1e6;
    const r0 = performance.now();
    await reopened.settle();
    const rebuildS = (performance.now() - r0 + reopenMs) / 1000;
    const rssAfterMb = process.memoryUsage().rss / 1e6;
    await reopened.close();
    say(`restart: open ${reopenMs.toFixed(0)} ms (${faces} faces from the sealed entries), kNN while the graph rebuilds p50 ${pct(tailKnn, 50).toFixed(1)} ms, graph rebuilt ${rebuildS.toFixed(1)} s after the open began; rss ${rssAtOpenMb.toFixed(0)} MB at open, ${rssAfterMb.toFixed(0)} MB after`);

    // 4. Raw baseline, last, so its gigabytes of writes (and their writeback) do not overlap the query timings: the same number of bytes as batched puts of one value per record, same batch size.
    const raw = createRocks(join(root, 'raw'));
    await raw.open(ROCKS_OPEN_OPTIONS);
    const per = Math.round(bytes / a.records);
    const rawStart = performance.now();
    for (let i = 0; i < a.records; i += a.batchSize) {
      const ops: BatchOp[] = [];
      for (let j = i; j < Math.min(a.records, i + a.batchSize); j++) {
        const key = `r\x00${String(j).padStart(10, '0')}`;
        const off = (j * 7919) % (pool.length - per);
        ops.push({ type: 'put', key, value: pool.subarray(off, off + per - key.length) });
      }
      await raw.batch(ops);
    }
    const rawMs = performance.now() - rawStart;
    await raw.close();
    const rawRate = a.records / (rawMs / 1000);
    say(`raw RocksDB: ${Math.round(rawRate)} records/s of ${per} bytes; index/raw ${(ingestRate / rawRate).toFixed(2)}`);

    const result = {
      records: a.records,
      faces,
      encryption: a.clear ? 'none (bench --clear)' : 'aes-256-gcm',
      restart_open_ms: Math.round(reopenMs),
      restart_knn_during_rebuild_p50_ms: Number(pct(tailKnn, 50).toFixed(2)),
      restart_graph_rebuilt_s: Number(rebuildS.toFixed(1)),
      restart_rss_mb_at_open: Math.round(rssAtOpenMb),
      restart_rss_mb_after_rebuild: Math.round(rssAfterMb),
      face_fraction: a.faceFraction,
      dims: a.dims,
      batch_size: a.batchSize,
      cpus: cpus().length,
      load_avg_1m: Number(loadavg()[0]!.toFixed(2)),
      ingest_records_per_s: Math.round(ingestRate),
      raw_records_per_s: Math.round(rawRate),
      ingest_ratio_vs_raw: Number((ingestRate / rawRate).toFixed(3)),
      bytes_per_record: per,
      attr_query_p50_ms: Number(pct(lat, 50).toFixed(3)),
      attr_query_p99_ms: Number(pct(lat, 99).toFixed(3)),
      knn_p50_ms: Number(pct(knnLat, 50).toFixed(3)),
      knn_p99_ms: Number(pct(knnLat, 99).toFixed(3)),
      knn_recall_at_10: Number(recall.toFixed(4)),
      face_graph_backlog_at_ingest_end: backlog,
      face_graph_catch_up_s: Number(graphCatchUpS.toFixed(1)),
      plates: a.plates,
      plated_records: plated,
      plate_crop_bytes_per_plated_record: plated > 0 ? Math.round(plateBytes / plated) : 0,
      ...Object.fromEntries(Object.entries(plateLat).flatMap(([kind, v]) => [
        [`plate_${kind}_p50_ms`, Number(v.p50.toFixed(3))], [`plate_${kind}_p99_ms`, Number(v.p99.toFixed(3))], [`plate_${kind}_records_per_page`, Number(v.perPage.toFixed(1))],
      ])),
      note: `${Math.round(a.faceFraction * 100)}% of records carry a face embedding; kNN queries are new appearances of stored identities`,
    };
    if (a.json) process.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  } finally {
    // RocksDB may still be unlinking files right after close; retry instead of leaving gigabytes behind.
    if (a.dir === null) rmSync(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

// Runnable on its own too: node dist/bench/index.js --records 100000
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  benchIndex(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}
