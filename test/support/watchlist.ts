/** Shared pieces of the watch-list tests: real photos, a many-faces and a no-face image, alarms to record. */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import type { WatchlistAlarmV1 } from '../../common/alarm-schemas.js';
import { mediaPath } from '../../common/paths.js';

export const astronautPng = (): Promise<Buffer> => readFile(mediaPath('astronaut.png'));
export const messiJpg = (): Promise<Buffer> => readFile(mediaPath('messi5.jpg'));

/** astronaut.png and messi5.jpg's face side by side: two faces in one photo. */
export async function twoFacesPng(): Promise<Buffer> {
  const a = await sharp(await astronautPng()).removeAlpha().resize(400, 400).png().toBuffer();
  const m = await sharp(await messiJpg()).resize(640, 400, { fit: 'contain', background: { r: 0, g: 0, b: 0 } }).png().toBuffer();
  return sharp({ create: { width: 1040, height: 400, channels: 3, background: { r: 0, g: 0, b: 0 } } })
    .composite([{ input: a, left: 0, top: 0 }, { input: m, left: 400, top: 0 }]).png().toBuffer();
}

/** A plain gradient: decodes fine, holds no face. */
export async function gradientPng(w = 320, h = 240): Promise<Buffer> {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = (y * w + x) * 3;
    px[i] = Math.round((255 * x) / w); px[i + 1] = Math.round((255 * y) / h); px[i + 2] = 128;
  }
  return sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

let seq = 0;
/** A face watch-list alarm as the live path would hand it to recordAlarm. */
export function watchAlarm(o: { list: string; entry: string; department: string; at: number; camera?: string; id?: string; entryKind?: 'face' | 'plate' }): WatchlistAlarmV1 {
  seq++;
  // Ids are free text: one with '!' (the store's key separator) must round-trip too.
  const id = o.id ?? `alarm!${o.at}-${seq}`;
  const camera = o.camera ?? 'cam-ps-1';
  return {
    schemaVersion: 1, id, messageId: `node-1:watchlist:${id}`, seq, district: 'shinan', camera, department: o.department, location: null,
    track: `${camera}:${seq}:${o.at - 2000}`, at: o.at, emittedAt: o.at, publishedAt: null, snapshotRef: `/api/v1/alarms/${id}/snapshot`, node: 'node-1',
    kind: 'watchlist', list: o.list, entry: o.entry, entryKind: o.entryKind ?? 'face', similarity: o.entryKind === 'plate' ? null : 0.9, threshold: o.entryKind === 'plate' ? null : 0.6,
    plate: null, plateEdits: null, firstSeenAt: o.at - 2000, matchedFrameAt: o.at - 500,
  };
}

export const JPEG_BYTES = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 9, 9, 9, 0xff, 0xd9]);
