import { createRequire } from 'node:module';
import { mkdir } from 'node:fs/promises';
import { AlertError } from '../common/errors.js';
import type { WireAlert } from '../common/alarm-schemas.js';

/** The part of @nxtedition/rocksdb (an abstract-level database) the outbox uses; the package ships no types. */
interface RocksDb {
  open(options?: { createIfMissing?: boolean }): Promise<void>;
  close(): Promise<void>;
  batch(ops: ReadonlyArray<{ type: 'put'; key: string; value: string } | { type: 'del'; key: string }>, options?: { sync?: boolean }): Promise<void>;
  del(key: string, options?: { sync?: boolean }): Promise<void>;
  iterator(options: { gte: string; lt: string; keyEncoding: 'utf8'; valueEncoding: 'utf8' }): AsyncIterable<[string, string]>;
  get(key: string, options: { valueEncoding: 'utf8' }): Promise<string>;
}
const require = createRequire(import.meta.url);
const { RocksLevel } = require('@nxtedition/rocksdb') as { RocksLevel: new (dir: string, options?: object) => RocksDb };

/**
 * Keys: `e!<seq, 16 digits>` -> the entry (sorts numerically); `m!seq` -> the last sequence handed out;
 * `f!<seq>` -> an entry fenced off (its camera's lease epoch moved on before it was sent): kept, never sent.
 */
const ENTRY = 'e!';
const ENTRY_END = 'e~';
const FENCED = 'f!';
const FENCED_END = 'f~';
const SEQ_KEY = 'm!seq';
const seqKey = (seq: number): string => ENTRY + String(seq).padStart(16, '0');

/** The camera lease an alert was decided under (cluster mode): sent only while that lease is still current. */
export interface AlertFence { readonly cameraId: string; readonly epoch: number }
/** `alert` is any kind on the wire; its `kind` says where it goes (an outbox of an older version holds crowd only). */
export interface OutboxEntry { readonly seq: number; readonly alert: WireAlert; readonly fence?: AlertFence }

/** Stored as the alert itself (single node, and outboxes written before fencing) or `{ alert, fence }`. */
function parseEntry(seq: number, value: string): OutboxEntry {
  const v = JSON.parse(value) as { alert?: WireAlert; fence?: AlertFence } & WireAlert;
  return v.alert !== undefined ? { seq, alert: v.alert, ...(v.fence ? { fence: v.fence } : {}) } : { seq, alert: v };
}
const storeEntry = (e: OutboxEntry): string => (e.fence ? JSON.stringify({ alert: e.alert, fence: e.fence }) : JSON.stringify(e.alert));

/**
 * The durable outbox: an alert (of any kind) is written here before it is published and deleted only when JetStream acks it.
 * The sequence counter is stored in the same batch as the entry, so a sequence (and the message id built from
 * the event) is never handed out twice, even after the outbox has emptied and the process restarted.
 * Writes are not fsync'd by default: they survive a killed process (the WAL is in the OS cache), not a power cut;
 * `sync: true` buys the latter at a write-latency cost.
 */
export class Outbox {
  readonly #db: RocksDb;
  readonly #limit: number;
  readonly #sync: boolean;
  #lastSeq = 0;
  #depth = 0;
  #fenced = 0;
  #closed = false;
  readonly #removing = new Set<Promise<void>>();
  #toDelete: number[] = [];
  #deleting: Promise<void> | null = null;
  /** Appends are chained so sequences are assigned and written in call order. */
  #tail: Promise<unknown> = Promise.resolve();

  private constructor(db: RocksDb, limit: number, sync: boolean) {
    this.#db = db;
    this.#limit = limit;
    this.#sync = sync;
  }

  /** Opens (or creates) the outbox in `dir` and returns it with the entries left from the last run, oldest first. */
  static async open(dir: string, limit: number, sync = false): Promise<{ outbox: Outbox; pending: OutboxEntry[] }> {
    await mkdir(dir, { recursive: true });
    const db = new RocksLevel(dir);
    try {
      await db.open({ createIfMissing: true });
    } catch (err) {
      throw new AlertError('ALERT_OUTBOX_IO', `the alert outbox in ${dir} cannot be opened (is another core using it?): ${(err as Error).message}`, { cause: err, detail: { dir } });
    }
    const box = new Outbox(db, limit, sync);
    const pending: OutboxEntry[] = [];
    for await (const [key, value] of db.iterator({ gte: ENTRY, lt: ENTRY_END, keyEncoding: 'utf8', valueEncoding: 'utf8' })) {
      pending.push(parseEntry(Number(key.slice(ENTRY.length)), value));
    }
    for await (const _ of db.iterator({ gte: FENCED, lt: FENCED_END, keyEncoding: 'utf8', valueEncoding: 'utf8' })) box.#fenced++;
    let stored = 0;
    try { stored = Number(await db.get(SEQ_KEY, { valueEncoding: 'utf8' })); } catch { /* a new outbox */ }
    box.#lastSeq = Math.max(stored, pending.at(-1)?.seq ?? 0);
    box.#depth = pending.length;
    return { outbox: box, pending };
  }

