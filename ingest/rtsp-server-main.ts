/**
 * Entry point of the RTSP server child process (rtsp-streaming-server): publishers ANNOUNCE on one port,
 * cameras are read on the other. It runs as its own process so the pool can always stop it with a signal.
 * argv: <publishPort> <clientPort> <rtpPortStart> <rtpPortCount>
 */
import { createRequire } from 'node:module';

// The package is CommonJS with its class on `default`.
const RtspServer = (createRequire(import.meta.url)('rtsp-streaming-server') as typeof import('rtsp-streaming-server')).default;

const [serverPort, clientPort, rtpPortStart, rtpPortCount] = process.argv.slice(2).map(Number);
const server = new RtspServer({
  serverPort: serverPort ?? 5554,
  clientPort: clientPort ?? 6554,
  rtpPortStart: rtpPortStart ?? 10000,
  rtpPortCount: rtpPortCount ?? 1000,
});
server.start().then(
  () => process.stdout.write('ready\n'),
  (err: unknown) => { process.stderr.write(`rtsp server failed: ${String(err)}\n`); process.exit(1); },
);
process.on('SIGTERM', () => process.exit(0));
