/**
 * Whether a footage file made at set-up is current: the video exists and its truth file carries the generator's
 * version. The plate and face cameras' set-up steps (footage-cli.ts, faces-cli.ts) ask the same question.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function footageCurrent(dir: string, files: { readonly video: string; readonly truth: string }, version: unknown): boolean {
  try {
    if (!existsSync(join(dir, files.video))) return false;
    const truth = JSON.parse(readFileSync(join(dir, files.truth), 'utf8')) as { version?: unknown };
    return truth.version === version;
  } catch {
    return false;
  }
}
