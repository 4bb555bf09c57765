/**
 * Initialises the webgpu backend in its own process (Dawn reads the Vulkan env at start) and writes what
 * happened as the last line of stdout. Usage: node webgpu-init-child.js '<options json>'
 */
import { configureWebgpu, describeAdapter, shutdownWebgpu, webgpuBackend } from '../../inference/webgpu-backend.js';

try {
  configureWebgpu(JSON.parse(process.argv[2] ?? '{}') as Parameters<typeof configureWebgpu>[0]);
  await webgpuBackend.init();
  process.stdout.write(`\n${JSON.stringify({ ok: true, adapter: describeAdapter() })}\n`);
  shutdownWebgpu();
} catch (err) {
  const e = err as { code?: string; message?: string; detail?: unknown };
  process.stdout.write(`\n${JSON.stringify({ ok: false, code: e.code, message: e.message, detail: e.detail })}\n`);
}