  get depth(): number { return this.#depth; }
  get limit(): number { return this.#limit; }
  /** Entries fenced off and kept (never sent), this run and before. */
  get fenced(): number { return this.#fenced; }

  /** Moves an entry out of the send queue into the fenced range, in one batch. */
  async fence(entry: OutboxEntry): Promise<void> {
    await this.#db.batch([
      { type: 'del', key: seqKey(entry.seq) },
      { type: 'put', key: FENCED + String(entry.seq).padStart(16, '0'), value: storeEntry(entry) },
    ], { sync: this.#sync });
    this.#depth -= 1;
    this.#fenced += 1;
  }

  /**
   * Reserves the next sequence, builds the alert with it and writes both in one batch. Rejects with
   * ALERT_OUTBOX_FULL when the outbox holds `limit` entries: the newest is refused so the older entries (the
   * raises that later updates and clears refer to) keep their order.
   */
  append(build: (seq: number) => WireAlert, fence?: AlertFence): Promise<OutboxEntry> {
    return this.appendAll([build], fence).then((entries) => entries[0] as OutboxEntry);
  }

  /**
   * As append, for alerts that go together (a crowd decision in schema v1 and v2): consecutive sequences, one
   * batch, so a crash keeps all of them or none. Refused whole when they do not all fit under the limit.
   */
  appendAll(builds: ReadonlyArray<(seq: number) => WireAlert>, fence?: AlertFence): Promise<OutboxEntry[]> {
    const run = async (): Promise<OutboxEntry[]> => {
      if (this.#closed) throw new AlertError('ALERT_OUTBOX_IO', 'the alert outbox is closed');
      if (this.#depth + builds.length > this.#limit) {
        throw new AlertError('ALERT_OUTBOX_FULL', `the alert outbox holds ${this.#depth} alerts (limit ${this.#limit}); the newest was refused`, { detail: { limit: this.#limit } });
      }
      const entries = builds.map((build, i): OutboxEntry => {
        const seq = this.#lastSeq + 1 + i;
        const alert = build(seq);
        return fence ? { seq, alert, fence } : { seq, alert };
      });
      const last = this.#lastSeq + builds.length;
      try {
        await this.#db.batch([
          ...entries.map((entry) => ({ type: 'put' as const, key: seqKey(entry.seq), value: storeEntry(entry) })),
          { type: 'put', key: SEQ_KEY, value: String(last) },
        ], { sync: this.#sync });
      } catch (err) {
        throw new AlertError('ALERT_OUTBOX_IO', `the alert outbox failed to write: ${(err as Error).message}`, { cause: err });
      }
      this.#lastSeq = last;
      this.#depth += entries.length;
      return entries;
    };
    const p = this.#tail.then(run, run);
    this.#tail = p.catch(() => undefined);
    return p;
  }

  /**
   * Deletes an entry once the server has acked it. Deletes arriving in the same turn of the event loop go to
   * RocksDB as one batch: acks come in bursts, and one write per burst halves the outbox's share of the work.
   */
  remove(seq: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#toDelete.push(seq);
    if (this.#deleting === null) {
      this.#deleting = new Promise<void>((resolve, reject) => {
        setImmediate(() => {
          const seqs = this.#toDelete;
          this.#toDelete = [];
          this.#deleting = null;
          const p = this.#db.batch(seqs.map((s) => ({ type: 'del' as const, key: seqKey(s) })), { sync: this.#sync })
            .then(() => { this.#depth -= seqs.length; });
          this.#removing.add(p);
          p.then(resolve, reject).finally(() => this.#removing.delete(p));
        });
      });
    }
    return this.#deleting;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Let writes under way finish: closing RocksDB under them would fail them, and a lost delete means a
    // needless (de-duplicated) republish next time.
    await this.#tail;
    if (this.#deleting !== null) await this.#deleting.catch(() => undefined);
    await Promise.allSettled([...this.#removing]);
    await this.#db.close();
  }
}
