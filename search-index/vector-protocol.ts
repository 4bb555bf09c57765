/** Messages between FaceVectors (vectors.ts) and the graph's thread (vector-worker.ts). */
import type { DataKeyFile } from '../common/data-key.js';
import type { FaceFilter } from './record.js';

export const HNSW = {
  /** Graph degree and build/search beam widths; measured in test/index-ann-recall.test.ts and bench/index.ts. */
  connectivity: 16,
  expansionAdd: 128,
  expansionSearch: 256,
} as const;

export type VectorMessage =
  | { op: 'add'; seqs: number[]; rows: ArrayBuffer }
  | { op: 'remove'; seqs: number[] }
  | { op: 'search'; id: number; query: ArrayBuffer; count: number }
  | { op: 'nearest'; id: number; query: ArrayBuffer; k: number; filter: FaceFilter; maxFetch: number }
  /** Overwrites every freed graph slot (erasure): see vector-worker.ts `scrub`. */
  | { op: 'scrub'; id: number }
  | { op: 'settle'; id: number }
  | { op: 'hold'; ms: number }
  /** The data key ring again, after a reload (a rotation): the face entries the thread reads are sealed. */
  | { op: 'keys'; keys: DataKeyFile | null }
  | { op: 'close' };

export interface VectorReply {
  id?: number;
  opened?: true;
  after?: number;
  warnings?: string[];
  hits?: Array<{ seq: number; similarity: number }>;
  /** nearest: [record id, exact similarity], best first; complete false when maxFetch nominees held fewer than k. */
  matches?: Array<[string, number]>;
  complete?: boolean;
  /** Faces in the tail (not yet in the graph), and in the graph, as of this reply. */
  backlog?: number;
  graph?: number;
  /** scrub: freed slots overwritten. */
  scrubbed?: number;
  error?: string;
}
