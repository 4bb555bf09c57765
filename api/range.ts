/** HTTP Range requests of the file routes (clips, export downloads): one range of bytes. */

/** Parses `Range: bytes=a-b` (one range; a-, -n forms). null: no usable Range (the whole file is sent). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  // Several ranges, or another unit: a server may answer with the whole file (RFC 9110 14.2).
  if (!m) return header.includes(',') || !header.trim().startsWith('bytes=') ? null : 'unsatisfiable';
  const [, a, b] = m;
  if (a === '' && b === '') return 'unsatisfiable';
  let start: number;
  let end: number;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
    if (b !== '' && Number(b) < start) return 'unsatisfiable';
  }
  if (start >= size || size === 0) return 'unsatisfiable';
  return { start, end };
}
