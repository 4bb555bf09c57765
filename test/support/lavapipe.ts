/**
 * Helpers for the webgpu tests: the environment that points Dawn at the private lavapipe from
 * scripts/setup-vulkan.sh, and sample frames. Dawn reads these variables when it creates its Vulkan
 * instance, and the dynamic loader reads LD_LIBRARY_PATH only at process start, so GPU work runs in a child
 * process started with this environment rather than in the test process.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, mediaPath } from '../../common/paths.js';

export const VULKAN_DIR = join(CACHE_DIR, 'vulkan');

/** The env for a child process that must use lavapipe; null (with the reason) when the set-up has not run. */
export function lavapipeEnv(): { env: NodeJS.ProcessEnv } | { missing: string } {
  const icd = join(VULKAN_DIR, 'lvp_icd.json');
  const lib = join(VULKAN_DIR, 'root/usr/lib/x86_64-linux-gnu');
  if (!existsSync(icd) || !existsSync(join(lib, 'libvulkan_lvp.so'))) return { missing: `${icd} is absent: run scripts/setup-vulkan.sh (npm test runs it as part of the set-up)` };
  const xdg = join(VULKAN_DIR, 'xdg');
  const shaders = join(VULKAN_DIR, 'shader-cache');
  mkdirSync(xdg, { recursive: true });
  chmodSync(xdg, 0o700);
  mkdirSync(shaders, { recursive: true });
  return {
    env: {
      ...process.env,
      VK_DRIVER_FILES: icd,
      LD_LIBRARY_PATH: [lib, process.env['LD_LIBRARY_PATH']].filter(Boolean).join(':'),
      XDG_RUNTIME_DIR: xdg,
      // Compiled shaders survive between runs: a warm cache cuts lavapipe's first batch from ~60-90 s to ~10-20 s.
      MESA_SHADER_CACHE_DIR: shaders,
    },
  };
}

/** `count` RGB frames of vtest.avi (768x576), a second apart, decoded by ffmpeg into one buffer. */
export function vtestFrames(count: number): { data: Uint8Array; width: number; height: number; count: number } {
  const width = 768;
  const height = 576;
  const r = spawnSync('ffmpeg', ['-loglevel', 'error', '-i', mediaPath('vtest.avi'), '-vf', 'fps=1', '-frames:v', String(count), '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr.toString()}`);
  const data = new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength);
  if (data.length !== width * height * 3 * count) throw new Error(`ffmpeg gave ${data.length} bytes for ${count} frames`);
  return { data, width, height, count };
}
