import { parseArgs } from 'node:util';
import { configSchemaDescription, loadConfig } from '../../config/index.js';
import type { Command } from '../command.js';
import { reportError } from '../run.js';

export const configCommand: Command = {
  name: 'config',
  summary: 'check a config file, or print the schema with every default, bound and description',
  usage: 'cvcore config check <file.json> | cvcore config schema',
  async run(args) {
    try {
      const { positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: {} });
      const [sub, file] = positionals;
      if (sub === 'schema') {
        process.stdout.write(JSON.stringify(configSchemaDescription(), null, 2) + '\n');
        return 0;
      }
      if (sub === 'check' && file) {
        const cfg = await loadConfig(file);
        process.stdout.write(`ok: ${cfg.cameras.length} camera(s), backend ${cfg.inference.backend}, data in ${cfg.dataDir}\n`);
        return 0;
      }
      process.stderr.write(`usage: ${this.usage}\n`);
      return 2;
    } catch (err) {
      return reportError(err);
    }
  },
};
