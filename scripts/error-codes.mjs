// Prints the README's error-code table from common/errors.ts (run after the build): node scripts/error-codes.mjs
import { ERROR_CODES } from '../dist/common/errors.js';

console.log('| code | meaning |\n|---|---|');
for (const [code, meaning] of Object.entries(ERROR_CODES)) console.log(`| \`${code}\` | ${meaning} |`);
