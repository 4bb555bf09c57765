/**
 * Turning centernet's raw output into detections: class filter, per-class score threshold, per-class NMS,
 * and boxes scaled from the model's input square back to the source frame's pixels. Pure functions, so the
 * batch path and the frame-by-frame path give the same answer and the micro-benchmarks can time them.
 */
import { OBJECT_CLASSES, type Box, type Detection, type ObjectClass } from '../common/messages.js';

export interface DecodeOptions {
  readonly minScore: number;
  readonly iouThreshold: number;
  readonly classes: readonly ObjectClass[];
  /** Per-class minimum scores overriding minScore. */
  readonly classMinScore?: Partial<Record<ObjectClass, number>>;
}

/** A part of the frame (frame pixels) that was resized to an iw x ih input. */
export interface InputRegion extends Box { readonly iw: number; readonly ih: number }

export function iou(a: Box, b: Box): number {
  const x1 = Math.max(a.x, b.x);
  const y1 = Math.max(a.y, b.y);
  const x2 = Math.min(a.x + a.w, b.x + b.w);
  const y2 = Math.min(a.y + a.h, b.y + b.h);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  const union = a.w * a.h + b.w * b.h - inter;
  return union > 0 ? inter / union : 0;
}

/** Greedy NMS within each class; input order does not matter, output is by descending score. */
export function nms(dets: readonly Detection[], threshold: number): Detection[] {
  const sorted = [...dets].sort((a, b) => b.score - a.score);
  const kept: Detection[] = [];
  for (const d of sorted) {
    if (kept.every((k) => k.cls !== d.cls || iou(k.box, d.box) < threshold)) kept.push(d);
  }
  return kept;
}

/**
 * rows: the [N, 6] detections of one frame (x1, y1, x2, y2 in input pixels, score, COCO class index),
 * flattened. labels: the manifest's COCO labels.
 */
export function decodeCenternet(rows: Float32Array | readonly number[], labels: readonly string[], inputSize: number, frameW: number, frameH: number, o: DecodeOptions, region?: InputRegion): Detection[] {
  // The input is the whole frame resized to inputSize square, or (region) a part of it resized to iw x ih.
  const sx = region ? region.w / region.iw : frameW / inputSize;
  const sy = region ? region.h / region.ih : frameH / inputSize;
  const ox = region?.x ?? 0;
  const oy = region?.y ?? 0;
  const out: Detection[] = [];
  for (let i = 0; i + 5 < rows.length; i += 6) {
    const score = rows[i + 4]!;
    const label = labels[rows[i + 5]!];
    if (label === undefined || !(OBJECT_CLASSES as readonly string[]).includes(label)) continue;
    const cls = label as ObjectClass;
    if (!o.classes.includes(cls)) continue;
    if (score < (o.classMinScore?.[cls] ?? o.minScore)) continue;
    const x1 = Math.max(0, ox + rows[i]! * sx);
    const y1 = Math.max(0, oy + rows[i + 1]! * sy);
    const x2 = Math.min(frameW, ox + rows[i + 2]! * sx);
    const y2 = Math.min(frameH, oy + rows[i + 3]! * sy);
    if (x2 <= x1 || y2 <= y1) continue;
    out.push({ box: { x: x1, y: y1, w: x2 - x1, h: y2 - y1 }, score, cls });
  }
  return nms(out, o.iouThreshold);
}
