/**
 * The vehicle crops a camera keeps for the plate reader: only real detections of plate-carrying vehicles, a few
 * frames apart, at most four per track with larger boxes replacing smaller ones, handed over largest first at
 * track end, freed when a track dies unconfirmed, and never more bytes than the camera's budget.
 */
import test from 'ava';
import type { Box, Frame, ObjectClass, TrackUpdate } from '../common/messages.js';
import { PLATE_CROPS_PER_TRACK, PLATE_CROP_MIN_GAP, PlateCrops } from '../runtime/plate-crops.js';

const W = 640, H = 360;
const frame = (seq: number): Frame => ({ cameraId: 'c', seq, pts: seq / 25, capturedAt: 1000 + seq * 40, width: W, height: H, data: new Uint8Array(W * H * 3).fill(seq % 251) });
const update = (trackId: number, seq: number, box: Box, o: { cls?: ObjectClass; predicted?: boolean; lost?: boolean } = {}): TrackUpdate => {
  const at = 1000 + seq * 40;
  return { cameraId: 'c', trackId, cls: o.cls ?? 'car', box, velocity: { vx: 0, vy: 0 }, score: 0.8, age: seq, state: o.lost ? 'lost' : 'confirmed', at, lastSeen: o.predicted || o.lost ? at - 40 : at, bestShot: false };
};
const box = (w: number): Box => ({ x: 10, y: 10, w, h: w * 0.6 });

test('plates - crops come from real detections of plate-carrying vehicles, a few frames apart', (t) => {
  const c = new PlateCrops();
  c.offer(update(1, 0, box(100), { cls: 'bicycle' }), frame(0));
  c.offer(update(2, 0, box(100), { cls: 'person' }), frame(0));
  c.offer(update(3, 0, box(100), { predicted: true }), frame(0));
  c.offer(update(3, 1, box(100), { lost: true }), frame(1));
  t.is(c.tracks, 0);
  c.offer(update(3, 2, box(100)), frame(2));
  c.offer(update(3, 2 + PLATE_CROP_MIN_GAP - 1, box(120)), frame(2 + PLATE_CROP_MIN_GAP - 1));
  const taken = c.take(3);
  t.is(taken.length, 1);
  t.is(c.bytes, 0);
  // The lower part of the box (plus a margin): wider than tall for a car.
  t.true(taken[0]!.width > taken[0]!.height);
  t.is(taken[0]!.data.length, taken[0]!.width * taken[0]!.height * 3);
  t.true(taken[0]!.data.buffer instanceof SharedArrayBuffer);
});

test('plates - a track keeps at most four crops, larger ones replacing the smallest, handed over largest first', (t) => {
  const c = new PlateCrops();
  const widths = [100, 80, 140, 90, 200, 60, 120];
  widths.forEach((w, i) => c.offer(update(7, i * PLATE_CROP_MIN_GAP, box(w)), frame(i * PLATE_CROP_MIN_GAP)));
  const taken = c.take(7);
  t.is(taken.length, PLATE_CROPS_PER_TRACK);
  const sizes = taken.map((k) => k.width);
  t.deepEqual(sizes, [...sizes].sort((a, b) => b - a));
  // 200, 140, 120 and 100 kept; 60, 80 and 90 dropped or replaced.
  t.true(Math.min(...sizes) >= 100);
  t.deepEqual(c.take(7), []);
});

test('plates - crops of tracks that died unconfirmed are freed, and the camera budget bounds the bytes', (t) => {
  const c = new PlateCrops();
  c.offer(update(1, 0, box(100)), frame(0));
  c.offer(update(2, 0, box(100)), frame(0));
  t.is(c.tracks, 2);
  c.retain(new Set([2]));
  t.is(c.tracks, 1);
  t.true(c.bytes > 0);
  c.retain(new Set());
  t.is(c.bytes, 0);
  const small = new PlateCrops(200 * 1024);
  for (let id = 0; id < 20; id++) small.offer(update(id, 0, box(200)), frame(0));
  t.true(small.bytes <= 200 * 1024, `${small.bytes}`);
  t.true(small.tracks >= 1 && small.tracks < 20);
});
