/**
 * The face graph's thread (see vectors.ts). Holds the usearch HNSW graph and the tail of faces not yet in it,
 * answers searches over both, and moves the tail into the graph a slice at a time while the write path is
 * quiet: every batch the index hands to its write thread also holds the build for a moment (`hold`), so during
 * an ingest burst the graph waits and the CPU goes to ingest. Between slices the message queue is served, so a
 * search waits for one slice at most. (A lowered thread priority was tried first: it starves searches too.)
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { SEAL_MAGIC, dataKeyringFrom, type DataKeyFile, type DataKeyring } from '../common/data-key.js';
import { parentPort, workerData } from 'node:worker_threads';
import { Index, MetricKind, ScalarKind, exactSearch } from 'usearch';
import { HNSW, type VectorMessage, type VectorReply } from './vector-protocol.js';
import { facePass, scoreFace, type FaceFilter } from './record.js';
import { faceKey } from './keys.js';
import { sharedReader } from './rocks.js';

const FILE_RE = /^faces-(\d+)\.usearch$/;
/**
 * A slice (one graph call) is sized to take about this long, from the measured cost of an insert (50 us for
 * 64-d, 500 us for 1024-d here): the longest a search waits behind the build.
 */
const SLICE_MS = 8;
let insertMs = 0.5;
let lastReport = 0;

const port = parentPort;
if (!port) throw new Error('vector-worker.ts runs as a worker thread');
const { dir, dimensions: d, maxSeqInDb, db, keys } = workerData as { dir: string; dimensions: number; maxSeqInDb: number; db: bigint | null; keys: DataKeyFile | null };
/** Opens a face entry: sealed (aad: its key) with the data key ring. Replaced on a rotation ('keys'). */
let ring: Pick<DataKeyring, 'open'> = ringOf(keys);

/** null: `bench index --clear`'s framing-only values (header, then the bytes as they are); never in a core. */
function ringOf(k: DataKeyFile | null): Pick<DataKeyring, 'open'> {
  if (k) return dataKeyringFrom(k);
  return { open: (v) => { const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength); return b.subarray(SEAL_MAGIC.length + 1 + b[SEAL_MAGIC.length]! + 28); } };
}
/** The index's RocksDB (its native handle), for reading the face entries that `nearest` filters and re-ranks. */
const faces = db === null ? null : sharedReader(db);

function create(): Index {
  return new Index({
    dimensions: d, metric: MetricKind.Cos, quantization: ScalarKind.I8, connectivity: HNSW.connectivity,
    expansion_add: HNSW.expansionAdd, expansion_search: HNSW.expansionSearch, multi: false,
  });
}

function files(): Array<{ name: string; seq: number }> {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => ({ name, m: FILE_RE.exec(name) }))
    .filter((f): f is { name: string; m: RegExpExecArray } => f.m !== null)
    .map((f) => ({ name: f.name, seq: Number(f.m[1]) }))
    .sort((a, b) => b.seq - a.seq);
}

let graph = create();
const warnings: string[] = [];
/**
 * Slots usearch freed (removed vectors) and has not reused. A removed vector keeps its 8-bit copy in its slot in
 * memory until an add reuses the slot; `scrub` overwrites them all.
 */
let freeSlots = 0;
/** Keys of scrub vectors: far above any face sequence (12 digits). */
const SCRUB_KEY = 1n << 62n;

/**
 * The graph is never saved (see vectors.ts): a file of it left by an earlier version holds quantised embeddings
 * in clear and is deleted. Every face comes from the sealed entries (the caller adds them after open).
 */
function load(): number {
  for (const f of files()) rmSync(join(dir, f.name), { force: true });
  for (const name of existsSync(dir) ? readdirSync(dir) : []) if (/^faces-\d+\.usearch\.tmp$/.test(name)) rmSync(join(dir, name), { force: true });
  void maxSeqInDb;
  return 0;
}

// The tail: rows [head, len) of `tail` are faces not yet in the graph, in sequence order.
let tail = new Float32Array(1024 * d);
let tailSeqs: number[] = [];
let head = 0;
let len = 0;
/** Sequences removed while in the tail (skipped by search and build). */
const removed = new Set<number>();
let settleWaiters: number[] = [];
let pumping = false;
let closing = false;
/** No graph slice before this time (ms since epoch): the write path is busy. */
let holdUntil = 0;

function live(): number {
  return len - head - removed.size;
}

