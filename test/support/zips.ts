/**
 * Zip surgery for the evidence tests: a real MP4 made by ffmpeg, a zip rewritten with entries changed, removed
 * or added (yauzl in, yazl out), and one byte of an entry's stored data flipped in place.
 */
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { promisify } from 'node:util';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import yazl from 'yazl';

const run = promisify(execFile);

/** A real H.264 MP4 of `seconds` of ffmpeg's test pattern (small: 160x120, 10 fps). */
export async function makeMp4(path: string, seconds = 3): Promise<void> {
  await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc=size=160x120:rate=10:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', path]);
}

/** Every entry's bytes (test zips are small). */
export async function readZip(path: string): Promise<Map<string, Buffer>> {
  const zip = await yauzl.openPromise(path, { lazyEntries: true });
  const out = new Map<string, Buffer>();
  for await (const entry of zip.eachEntry()) {
    const chunks: Buffer[] = [];
    for await (const c of await zip.openReadStreamPromise(entry) as AsyncIterable<Buffer>) chunks.push(c);
    out.set(entry.fileName, Buffer.concat(chunks));
  }
  return out;
}

/**
 * Writes `dst` from `src` with each entry passed through `edit` (a Buffer: the new bytes; null: left out), then
 * `add` appended.
 */
export async function rewriteZip(src: string, dst: string, edit: (name: string, data: Buffer) => Buffer | null, add: Record<string, Buffer> = {}): Promise<void> {
  const entries = await readZip(src);
  const zip = new yazl.ZipFile();
  for (const [name, data] of entries) {
    const next = edit(name, data);
    if (next) zip.addBuffer(next, name);
  }
  for (const [name, data] of Object.entries(add)) zip.addBuffer(data, name);
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(dst));
}

/** Flips one byte of an entry's stored data in place (the entry must be stored, not deflated, to change its content). */
export async function flipStoredByte(path: string, entryName: string, offset: number): Promise<void> {
  const zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false });
  let at: number | null = null;
  let method = -1;
  try {
    for await (const entry of zip.eachEntry()) {
      if (entry.fileName !== entryName) continue;
      const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
      if (offset >= entry.compressedSize) throw new Error(`${entryName} has ${entry.compressedSize} stored bytes`);
      at = fileDataStart + offset;
      method = entry.compressionMethod;
    }
  } finally {
    zip.close();
  }
  if (at === null) throw new Error(`no entry ${entryName}`);
  if (method !== 0) throw new Error(`${entryName} is compressed (method ${method}); flip a stored entry`);
  const fh = await open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, at);
  } finally {
    await fh.close();
  }
}
