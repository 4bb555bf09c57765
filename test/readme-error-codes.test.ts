/**
 * The README promises that error codes are stable and lists them; this keeps the list and the code in step.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '../common/errors.js';
import { REPO_ROOT } from '../common/paths.js';

test('readme - every stable error code is documented', (t) => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const missing = Object.keys(ERROR_CODES).filter((code) => !readme.includes(`\`${code}\``));
  t.deepEqual(missing, [], `README.md lacks: ${missing.join(', ')}`);
});
