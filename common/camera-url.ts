/**
 * Which camera URLs the core opens. A camera URL reaches ffmpeg, which can open far more than cameras (local
 * files, `concat:` and `subfile:` over them, HTTP inside the network through a playlist), so a URL must use a
 * scheme of an explicit allow-list (`ingest.urlSchemes`, default rtsp and rtsps). Local files are for the
 * machine's operator only: the config file may allow them (`ingest.allowLocalFiles`, for benchmarks and tests),
 * the API never does. ffmpeg itself runs with a protocol whitelist per scheme (`protocolWhitelist`), so nothing a
 * stream or a server sends back can lead it to another protocol.
 */
import { ConfigError } from './errors.js';

/** Schemes a deployment may allow; anything else is refused whatever the config says. */
export const CAMERA_URL_SCHEMES = ['rtsp', 'rtsps', 'rtmp', 'rtmps', 'http', 'https', 'srt'] as const;
export type CameraUrlScheme = (typeof CAMERA_URL_SCHEMES)[number];

export interface CameraUrlPolicy {
  readonly schemes: readonly string[];
  /** A local path (or file: URL) is allowed: only from the config file, never through the API. */
  readonly allowFiles: boolean;
}

export const DEFAULT_URL_POLICY: CameraUrlPolicy = Object.freeze({ schemes: Object.freeze(['rtsp', 'rtsps']), allowFiles: false });

/** The protocols ffmpeg may open for a URL of each scheme (the sub-protocols it needs and nothing more). */
const WHITELISTS: Readonly<Record<CameraUrlScheme | 'file', string>> = {
  rtsp: 'rtsp,rtsps,rtp,srtp,udp,tcp,tls',
  rtsps: 'rtsp,rtsps,rtp,srtp,udp,tcp,tls',
  rtmp: 'rtmp,rtmps,tcp,tls',
  rtmps: 'rtmp,rtmps,tcp,tls',
  // An HLS playlist over HTTP may name only further HTTP(S) resources, never file: or another protocol.
  http: 'http,https,tcp,tls,crypto',
  https: 'http,https,tcp,tls,crypto',
  srt: 'srt,udp',
  file: 'file',
};

/** The URL's scheme in lower case, 'file' for a local path or file: URL, or null for a scheme-like prefix ffmpeg knows but is not a URL (concat:, subfile:). */
export function urlScheme(url: string): string {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url);
  if (!m) return 'file';
  const s = m[1]!.toLowerCase();
  // A Windows-style drive letter is not a scheme, but no such path belongs on this Linux core either.
  return s;
}

/** Throws CONFIG_URL_REFUSED naming `path` when the policy does not allow the URL. */
export function checkCameraUrl(url: string, policy: CameraUrlPolicy, path: string): void {
  const scheme = urlScheme(url);
  const refuse = (why: string): never => {
    throw new ConfigError('CONFIG_URL_REFUSED', `${path}: ${why}`, { detail: { path, scheme } });
  };
  if (/[\s\u0000-\u001f]/.test(url)) refuse('a camera URL may not contain spaces or control characters');
  if (scheme === 'file') {
    if (!policy.allowFiles) refuse(`local files are not cameras; use ${policy.schemes.map((s) => `${s}://`).join(' or ')} (the config file may allow files with ingest.allowLocalFiles, the API never does)`);
    return;
  }
  if (!(CAMERA_URL_SCHEMES as readonly string[]).includes(scheme)) refuse(`"${scheme}:" is not a camera protocol (allowed: ${policy.schemes.join(', ')})`);
  if (!policy.schemes.includes(scheme)) refuse(`"${scheme}://" is not allowed on this core (ingest.urlSchemes: ${policy.schemes.join(', ')})`);
  let host = '';
  try { host = new URL(url).hostname; } catch { refuse('not a valid URL'); }
  if (!host) refuse('a camera URL needs a host');
}

/** ffmpeg's -protocol_whitelist for a URL already checked by `checkCameraUrl` (or a local file a benchmark reads). */
export function protocolWhitelist(url: string): string {
  const scheme = urlScheme(url);
  return WHITELISTS[scheme as CameraUrlScheme | 'file'] ?? WHITELISTS.rtsp;
}