function append(seqs: number[], rows: Float32Array): void {
  if (len + seqs.length > tail.length / d) {
    // Compact, then grow when still short: the buffer only holds the live tail.
    const n = len - head;
    const cap = Math.max(1024, 2 ** Math.ceil(Math.log2(n + seqs.length)));
    const next = cap * d === tail.length ? tail : new Float32Array(cap * d);
    next.set(tail.subarray(head * d, len * d), 0);
    tail = next;
    tailSeqs = tailSeqs.slice(head, len);
    len = n;
    head = 0;
  }
  seqs.forEach((seq, i) => {
    if (graph.contains(BigInt(seq))) return;
    tail.set(rows.subarray(i * d, (i + 1) * d), len * d);
    tailSeqs[len] = seq;
    len++;
  });
}

function reply(m: VectorReply): void {
  port!.postMessage(m);
}

/** Moves one slice of the tail into the graph, then yields to the message queue. */
function pump(): void {
  if (closing) return;
  const wait = holdUntil - Date.now();
  if (wait > 0) {
    setTimeout(pump, wait);
    return;
  }
  const keys: bigint[] = [];
  const start = head;
  let end = head;
  const slice = Math.max(1, Math.min(1024, Math.floor(SLICE_MS / insertMs)));
  while (end < len && keys.length < slice) {
    const seq = tailSeqs[end]!;
    if (removed.has(seq)) removed.delete(seq);
    else keys.push(BigInt(seq));
    end++;
  }
  if (keys.length > 0) {
    const rows = new Float32Array(keys.length * d);
    let r = 0;
    for (let i = start; i < end; i++) {
      if (keys[r] !== BigInt(tailSeqs[i]!)) continue;
      rows.set(tail.subarray(i * d, (i + 1) * d), r * d);
      r++;
    }
    const t0 = performance.now();
    // One thread: usearch sizes its per-thread contexts when it grows the graph, not when it loads one, so a
    // multi-threaded add into a loaded graph with room to spare writes past them (heap corruption, seen as an
    // abort in the crash test after a reopen).
    graph.add(BigUint64Array.from(keys), rows, 1);
    // Adds reuse freed slots first (usearch's free list).
    freeSlots = Math.max(0, freeSlots - keys.length);
    insertMs = 0.8 * insertMs + 0.2 * Math.max(0.005, (performance.now() - t0) / keys.length);
  }
  head = end;
  if (head >= len) {
    head = 0;
    len = 0;
    tailSeqs = [];
    removed.clear();
    for (const id of settleWaiters) reply({ id, backlog: 0, graph: graph.size() });
    settleWaiters = [];
    pumping = false;
    reply({ backlog: 0, graph: graph.size() });
    return;
  }
  if (head >= 1024 && head * 2 >= len) {
    // Half the buffer is already in the graph: move the live rows to the front (amortised O(1) a row).
    tail.copyWithin(0, head * d, len * d);
    tailSeqs = tailSeqs.slice(head, len);
    len -= head;
    head = 0;
  }
  const now = Date.now();
  if (now - lastReport >= 100) {
    lastReport = now;
    reply({ backlog: live(), graph: graph.size() });
  }
  setImmediate(pump);
}

function kick(): void {
  if (pumping || head >= len) return;
  pumping = true;
  setImmediate(pump);
}

function search(q: Float32Array, count: number): Array<{ seq: number; similarity: number }> {
  const out: Array<{ seq: number; similarity: number }> = [];
  const size = graph.size();
  if (size > 0) {
    const m = graph.search(q, Math.min(count, size), 1);
    for (let i = 0; i < m.keys.length; i++) {
      const dist = m.distances[i]!;
      // usearch pads with sentinel keys when fewer than asked were found.
      if (Number.isFinite(dist)) out.push({ seq: Number(m.keys[i]!), similarity: 1 - dist });
    }
  }
  if (len - head > 0) {
    // The tail exactly; vectors are unit length, so inner product is cosine similarity. usearch reads a typed
    // array from the start of its buffer (it ignores a subarray's offset), so the scan covers rows from 0 and
    // asks for `head` more: rows before `head` are already in the graph (pump keeps head <= the live rows).
    const want = Math.min(len, count + removed.size + head);
    const r = exactSearch(tail.subarray(0, len * d), q, d, want, MetricKind.IP, 1) as { keys: BigUint64Array; distances: Float32Array };
    for (let i = 0; i < r.keys.length; i++) {
      const row = Number(r.keys[i]!);
      const seq = tailSeqs[row];
      if (row < head || seq === undefined || removed.has(seq) || !Number.isFinite(r.distances[i]!)) continue;
      out.push({ seq, similarity: 1 - r.distances[i]! });
    }
  }
  return out.sort((a, b) => b.similarity - a.similarity).slice(0, count);
}

