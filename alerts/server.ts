import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { SetupError, AlertError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { freePort, waitForPort } from '../common/net.js';
import { spawnTracked, stopChild, which } from '../common/proc.js';
import { createExclusive } from '../common/node-key.js';

/** The environment variable nats.conf and nats-cluster.conf read JetStream's encryption key from. */
export const JETSTREAM_KEY_ENV = 'CVCORE_JS_KEY';
/** Where the embedded server's key lives, relative to the data folder (beside the data key). */
export const JETSTREAM_KEY_FILE = join('keys', 'jetstream.key');

/**
 * The JetStream encryption key for a nats-server this process starts: $CVCORE_JS_KEY when the environment sets
 * it (a deployment), else the key file, made on first use (32 random bytes, base64, mode 0600, never replaced:
 * a new key would leave the store unreadable). Returns the environment to start nats-server with.
 */
export async function jetstreamKeyEnv(keyFile: string, env: NodeJS.ProcessEnv = process.env): Promise<NodeJS.ProcessEnv> {
  const given = env[JETSTREAM_KEY_ENV];
  if (given) return { ...env, [JETSTREAM_KEY_ENV]: natsConfigKey(given) };
  await mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });
  // 'k' and hex: nats-server reads the key through a config variable, as a value that must begin with a letter.
  await createExclusive(keyFile, `k${randomBytes(32).toString('hex')}\n`, 0o600);
  const key = (await readFile(keyFile, 'utf8')).trim();
  if (key.length < 32) throw new SetupError('SETUP_NATS_SERVER_MISSING', `${keyFile} holds no JetStream key (remove the empty file only if the store is new)`, { detail: { keyFile } });
  return { ...env, [JETSTREAM_KEY_ENV]: natsConfigKey(key) };
}

/**
 * The key as nats-server can read it from `key: $CVCORE_JS_KEY`: it parses the variable's value as a config value,
 * and one that begins with a digit (a base64 key made before, one time in four or so) is parsed as a number and
 * stops the server ("variable reference for 'CVCORE_JS_KEY' could not be parsed"). Such a key gets a letter in
 * front, the same every time; a server never started with it, so no store is sealed under the bare form.
 */
export function natsConfigKey(key: string): string {
  return /^[A-Za-z]/.test(key) ? key : `k${key}`;
}

export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface NatsServerOptions {
  /** Default: nats.conf at the repository root. */
  configPath?: string;
  /** Default: a free port. */
  port?: number;
  /** JetStream file store; passed as `-sd` so nats.conf stays free of machine paths. */
  storeDir: string;
  /**
   * The JetStream encryption key's file (jetstreamKeyEnv), unless $CVCORE_JS_KEY is set. Default: keys/jetstream.key
   * beside the store folder (`<dataDir>/keys/jetstream.key` for the core's `<dataDir>/nats`).
   */
  jetstreamKeyFile?: string;
  log?: Logger;
  /** How long to wait for the server to accept connections. */
  startTimeoutMs?: number;
}

/** Walks up from this module (dist/alerts or alerts) to the folder holding nats.conf. */
export function defaultNatsConfigPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = join(dir, 'nats.conf');
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  return resolve('nats.conf');
}

/**
 * Starts nats-server from the repo's nats.conf on `port` with its JetStream store in `storeDir`. The child is
 * tracked (common/proc.ts), so it dies with this process however it ends.
 */
export async function startNatsServer(options: NatsServerOptions): Promise<NatsServerHandle> {
  if (typeof options.storeDir !== 'string' || options.storeDir.length === 0) throw new TypeError('options.storeDir must be a non-empty string');
  if (options.port !== undefined && (!Number.isInteger(options.port) || options.port < 1 || options.port > 65_535)) {
    throw new RangeError('options.port must be an integer in 1..65535');
  }
  const bin = await which('nats-server');
  if (bin === null) {
    throw new SetupError('SETUP_NATS_SERVER_MISSING', 'nats-server is not installed (Debian: apt-get install nats-server; run the set-up script)');
  }
  const configPath = options.configPath ?? defaultNatsConfigPath();
  if (!existsSync(configPath)) throw new SetupError('SETUP_NATS_SERVER_MISSING', `nats-server config ${configPath} does not exist`, { detail: { configPath } });
  const port = options.port ?? (await freePort());
  await mkdir(options.storeDir, { recursive: true });
  const env = await jetstreamKeyEnv(options.jetstreamKeyFile ?? join(dirname(resolve(options.storeDir)), JETSTREAM_KEY_FILE));
  const child: ChildProcess = spawnTracked(bin, ['-c', configPath, '-p', String(port), '-sd', options.storeDir], { env });
  // Keep the tail of its log: when it refuses to start (bad config, port taken) that is the only explanation.
  let tail = '';
  const keep = (b: Buffer): void => { tail = (tail + b.toString()).slice(-4_000); };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code, signal) => reject(new AlertError('ALERT_NATS_UNREACHABLE',
      `nats-server exited during start (code ${code ?? 'null'}, signal ${signal ?? 'null'}): ${tail.trim().split('\n').slice(-3).join(' | ')}`,
      { detail: { port, configPath } })));
    child.once('error', (err) => reject(new SetupError('SETUP_NATS_SERVER_MISSING', `nats-server could not be started: ${err.message}`, { cause: err })));
  });
  exited.catch(() => undefined);
  try {
    await Promise.race([waitForPort(port, '127.0.0.1', options.startTimeoutMs ?? 10_000), exited]);
  } catch (err) {
    await stopChild(child, 500);
    throw err;
  }
  options.log?.info('nats-server started', { port, storeDir: options.storeDir, pid: child.pid });
  let stopping: Promise<void> | null = null;
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    stop: () => (stopping ??= stopChild(child, 3_000).then(() => { options.log?.info('nats-server stopped', { port }); })),
  };
}
