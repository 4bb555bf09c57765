/**
 * The `cvcore` command line: one program, one file per command under cli/commands/.
 */
import type { Command } from './command.js';
import { demoCommand } from './commands/demo.js';
import { startCommand } from './commands/start.js';

export const COMMANDS: readonly Command[] = [demoCommand, startCommand];

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
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`unknown command "${name}"\n${usage()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`usage: ${cmd.usage}\n${cmd.summary}\n`);
    return 0;
  }
  return cmd.run(rest);
}
