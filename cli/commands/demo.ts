import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createLogger } from '../../common/log.js';
import { CACHE_DIR } from '../../common/paths.js';
import { DEMO_FACE_CAMERA, DEMO_FPS, DEMO_PLATE_CAMERA, DEMO_THRESHOLD, demoConfig, startDemoCameras, startStack, type Stack } from '../../runtime/index.js';
import type { SimulatedCameraPool } from '../../ingest/index.js';
import type { Command } from '../command.js';
import { reportError, runUntilSignal } from '../run.js';

/**
 * A plate of the demo footage's truth file for the printed example search: the first whose pass does not start
 * on the loop's first frame (a pass there begins while the pipeline warms up, and at every loop's seam); null
 * when the file is unreadable.
 */
function footagePlate(): string | null {
  try {
    const truth = JSON.parse(readFileSync(join(CACHE_DIR, 'media', 'plates.json'), 'utf8')) as { vehicles?: { plate?: unknown; firstFrame?: unknown }[] };
    const p = truth.vehicles?.find((v) => typeof v.plate === 'string' && typeof v.firstFrame === 'number' && v.firstFrame > 0)?.plate;
    return typeof p === 'string' ? p : null;
  } catch {
    return null;
  }
}

export function printStarted(stack: Stack, sim: SimulatedCameraPool | null): void {
  const out = (s = ''): boolean => process.stdout.write(s + '\n');
  const cams = stack.pipeline.cameras.list();
  out('cvcore is running');
  out(`  NATS          ${stack.natsUrl}${stack.nats ? ' (embedded nats-server from nats.conf, JetStream on)' : ''}`);
  const extra = [cams.some((c) => c.id === DEMO_PLATE_CAMERA.id) ? 'plates.mp4' : null, cams.some((c) => c.id === DEMO_FACE_CAMERA.id) ? 'faces.mp4' : null].filter((x) => x !== null);
  if (sim) out(`  camera pool   RTSP server on 127.0.0.1:${sim.clientPort}, ffmpeg publishers looping vtest.avi${extra.length > 0 ? ` and ${extra.join(' and ')}` : ''}`);
  for (const c of cams) out(`  camera        ${c.id}  ${c.url}  zones: ${c.zones.map((z) => z.id).join(', ') || '-'}`);
  out(`  HTTP API      ${stack.apiUrl}  (health: ${stack.apiUrl}/health, OpenAPI: ${stack.apiUrl}/api/v1/openapi.json)`);
  out(`  web console   ${stack.apiUrl}/console/  (sign in with a demo token below)`);
  out('');
  out('Follow every alarm kind (crowd, watchlist, frequency, stranger):');
  out(`  npx cvcore alerts tail --url ${stack.natsUrl}`);
  out('Search person records (demo tokens: demo-investigator-ps, demo-investigator-traffic, demo-operator, demo-admin):');
  out(`  curl -H 'Authorization: Bearer demo-investigator-ps' '${stack.apiUrl}/api/v1/search?class=person${cams[0] ? `&camera=${cams[0].id}` : ''}'`);
  out(`  npx cvcore search --api ${stack.apiUrl} --token demo-investigator-ps --class person`);
  if (cams.some((c) => c.id === DEMO_PLATE_CAMERA.id)) {
    // cam-plates belongs to the traffic department: only its investigator token sees those plates.
    const example = footagePlate();
    out(`Search plates seen by ${DEMO_PLATE_CAMERA.id} (its vehicles and their plates are in ${join(CACHE_DIR, 'media', 'plates.json')}):`);
    out(`  npx cvcore search --api ${stack.apiUrl} --token demo-investigator-traffic --class car${example ? ` --plate '*${example.slice(-4)}'` : ''}`);
  }
  if (cams.some((c) => c.id === DEMO_FACE_CAMERA.id)) {
    // cam-faces belongs to public-security: a face list of that department is matched against it.
    const photo = join(CACHE_DIR, 'media', 'astronaut.png');
    out(`Live watch-list alarms on ${DEMO_FACE_CAMERA.id} (the astronaut comes on camera every 16 s): put her on a public-security face list`);
    out(`  in the console: ${stack.apiUrl}/console/  (token demo-investigator-ps) -> Watch-lists -> new face list -> add entry -> upload ${photo}`);
    out(`  or: npx cvcore watchlist create --api ${stack.apiUrl} --token demo-investigator-ps --name wanted --department ${DEMO_FACE_CAMERA.department} --kind face`);
    out(`      npx cvcore watchlist add-face <list id> --api ${stack.apiUrl} --token demo-investigator-ps --label astronaut --photo ${photo}`);
    out(`  or: curl -H 'Authorization: Bearer demo-investigator-ps' -F label=astronaut -F photo=@${photo} '${stack.apiUrl}/api/v1/watchlists/<list id>/entries'`);
    out(`  then her next appearance arrives at the alerts tail above (npx cvcore alerts tail --kind watchlist for those alone)`);
  }
  out('Ctrl-C stops everything.');
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'the embedded default: own nats-server, simulated cameras from vtest.avi, a plate camera and a face camera, the whole pipeline',
  usage: 'cvcore demo [--cameras N] [--port HTTP_PORT] [--data-dir DIR] [--fps F] [--threshold N] [--no-plate-camera] [--no-face-camera]',
  async run(args) {
    let sim: SimulatedCameraPool | null = null;
    try {
      const { values } = parseArgs({
        args, strict: true,
        options: {
          cameras: { type: 'string', default: '2' },
          port: { type: 'string', default: '8080' },
          'data-dir': { type: 'string', default: resolve(CACHE_DIR, 'demo-data') },
          fps: { type: 'string', default: String(DEMO_FPS) },
          threshold: { type: 'string', default: String(DEMO_THRESHOLD) },
          // The plate camera (cam-plates looping plates.mp4) comes on top of the --cameras vtest cameras.
          'no-plate-camera': { type: 'boolean', default: false },
          // The face camera (cam-faces looping faces.mp4) for the live watch-list alarms.
          'no-face-camera': { type: 'boolean', default: false },
        },
      });
      const n = Number(values.cameras);
      if (!Number.isInteger(n) || n < 1 || n > 64) throw new RangeError('--cameras must be an integer from 1 to 64');
      const log = createLogger();
      const plateCamera = !values['no-plate-camera'];
      const faceCamera = !values['no-face-camera'];
      sim = await startDemoCameras(n, { plateCamera, faceCamera });
      const config = demoConfig(sim, { cameras: n, dataDir: values['data-dir'], apiPort: Number(values.port), fps: Number(values.fps), threshold: Number(values.threshold), plateCamera, faceCamera });
      const stack = await startStack({ config, log });
      printStarted(stack, sim);
      const s = sim;
      return await runUntilSignal(async () => { await stack.stop(); await s.stop(); });
    } catch (err) {
      await sim?.stop();
      return reportError(err);
    }
  },
};
