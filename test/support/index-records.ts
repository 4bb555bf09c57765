/** Shared helpers for the search-index tests: temp dirs, deterministic records, random unit vectors. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ObjectClass, TrackRecord } from '../../common/messages.js';

export function tempDir(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `cvcore-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }) };
}

/** A small deterministic PRNG (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function unitVector(rand: () => number, d: number): Float32Array {
  const v = new Float32Array(d);
  let s = 0;
  for (let i = 0; i < d; i++) {
    // Box-Muller: Gaussian components give directions uniform on the sphere.
    const g = Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
    v[i] = g;
    s += g * g;
  }
  const n = Math.sqrt(s);
  for (let i = 0; i < d; i++) v[i] = v[i]! / n;
  return v;
}

export interface RecordSpec {
  id?: string;
  cameraId?: string;
  department?: string;
  district?: string;
  cls?: ObjectClass;
  start?: number;
  end?: number;
  attributes?: Record<string, string | number>;
  thumbnail?: Uint8Array | null;
  embedding?: Float32Array | null;
}

let n = 0;
export function makeRecord(spec: RecordSpec = {}): TrackRecord {
  const cameraId = spec.cameraId ?? 'cam-1';
  const start = spec.start ?? 1_700_000_000_000 + n * 1000;
  const trackId = n++;
  return {
    id: spec.id ?? `${cameraId}:${trackId}:${start}`,
    cameraId,
    department: spec.department ?? 'police',
    district: spec.district ?? 'shinan',
    cls: spec.cls ?? 'car',
    start,
    end: spec.end ?? start + 5000,
    hits: 10,
    score: 0.9,
    box: { x: 10, y: 20, w: 30, h: 40 },
    attributes: spec.attributes ?? {},
    thumbnail: spec.thumbnail === undefined ? null : spec.thumbnail,
    embedding: spec.embedding === undefined ? null : spec.embedding,
  };
}
