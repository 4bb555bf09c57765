/**
 * Vehicle crops kept per live track of one camera for the plate reader, which votes across them at track end.
 * Crops come from frames where the vehicle was detected (not predicted), at least PLATE_CROP_MIN_GAP frames
 * apart, larger boxes replacing smaller ones; each is the lower part of the box (without its top
 * PLATE_CROP_SKIP_TOP, where no plate is) plus PLATE_CROP_MARGIN per side, scaled down to at most
 * PLATE_CROP_MAX_PIXELS. Bounds: a crop is at most 640 x 1024 x 3 = 1.9 MiB, a track at most 4 crops (7.5 MiB), a
 * camera at most PLATE_CROP_BYTES_PER_CAMERA (48 MiB) over all its live tracks; past that a track keeps what it
 * has (and with none the plate is read from the best shot). Typical crops are far smaller: a car 400 px wide
 * gives about 440 x 190 x 3 = 250 KiB.
 */
import type { Frame, TrackUpdate } from '../common/messages.js';
import { PLATE_CLASSES, cutVehicleCrop, type VehicleCrop } from '../inference/index.js';

export const PLATE_CROPS_PER_TRACK = 4;
export const PLATE_CROP_MIN_GAP = 5;
export const PLATE_CROP_MARGIN = 0.06;
export const PLATE_CROP_SKIP_TOP = 0.35;
export const PLATE_CROP_MAX_PIXELS = 640 * 1024;
export const PLATE_CROP_BYTES_PER_CAMERA = 48 * 1024 * 1024;
/** A kept crop is replaced only by a box this much larger (area), so near-equal boxes do not churn copies. */
const PLATE_CROP_GROWTH = 1.15;

interface Kept { readonly crops: (VehicleCrop & { readonly area: number })[]; lastSeq: number }

export class PlateCrops {
  readonly #tracks = new Map<number, Kept>();
  #bytes = 0;
  readonly #budget: number;

  constructor(budget: number = PLATE_CROP_BYTES_PER_CAMERA) { this.#budget = budget; }

  /** Bytes held over all tracks (never above the budget). */
  get bytes(): number { return this.#bytes; }
  get tracks(): number { return this.#tracks.size; }

  /**
   * Keeps a crop of a vehicle when this frame's box is a real detection and beats a kept one. Costs a comparison
   * per vehicle per frame; pixels are copied only when a crop is added or replaced.
   */
  offer(u: TrackUpdate, frame: Frame): void {
    if (!PLATE_CLASSES.includes(u.cls) || u.lastSeen !== u.at || u.state === 'lost') return;
    let kept = this.#tracks.get(u.trackId);
    if (kept && frame.seq - kept.lastSeq < PLATE_CROP_MIN_GAP) return;
    const area = u.box.w * u.box.h;
    let replace = -1;
    if (kept && kept.crops.length >= PLATE_CROPS_PER_TRACK) {
      replace = 0;
      for (let i = 1; i < kept.crops.length; i++) if (kept.crops[i]!.area < kept.crops[replace]!.area) replace = i;
      if (area < kept.crops[replace]!.area * PLATE_CROP_GROWTH) return;
    }
    // Upper bound of the crop's size, checked before any copy.
    const pixels = Math.min(PLATE_CROP_MAX_PIXELS, (u.box.w * (1 + 2 * PLATE_CROP_MARGIN) + 2) * (u.box.h * (1 - PLATE_CROP_SKIP_TOP + 2 * PLATE_CROP_MARGIN) + 2));
    const freed = replace >= 0 ? kept!.crops[replace]!.data.byteLength : 0;
    if (this.#bytes - freed + pixels * 3 > this.#budget) return;
    const img = cutVehicleCrop(frame, u.box, PLATE_CROP_MARGIN, PLATE_CROP_MAX_PIXELS, PLATE_CROP_SKIP_TOP);
    const crop = { data: img.data, width: img.width, height: img.height, at: frame.capturedAt, area };
    if (!kept) { kept = { crops: [], lastSeq: frame.seq }; this.#tracks.set(u.trackId, kept); }
    if (replace >= 0) kept.crops[replace] = crop; else kept.crops.push(crop);
    kept.lastSeq = frame.seq;
    this.#bytes += crop.data.byteLength - freed;
  }

  /** Removes a track's crops and hands them over, largest first (track end). */
  take(trackId: number): VehicleCrop[] {
    const kept = this.#tracks.get(trackId);
    if (!kept) return [];
    this.#tracks.delete(trackId);
    for (const c of kept.crops) this.#bytes -= c.data.byteLength;
    return [...kept.crops].sort((a, b) => b.area - a.area).map(({ data, width, height, at }) => ({ data, width, height, at }));
  }

  /** Frees the crops of every track not in `live` (tracks that died before they confirmed get no end event). */
  retain(live: ReadonlySet<number>): void {
    for (const id of [...this.#tracks.keys()]) if (!live.has(id)) this.take(id);
  }
}
