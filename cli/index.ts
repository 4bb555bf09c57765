/**
 * The `cvcore` command line: one program, one file per command under cli/commands/, each loaded only when it
 * runs (so `cvcore eval-mot` does not load tfjs or RocksDB).
 */
import type { Command } from './command.js';

interface Entry { readonly name: string; readonly summary: string; load(): Promise<Command> }

export const COMMANDS: readonly Entry[] = [
  { name: 'demo', summary: 'the embedded default: own nats-server, simulated cameras from vtest.avi, the whole pipeline', load: async () => (await import('./commands/demo.js')).demoCommand },
  { name: 'search', summary: 'search track records (attributes, or a face photo) through the HTTP API', load: async () => (await import('./commands/search.js')).searchCommand },
  { name: 'watchlist', summary: 'watch-lists (faces, plates) and their alarms: lists, entries, photos, ack and dismiss (through the HTTP API)', load: async () => (await import('./commands/watchlist.js')).watchlistCommand },
  { name: 'export', summary: 'evidence exports: verify a signed zip (offline), print the node key, create, list and download exports (through the HTTP API)', load: async () => (await import('./commands/export.js')).exportCommand },
  { name: 'recordings', summary: 'a camera\'s recorded segments and gaps, clips to a file, legal holds (through the HTTP API)', load: async () => (await import('./commands/recordings.js')).recordingsCommand },
  { name: 'erase', summary: 'erase one person\'s data (records, faces, frames, alarms, watch-list entries) by track ids or a face photo (admins, through the HTTP API)', load: async () => (await import('./commands/erase.js')).eraseCommand },
  { name: 'audit', summary: 'the tamper-evident audit trail: verify the hash chain and its signed checkpoints, export a range with its proofs, sign a checkpoint', load: async () => (await import('./commands/audit.js')).auditCommand },
  { name: 'tokens', summary: 'API tokens issued to named people: create (the secret is printed once), list, revoke (through the HTTP API or on a stopped core\'s data folder)', load: async () => (await import('./commands/tokens.js')).tokensCommand },
  { name: 'keys', summary: 'the data key that seals biometric data at rest: init, rotate (--stage/--promote for a cluster), status, retire', load: async () => (await import('./commands/keys.js')).keysCommand },
  { name: 'cameras', summary: 'list, add, remove cameras of a running core and show their health (through its HTTP API)', load: async () => (await import('./commands/cameras.js')).camerasCommand },
  { name: 'cluster', summary: 'cluster mode: start a local cluster (up), show a cluster (status), move a node\'s cameras away (drain)', load: async () => (await import('./commands/cluster.js')).clusterCommand },
  { name: 'start', summary: 'run the core on a config file (your cameras, your NATS; a cluster node when it has a cluster section)', load: async () => (await import('./commands/start.js')).startCommand },
  { name: 'config', summary: 'check a config file or print the schema', load: async () => (await import('./commands/config.js')).configCommand },
  { name: 'track', summary: 'track MOTChallenge detections into MOTChallenge tracks', load: async () => (await import('./commands/track.js')).trackCommand },
  { name: 'analyze', summary: 'decode, detect and track a whole video; write its tracks in MOTChallenge format', load: async () => (await import('./commands/analyze.js')).analyzeCommand },
  { name: 'eval-mot', summary: 'score tracks against ground truth (IDF1, MOTA, ... as py-motmetrics)', load: async () => (await import('./commands/eval-mot.js')).evalMotCommand },
  { name: 'alerts', summary: 'the subscriber\'s tool: tail every alarm kind from JetStream with a durable consumer; write the alarm JSON Schemas', load: async () => (await import('./commands/alerts.js')).alertsCommand },
  { name: 'nats', summary: 'the operator-mode NATS config for a deployment: mint the operator, accounts and creds files (JWT + nkey)', load: async () => (await import('./commands/nats.js')).natsCommand },
  { name: 'bench', summary: 'benchmarks (tracker, ...) with ratios against the bare tools', load: async () => (await import('./commands/bench.js')).benchCommand },
];

function usage(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return ['usage: cvcore <command> [options]', '', ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`), '', 'cvcore <command> --help for a command\'s options'].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    process.stderr.write(`unknown command "${name}"\n${usage()}\n`);
    return 2;
  }
  const cmd = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`usage: ${cmd.usage}\n${cmd.summary}\n`);
    return 0;
  }
  return cmd.run(rest);
}