/**
 * The k best faces passing the filter: the graph and tail nominate, each nominee's face entry (read here, not on
 * the caller's thread, which serves the API) filters it and re-ranks it by its exact float embedding. A filter
 * that keeps few faces asks for more nominees, fourfold each round up to `maxFetch`; `complete` is false when
 * even those held fewer than k, and the caller scans exactly instead.
 */
function nearest(q: Float32Array, k: number, filter: FaceFilter, maxFetch: number): { matches: Array<[string, number]>; complete: boolean } {
  if (!faces) throw new Error('the face graph was opened without a database to read faces from');
  const pass = facePass(filter);
  const found = new Map<string, number>();
  const checked = new Set<number>();
  const size = graph.size() + live();
  let fetch = Math.min(Math.max(k * 4, 40), maxFetch);
  let complete = true;
  while (size > 0) {
    const fresh = search(q, fetch).filter((h) => !checked.has(h.seq));
    for (const h of fresh) checked.add(h.seq);
    const keys = fresh.map((h) => Buffer.from(faceKey(h.seq)));
    const values = faces.getMany(keys);
    for (const [i, v] of values.entries()) {
      // A missing entry: the face was deleted after the graph last saw it.
      const scored = v ? scoreFace(q, ring.open(v, keys[i]!), pass) : null;
      if (scored) found.set(scored[0], scored[1]);
    }
    if (found.size >= k || fetch >= size) break;
    if (fetch >= maxFetch) {
      complete = false;
      break;
    }
    fetch = Math.min(fetch * 4, maxFetch);
  }
  return { matches: [...found].sort((a, b) => b[1] - a[1]).slice(0, k), complete };
}

/**
 * Overwrites every freed slot: adds as many constant vectors as there are free slots (usearch reuses freed slots
 * before it grows, overwriting the old 8-bit copy) and removes them again, so the slots hold the constant, not a
 * face. Erasure runs it; the cost is one insert per freed slot.
 */
function scrub(): number {
  const n = freeSlots;
  if (n === 0) return 0;
  const keys = new BigUint64Array(n);
  for (let i = 0; i < n; i++) keys[i] = SCRUB_KEY + BigInt(i);
  graph.add(keys, new Float32Array(n * d).fill(1 / Math.sqrt(d)), 1);
  graph.remove(keys);
  freeSlots = 0;
  return n;
}

const after = load();
reply({ opened: true, after, graph: graph.size(), warnings });

port.on('message', (m: VectorMessage) => {
  try {
    switch (m.op) {
      case 'add':
        append(m.seqs, new Float32Array(m.rows));
        kick();
        break;
      case 'remove':
        for (const seq of m.seqs) {
          const key = BigInt(seq);
          if (graph.contains(key)) {
            graph.remove(key);
            freeSlots++;
          } else if (tailSeqs.indexOf(seq, head) >= 0) {
            removed.add(seq);
          }
        }
        break;
      case 'search':
        reply({ id: m.id, hits: search(new Float32Array(m.query), m.count) });
        break;
      case 'nearest':
        reply({ id: m.id, ...nearest(new Float32Array(m.query), m.k, m.filter, m.maxFetch) });
        break;
      case 'keys':
        ring = ringOf(m.keys);
        break;
      case 'scrub':
        reply({ id: m.id, scrubbed: scrub() });
        break;
      case 'hold':
        holdUntil = Math.max(holdUntil, Date.now() + m.ms);
        break;
      case 'close':
        // Stop between slices and let the thread end by itself: terminating it inside a native graph call
        // aborts the process.
        closing = true;
        port.close();
        break;
      case 'settle':
        if (head >= len) reply({ id: m.id, backlog: 0, graph: graph.size() });
        else settleWaiters.push(m.id);
        break;
    }
  } catch (err) {
    if ('id' in m) reply({ id: m.id, error: err instanceof Error ? err.message : String(err) });
    else reply({ error: err instanceof Error ? err.message : String(err) });
  }
});
