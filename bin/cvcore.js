#!/usr/bin/env node
// The `cvcore` command: runs the compiled CLI (npm start / npm test build it through scripts/setup.sh).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/index.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('cvcore is not built yet: run `npm run setup` (installs what is missing and compiles)\n');
  process.exit(2);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
