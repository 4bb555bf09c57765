/**
 * Face search through the API with the real face embedder (inference's embedFaceFromImage, faceres on tfjs):
 * the astronaut's face stored in both departments is found, mirrored, only in the caller's own; a picture
 * without a face is 422.
 */
import test from 'ava';
import { closeFaceEmbedder, embedFaceFromImage } from '../inference/index.js';
import { flatPng, startHarness, TOKENS, T0, type ApiHarness } from './support/api-app.js';
import { makeRecord } from './support/index-records.js';
import { encodePng, flip, loadImage } from './support/media.js';

let h: ApiHarness;
test.before(async () => { h = await startHarness({ perDepartment: 2, faces: { embedFaceFromImage } }); });
test.after.always(async () => { await h?.close(); await closeFaceEmbedder(); });

async function search(png: Uint8Array, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const form = new FormData();
  form.append('image', new Blob([png], { type: 'image/png' }), 'photo.png');
  const res = await fetch(`${h.url}/api/v1/faces/search?k=5`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

test('api - face search with the real embedder finds the face in the caller\'s department only', async (t) => {
  t.timeout(120_000);
  const astronaut = await loadImage('astronaut.png');
  const face = await embedFaceFromImage(await encodePng(astronaut));
  t.truthy(face);
  for (const [dept, cameraId] of [['public-security', 'cam-ps-1'], ['traffic', 'cam-tr-1']] as const) {
    await h.index.put(makeRecord({ id: `astronaut-${dept}`, cameraId, department: dept, cls: 'person', start: T0 + 99_000, embedding: face!.embedding }));
  }
  await h.index.flush();

  const mirrored = await encodePng(flip(astronaut));
  const ps = await search(mirrored, TOKENS.ps);
  t.is(ps.status, 200, JSON.stringify(ps.body));
  const matches = ps.body['matches'] as { record: { id: string; department: string }; similarity: number }[];
  t.is(matches[0]?.record.id, 'astronaut-public-security');
  t.true(matches[0]!.similarity > 0.5, `similarity ${matches[0]!.similarity}`);
  t.true(matches.every((m) => m.record.department === 'public-security'));
  t.like(ps.body['face'], { gender: 'female' });

  const traffic = await search(mirrored, TOKENS.traffic);
  const tm = traffic.body['matches'] as { record: { id: string } }[];
  t.is(tm[0]?.record.id, 'astronaut-traffic');
  t.false(tm.some((m) => m.record.id === 'astronaut-public-security'));

  const blank = await search(await flatPng(256), TOKENS.ps);
  t.is(blank.status, 422);
  t.is(blank.body['code'], 'API_NO_FACE');
});
