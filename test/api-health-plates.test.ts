/**
 * GET /api/v1/health says whether licence plates are read: the plate reader's state as the pipeline reports it,
 * with the error code and reason when the OCR models could not load.
 */
import test from 'ava';
import type { PlatesHealth } from '../common/messages.js';
import { startHarness, TOKENS } from './support/api-app.js';

const statsWith = (plates: PlatesHealth) => ({
  stats: () => ({ records: 0, analysed: {}, batcher: { batches: 0, frames: 0, skipped: 0, meanBatch: 0, inFlight: 0, errors: 0 }, plates }),
});

test('api - health reports the plate reader unavailable with its code and reason', async (t) => {
  const down: PlatesHealth = { state: 'unavailable', code: 'MODEL_FILE_MISSING', reason: 'model file models/files/ch_PP-OCRv4_det_infer.onnx (ppocrv4-det) is missing; run npm run setup', since: 1 };
  const h = await startHarness({ perDepartment: 1, stats: statsWith(down) });
  try {
    const body = await (await h.get('/api/v1/health', TOKENS.operator)).json() as { plates: PlatesHealth };
    t.deepEqual(body.plates, down);
  } finally {
    await h.close();
  }
});

test('api - health reports the plate reader ready, and null without a pipeline', async (t) => {
  const up = await startHarness({ perDepartment: 1, stats: statsWith({ state: 'ready' }) });
  try {
    t.deepEqual((await (await up.get('/api/v1/health', TOKENS.operator)).json() as { plates: PlatesHealth }).plates, { state: 'ready' });
  } finally {
    await up.close();
  }
  const none = await startHarness({ perDepartment: 1 });
  try {
    t.is((await (await none.get('/api/v1/health', TOKENS.operator)).json() as { plates: unknown }).plates, null);
  } finally {
    await none.close();
  }
});
