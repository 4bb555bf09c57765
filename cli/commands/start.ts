import { parseArgs } from 'node:util';
import { createLogger } from '../../common/log.js';
import { loadConfig } from '../../config/index.js';
import { startClusterNode, startStack } from '../../runtime/index.js';
import type { Command } from '../command.js';
import { reportError, runUntilSignal } from '../run.js';
import { printStarted } from './demo.js';

export const startCommand: Command = {
  name: 'start',
  summary: 'run the core on a config file (your cameras, your NATS; a cluster node when it has a cluster section)',
  usage: 'cvcore start --config <file.json>',
  async run(args) {
    try {
      const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } }, strict: true });
      if (!values.config) {
        process.stderr.write(`usage: ${this.usage}\n`);
        return 2;
      }
      const config = await loadConfig(values.config);
      const log = createLogger();
      if (config.cluster) {
        // One binary, one config: with a cluster section this process is a node of the roles it names.
        const node = await startClusterNode({ config, log });
        process.stdout.write(`cvcore cluster node ${node.id} is running (roles: ${config.cluster.roles.join(', ')}; NATS ${node.natsUrl}${node.apiUrl ? `; HTTP API ${node.apiUrl}` : ''})\n`);
        return await runUntilSignal(() => node.stop());
      }
      const stack = await startStack({ config, log });
      printStarted(stack, null);
      return await runUntilSignal(() => stack.stop());
    } catch (err) {
      return reportError(err);
    }
  },
};
