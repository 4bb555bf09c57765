/**
 * The route fuzzer's pieces (test/fuzz-*.test.ts): the routes as the app's own OpenAPI document lists them, a
 * request shape plain enough to keep as a regression example, fast-check arbitraries for every part of a request
 * (path ids, query strings, headers, JSON bodies, multipart uploads), the upload pool (truncated files, lies about
 * the type, decompression bombs made here with sharp) and the checks every answer must pass.
 */
import { deflateSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import fc from 'fast-check';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import { ERROR_CODES } from '../../common/errors.js';
import { TOKENS, noisePng, flatPng } from './api-app.js';

/** Seed of every fuzz property: fixed so a run reproduces; FUZZ_SEED=<n> explores another corner. */
export const FUZZ_SEED = process.env['FUZZ_SEED'] !== undefined ? Number(process.env['FUZZ_SEED']) : 20;
/** Multiplies the runs of every property (FUZZ_RUNS=10 for a long hunt). */
export const FUZZ_RUNS = process.env['FUZZ_RUNS'] !== undefined ? Math.max(0.1, Number(process.env['FUZZ_RUNS'])) : 1;
export const runs = (n: number): number => Math.max(1, Math.round(n * FUZZ_RUNS));

export interface Route {
  readonly method: string;
  /** fastify form: /api/v1/tracks/:id */
  readonly url: string;
  readonly params: readonly string[];
  readonly query: readonly string[];
  /** Property names of a JSON body, when the document gives one. */
  readonly body: readonly string[];
  /** The JSON body's schema as the document gives it (null: none). */
  readonly bodySchema: JsonSchema | null;
  readonly multipart: boolean;
  readonly public: boolean;
}

/** Every route of the app, from its own OpenAPI document: a route added later is fuzzed without editing a test. */
export async function routesOf(app: FastifyInstance): Promise<Route[]> {
  const res = await app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
  const doc = res.json() as { paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> }; security?: unknown[] }>> };
  const out: Route[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const params = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
      const query = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      const content = op.requestBody?.content ?? {};
      out.push({
        method: method.toUpperCase(), url: path.replace(/\{([^}]+)\}/g, ':$1'), params, query,
        body: Object.keys(content['application/json']?.schema?.properties ?? {}),
        bodySchema: (content['application/json']?.schema as JsonSchema | undefined) ?? null,
        multipart: 'multipart/form-data' in content, public: !op.security,
      });
    }
  }
  return out;
}

/** The part of JSON schema the route bodies use. */
export interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
}

// ---- the request -------------------------------------------------------------------------------------------------

export type TokenName = keyof typeof TOKENS;
/** One part of a multipart body: a text field, or a file from the upload pool (by name, so examples stay plain). */
export interface Part { readonly name: string; readonly file?: UploadName; readonly filename?: string; readonly type?: string; readonly text?: string }
export type Body =
  | { readonly kind: 'none' }
  | { readonly kind: 'text'; readonly contentType: string | null; readonly text: string }
  | { readonly kind: 'multipart'; readonly parts: readonly Part[]; readonly contentType?: string; readonly truncate?: number };

/** A request as plain data: what fc shrinks, prints on failure and keeps as a regression example. */
export interface FuzzRequest {
  readonly method: string;
  readonly route: string;
  /** One raw value per path parameter (percent-encoded or not, see `encode`). */
  readonly params: readonly string[];
  readonly encode: boolean;
  /** The query string as sent, without '?'. */
  readonly query: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Body;
}

/** Percent-encodes the UTF-8 bytes of a string; unlike encodeURIComponent, a lone surrogate does not throw. */
export function enc(v: string): string {
  let out = '';
  for (const b of Buffer.from(v, 'utf8')) out += /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/** The URL of a request: the route with its parameters filled in (encoded unless the request says raw). */
export function urlOf(r: FuzzRequest): string {
  let i = 0;
  const path = r.route.replace(/:([A-Za-z0-9_]+)/g, () => {
    const v = r.params[i++] ?? '';
    return r.encode ? enc(v) : v;
  });
  return r.query ? `${path}?${r.query}` : path;
}

// ---- uploads -----------------------------------------------------------------------------------------------------

export const UPLOADS = ['noise', 'flat', 'truncPng', 'truncJpeg', 'text', 'svg', 'empty', 'fakeWebp', 'gif', 'hugeDimsPng', 'overBoundPng', 'bombPng', 'bombJpeg', 'pngJpegMix', 'zeroDimsPng'] as const;
export type UploadName = (typeof UPLOADS)[number];

/** Rewrites a PNG's IHDR size (and its CRC): a tiny file that claims an enormous picture. */
export function pngWithSize(png: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(png);
  // Signature (8), IHDR length (4), 'IHDR' (4), width (4), height (4) ...; the CRC covers type + data (17 bytes).
  out.writeUInt32BE(width, 16);
  out.writeUInt32BE(height, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)), 29);
  return out;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A PNG of `side` x `side` grey pixels written by hand: a few kB that decode to side² bytes. */
function bombPng(side: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const raw = Buffer.alloc((side + 1) * side); // filter byte 0 + zero pixels per row
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

/** The upload pool, made once: real images, broken ones, lies and decompression bombs. */
export async function makeUploads(): Promise<Record<UploadName, Buffer>> {
  const noise = await noisePng(5);
  const jpeg = await sharp(noise).jpeg().toBuffer();
  // 6000 x 6000 (36 Mpx, under the 40 Mpx bound): ~35 kB of PNG that decodes to 36 MB; the JPEG the same in colour.
  const bomb = bombPng(6000);
  const bombJpeg = await sharp({ create: { width: 6000, height: 6000, channels: 3, background: { r: 0, g: 0, b: 0 } } }).jpeg({ quality: 10 }).toBuffer();
  return {
    noise, flat: await flatPng(), truncPng: noise.subarray(0, Math.floor(noise.length / 2)), truncJpeg: jpeg.subarray(0, Math.floor(jpeg.length / 3)),
    text: Buffer.from('hello, I am not a picture'), svg: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"/>'),
    empty: Buffer.alloc(0), fakeWebp: Buffer.concat([Buffer.from('RIFF\x10\x00\x00\x00WEBPVP8 ', 'latin1'), Buffer.alloc(64, 0xab)]),
    gif: Buffer.from('GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;', 'latin1'),
    // Claims 100000 x 100000 (10 Gpx) in a 300-byte file.
    hugeDimsPng: pngWithSize(noise, 100_000, 100_000), bombPng: bomb, bombJpeg,
    // Claims 7000 x 7000 (49 Mpx): under sharp's own input limit, over the API's 40 Mpx bound.
    overBoundPng: pngWithSize(noise, 7000, 7000),
    // PNG magic, JPEG behind it.
    pngJpegMix: Buffer.concat([noise.subarray(0, 16), jpeg]),
    zeroDimsPng: pngWithSize(noise, 0, 0),
  };
}

/** The multipart body as bytes (the boundary is fixed; a lying content-type can name another). */
export const BOUNDARY = 'fuzzBoundary7MA4YWxkTrZu0gW';
export function multipartBytes(parts: readonly Part[], uploads: Record<UploadName, Buffer>): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disp = `form-data; name="${p.name}"${p.file !== undefined ? `; filename="${p.filename ?? 'upload.bin'}"` : ''}`;
    chunks.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: ${disp}\r\n${p.file !== undefined ? `Content-Type: ${p.type ?? 'application/octet-stream'}\r\n` : ''}\r\n`, 'utf8'));
    chunks.push(p.file !== undefined ? uploads[p.file] : Buffer.from(p.text ?? '', 'utf8'));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}

// ---- arbitraries -------------------------------------------------------------------------------------------------

/** Known ids, filled in by the test once the harness holds data: own and other departments', and nextCursors. */
export interface Pools {
  ids: string[];
  cursors: string[];
  /** Path parameters worth more runs, by route (the face lists under POST .../entries): a third of the runs use them. */
  hot: Record<string, string[][]>;
}

const TRICKY_IDS = [
  '..', '../..', '../../etc/passwd', '%2e%2e', '%2e%2e%2f%2e%2e', '..%2f..%2fetc%2fpasswd', '.', '/', '//', '\\..\\..', 'a\u0000b', '\u0000', '%00', 'a%00b',
  '\u202e', 'é', '鲁B12345', '😀', '\ud800', '\uffff', '*', '?', '#', '%', '%zz', '~', "'", '"', '<script>', '${x}', '__proto__', 'constructor', 'prototype',
  'hasOwnProperty', 'toString', 'null', 'undefined', 'NaN', '-1', '0', '1e999', '9'.repeat(40), ' ', '\t', '\n', 'a'.repeat(64), 'a'.repeat(65), 'a'.repeat(257),
  'a'.repeat(5000), 'id!with!bangs', 'x\u0000\u0000',
];

/** Characters that turn a 'raw' path into another URL (or a client-side refusal) are left encoded. */
const rawSafe = (s: string): boolean => /^[\x21-\x7e]*$/.test(s) && !/[?#%\s]/.test(s);

export function idArb(pools: Pools, real: boolean): fc.Arbitrary<string> {
  const base = [
    { weight: 4, arbitrary: fc.constantFrom(...TRICKY_IDS) },
    { weight: 3, arbitrary: fc.string({ maxLength: 30 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 100_000 }).map((n) => 'x'.repeat(n % 3000)) },
  ];
  return real && pools.ids.length ? fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...pools.ids) }, ...base) : fc.oneof(...base);
}

const QUERY_VALUES = [
  '', '0', '1', '-1', '10', '50', '500', '501', '1000', '1001', '1e3', '0x10', '1.5', 'NaN', 'Infinity', '-Infinity', 'true', 'false', 'null', '[]', '{}',
  '2023-11-14T22:13:20Z', '2023-13-45T99:99:99Z', 'yesterday', '9999999999999999999999', '-9999999999999', '1700000000000', '8640000000000001',
  'person', 'car,person', 'spaceship', ',,,', 'cam-ps-1', 'cam-tr-1', 'cam-ps-1,cam-tr-1', 'red', 'blue', '鲁B12345', '鲁B*', '*', '?', '**??**', 'open',
  'acknowledged', 'watchlist', 'frequency', 'stranger', '__proto__', 'constructor', '%', '\u0000', '😀', 'a'.repeat(600), '9'.repeat(400),
];

export function queryArb(route: Route, pools: Pools): fc.Arbitrary<string> {
  const names = fc.oneof(
    { weight: 6, arbitrary: route.query.length ? fc.constantFrom(...route.query) : fc.constant('limit') },
    { weight: 1, arbitrary: fc.constantFrom('token', 'cursor', 'limit', '__proto__', 'constructor', 'constructor[prototype][polluted]', '__proto__[polluted]', 'a[]', '') },
    { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
  );
  const value = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...QUERY_VALUES) },
    { weight: 2, arbitrary: pools.cursors.length ? fc.constantFrom(...pools.cursors) : fc.constant('') },
    { weight: 2, arbitrary: fc.string({ maxLength: 20 }) },
    { weight: 1, arbitrary: fc.integer().map(String) },
    { weight: 1, arbitrary: fc.double().map(String) },
    { weight: 1, arbitrary: fc.constantFrom(...(Object.values(TOKENS) as string[])) },
  );
  const pair = fc.tuple(names, value, fc.boolean()).map(([k, v, e]) => (e ? `${enc(k)}=${enc(v)}` : `${k.replace(/[&#\s]/g, '')}=${v.replace(/[&#\s]/g, '')}`));
  const garbage = fc.constantFrom('%', '%zz', '%00', '&&&', '=', '==', 'a=b=c', 'limit', 'limit=1&limit=2', 'cursor=1&cursor=2', '%E0%A4%A', '+++', 'a%5B%5D=1');
  return fc.array(fc.oneof({ weight: 5, arbitrary: pair }, { weight: 1, arbitrary: garbage }), { maxLength: 5 }).map((ps) => ps.join('&'));
}

/** Authorization variants: every token, no token, wrong scheme, spacing, case, huge, the token in the query only. */
export function authArb(): fc.Arbitrary<Record<string, string>> {
  const tok = fc.constantFrom(...(Object.keys(TOKENS) as TokenName[])).map((n) => TOKENS[n]);
  return fc.oneof(
    { weight: 12, arbitrary: tok.map((t) => ({ authorization: `Bearer ${t}` })) },
    { weight: 1, arbitrary: fc.constant({}) },
    {
      weight: 2,
      arbitrary: fc.tuple(tok, fc.constantFrom('bearer %s', 'Bearer  %s ', 'Bearer %s extra', 'Basic %s', 'Bearer', 'Bearer ', '%s', 'Bearer %s%s', 'Bearer x%s', 'Bearer ' + 'A'.repeat(20000), 'Bearer \u00e9%s'))
        .map(([t, f]) => ({ authorization: f.replace(/%s/g, t) })),
    },
  );
}

const CONTENT_TYPES = [
  'application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json; charset=latin1', 'application/json; charset=utf-16',
  'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', `multipart/form-data; boundary=${BOUNDARY}`, 'image/png', 'application/octet-stream',
  'application/json;;;', ';', 'x'.repeat(2000), '',
];

/**
 * A body the route's schema accepts, or nearly (values from the known ids, departments, plates and times): so the
 * fuzzer reaches the route's own code, and its successes (201s) as well as its refusals.
 */
export function schemaArb(schema: JsonSchema, pools: Pools, name = ''): fc.Arbitrary<unknown> {
  const ids = pools.ids.length ? fc.constantFrom(...pools.ids) : fc.constant('x');
  if (schema.enum?.length) return fc.constantFrom(...schema.enum);
  if (schema.anyOf?.length) return fc.oneof(...schema.anyOf.map((s) => schemaArb(s, pools, name)));
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  if (/Ids$|^cameras$/.test(name) && (type === undefined || type === 'array')) return fc.array(ids, { minLength: 1, maxLength: 3 });
  if (/^(from|to|expiresAt)$/.test(name) && (type === undefined || type === 'integer' || type === 'number')) return fc.integer({ min: 1_699_999_990_000, max: 1_700_000_100_000 });
  switch (type) {
    case 'object':
      return fc.record(Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, schemaArb(v, pools, k)])), { requiredKeys: (schema.required ?? []).filter((k) => k in (schema.properties ?? {})) });
    case 'array':
      return fc.array(schema.items ? schemaArb(schema.items, pools, name) : ids, { maxLength: 3 });
    case 'integer':
    case 'number':
      return fc.integer({ min: Math.ceil(schema.minimum ?? 0), max: Math.floor(Math.min(schema.maximum ?? 1_000, 1e15)) });
    case 'boolean':
      return fc.boolean();
    default:
      if (name === 'department') return fc.constantFrom('public-security', 'traffic', 'elsewhere');
      if (name === 'plate') return fc.constantFrom('鲁B12345', '京A54321', '鲁B1234', 'not a plate');
      if (name === 'url') return fc.constantFrom('rtsp://127.0.0.1:1/fuzz', 'file:///etc/passwd', 'http://127.0.0.1/');
      return fc.oneof(fc.constantFrom('fuzz', 'a note', 'x'.repeat(129)), ids);
  }
}

/** A JSON value of the kinds that break parsers: wrong types, deep nesting, long arrays, prototype keys. */
export function jsonTextArb(route: Route, pools: Pools): fc.Arbitrary<string> {
  const keys = route.body.length ? fc.constantFrom(...route.body, '__proto__', 'constructor', 'id', 'department') : fc.constantFrom('name', 'department', 'kind', '__proto__', 'id');
  const leaf = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    pools.ids.length ? fc.constantFrom(...pools.ids) : fc.constant('x'),
    pools.ids.length ? fc.array(fc.constantFrom(...pools.ids), { maxLength: 5 }) : fc.constant([]),
    fc.constantFrom('face', 'plate', 'public-security', 'traffic', '*', '鲁B12345', 'exact', 'fuzzy', 'rtsp://127.0.0.1:1/x', 'file:///etc/passwd', '', 'a'.repeat(2000)),
    fc.constantFrom(-1, 0, 0.5, 1, 1e308, -1e308, 1700000000000, 8.64e15 + 1),
  );
  const shaped = fc.dictionary(keys, leaf, { maxKeys: 6 }).map((o) => JSON.stringify(o));
  const nearValid = route.bodySchema ? schemaArb(route.bodySchema, pools).map((v) => JSON.stringify(v)) : shaped;
  return fc.oneof(
    { weight: 5, arbitrary: nearValid },
    { weight: 5, arbitrary: shaped },
    { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 60_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 30_000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...(route.body.length ? route.body : ['trackIds'])), fc.integer({ min: 0, max: 120_000 })).map(([k, n]) => JSON.stringify({ [k]: Array.from({ length: n }, (_, i) => `t${i}`) })) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}', '{"a":{"__proto__":{"polluted":1}}}', '[{"__proto__":{"polluted":1}}]',
        '{"name":"x","department":"public-security","kind":"face","__proto__":{"polluted":1}}', '{"label":"x","plate":"鲁B12345","constructor":{"prototype":{"polluted":1}}}',
        '', ' ', 'null', 'true', '0', '"x"', '[]', '{', '{"a":', '\u0000', '{"a":1}{"b":2}', '{"a":1,}', "{'a':1}", '\ufeff{}', '{"a":"\\ud800"}', 'NaN',
      ),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  );
}

export function multipartArb(route: Route): fc.Arbitrary<Body> {
  // Mostly the fields the route reads, so a run gets past the field checks to the image and its values.
  const own = route.url.includes('/faces/') ? ['image'] : route.url.includes('/entries') ? ['photo', 'label', 'note', 'threshold', 'expiresAt'] : ['image', 'photo'];
  const fieldNames = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...own) },
    { weight: 1, arbitrary: fc.constantFrom('image', 'photo', 'label', 'note', 'threshold', 'expiresAt', 'x', '', '__proto__', 'constructor', 'image"; filename="a', 'a'.repeat(500)) },
  );
  const file = fc.record({
    name: fieldNames, file: fc.constantFrom(...UPLOADS), filename: fc.constantFrom('a.png', 'a.jpg', '../../etc/passwd', '', 'a'.repeat(300), 'x\u0000.png'),
    type: fc.constantFrom('image/png', 'image/jpeg', 'text/plain', 'application/json', 'image/svg+xml', ''),
  });
  const text = fc.record({ name: fieldNames, text: fc.oneof(fc.constantFrom(...QUERY_VALUES), fc.string({ maxLength: 20 }), fc.constant('a'.repeat(3000))) });
  const parts = fc.array(fc.oneof({ weight: 3, arbitrary: file as fc.Arbitrary<Part> }, { weight: 2, arbitrary: text as fc.Arbitrary<Part> }), { maxLength: route.multipart ? 7 : 3 });
  return fc.record({
    kind: fc.constant('multipart' as const),
    parts,
    contentType: fc.constantFrom(`multipart/form-data; boundary=${BOUNDARY}`, `multipart/form-data; boundary=${BOUNDARY}`, 'multipart/form-data; boundary=other', 'multipart/form-data', 'multipart/form-data; boundary=', `multipart/form-data; boundary=${'b'.repeat(300)}`, `multipart/mixed; boundary=${BOUNDARY}`, 'application/json', 'image/png'),
    truncate: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) }),
  }, { requiredKeys: ['kind', 'parts', 'contentType'] }) as fc.Arbitrary<Body>;
}

export function bodyArb(route: Route, pools: Pools): fc.Arbitrary<Body> {
  const text: fc.Arbitrary<Body> = fc.record({ kind: fc.constant('text' as const), contentType: fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: null }), text: jsonTextArb(route, pools) });
  const jsonCt: fc.Arbitrary<Body> = jsonTextArb(route, pools).map((t) => ({ kind: 'text' as const, contentType: 'application/json', text: t }));
  const none = fc.constant<Body>({ kind: 'none' });
  if (route.method === 'GET' || route.method === 'HEAD') return fc.oneof({ weight: 8, arbitrary: none }, { weight: 1, arbitrary: text });
  return fc.oneof(
    { weight: 1, arbitrary: none },
    { weight: 4, arbitrary: jsonCt },
    { weight: 2, arbitrary: text },
    { weight: route.multipart ? 5 : 1, arbitrary: multipartArb(route) },
  );
}

const EXTRA_HEADERS = fc.dictionary(
  fc.constantFrom('range', 'accept', 'content-length', 'transfer-encoding', 'x-forwarded-for', 'content-encoding', 'accept-encoding', 'origin', 'upgrade', 'connection', 'if-none-match', 'x-a'),
  fc.constantFrom('bytes=0-10', 'bytes=-5', 'bytes=10-0', 'bytes=0-99999999999', 'bytes=a-b', 'bytes=0-1,2-3', 'bytes=', '*/*', 'gzip', 'chunked', 'websocket', 'close', '0', '-1', '99999999', '1.2.3.4', 'x'.repeat(8000), ''),
  { maxKeys: 3 },
);

/** Methods other than the route's: fastify's 404 (or 405-like) for them must keep the error shape too. */
export function requestArb(route: Route, pools: Pools): fc.Arbitrary<FuzzRequest> {
  // Real ids never reach DELETE, nor any change to a camera: the fuzzer must not delete the data it fuzzes over, nor
  // start a camera's decoder.
  const mutatesSeeds = route.method === 'DELETE' || (route.url.startsWith('/api/v1/cameras') && route.method !== 'GET');
  return fc.record({
    method: fc.oneof({ weight: 12, arbitrary: fc.constant(route.method) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD') }),
    route: fc.constant(route.url),
    params: pools.hot[route.url]?.length
      ? fc.oneof({ weight: 2, arbitrary: fc.tuple(...route.params.map(() => idArb(pools, !mutatesSeeds))) as fc.Arbitrary<string[]> }, { weight: 1, arbitrary: fc.constantFrom(...pools.hot[route.url]!) })
      : fc.tuple(...route.params.map(() => idArb(pools, !mutatesSeeds))) as fc.Arbitrary<string[]>,
    encode: fc.boolean(),
    query: queryArb(route, pools),
    headers: fc.tuple(authArb(), EXTRA_HEADERS).map(([a, x]) => ({ ...x, ...a })),
    body: bodyArb(route, pools),
  }).map((r) => (r.encode || r.params.every(rawSafe) ? r : { ...r, encode: true }));
}

// ---- sending and checking ----------------------------------------------------------------------------------------

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, unknown>;
  readonly body: string;
  readonly raw: Buffer;
}

/** Sends a request in-process (fastify's inject); a bad header value the client itself refuses is `null`. */
export async function send(app: FastifyInstance, r: FuzzRequest, uploads: Record<UploadName, Buffer>): Promise<Answer | null> {
  const headers: Record<string, string> = { ...r.headers };
  let payload: Buffer | string | undefined;
  if (r.body.kind === 'text') {
    payload = r.body.text;
    if (r.body.contentType !== null) headers['content-type'] = r.body.contentType;
  } else if (r.body.kind === 'multipart') {
    let bytes = multipartBytes(r.body.parts, uploads);
    if (r.body.truncate !== undefined) bytes = bytes.subarray(0, Math.floor(bytes.length * r.body.truncate));
    payload = bytes;
    headers['content-type'] = r.body.contentType ?? `multipart/form-data; boundary=${BOUNDARY}`;
  }
  // A declared length that differs from the body is for a real socket to discover; inject would hang on it.
  delete headers['content-length'];
  delete headers['transfer-encoding'];
  delete headers['content-encoding'];
  for (const v of Object.values(headers)) if (/[^\t\x20-\x7e\x80-\xff]/.test(v)) return null;
  const res = await app.inject({ method: r.method as 'GET', url: urlOf(r), headers, ...(payload !== undefined ? { payload } : {}) });
  return { status: res.statusCode, headers: res.headers, body: res.body, raw: res.rawPayload };
}

/** Where a stack frame or the server's own files would show. */
const LEAKS: readonly RegExp[] = [
  /\n\s+at\s/, /\bat\s+\S+\s+\(\S+:\d+:\d+\)/, /file:\/\//, /node_modules/, /\/work\//, /\/dist\//, /\.[jt]s:\d+/, /\bnode:internal\b/,
  new RegExp(tmpdir().replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '/cvcore-'),
];

/** What each department owns (record, list, entry, alarm, export and frame ids), to see one leak into another scope. */
export type Owned = Record<string, string[]>;

/**
 * The checks every answer passes: no 5xx but the documented 503s, no stack trace or internal path in a text body,
 * every error the `{ code, message }` shape with a code from ERROR_CODES, and nothing a department outside the
 * caller's scope owns (unless the request itself named it, as a 404 message echoes the id asked for).
 */
export function check(r: FuzzRequest, a: Answer, owned: Owned, deptsOf: (secret: string) => readonly string[] | null): string[] {
  const problems: string[] = [];
  // What the request itself carried (raw and JSON-escaped): an answer may echo it (a 404 names the id asked for).
  const sent = r.body.kind === 'text' ? r.body.text : r.body.kind === 'multipart' ? JSON.stringify(r.body.parts) : '';
  const request = `${decodeSafe(urlOf(r))} ${JSON.stringify(decodeSafe(urlOf(r)))} ${JSON.stringify(r.headers)} ${sent} ${JSON.stringify(sent)}`;
  if (a.status >= 500 && a.status !== 503) problems.push(`status ${a.status}`);
  const type = String(a.headers['content-type'] ?? '');
  const textual = type === '' || /json|text|ndjson/.test(type);
  if (textual) {
    for (const re of LEAKS) {
      for (const m of a.body.matchAll(new RegExp(re.source, 'g'))) if (!request.includes(m[0])) problems.push(`body matches ${re}: ${a.body.slice(0, 300)}`);
    }
  }
  // HEAD answers carry no body to check.
  if (a.status >= 400 && r.method !== 'HEAD') {
    let body: unknown;
    try {
      body = JSON.parse(a.body);
    } catch {
      problems.push(`error body is not JSON: ${a.body.slice(0, 200)}`);
    }
    if (body !== undefined) {
      const o = body as Record<string, unknown>;
      const keys = o && typeof o === 'object' ? Object.keys(o).sort().join(',') : typeof o;
      if (keys !== 'code,message' || typeof o['code'] !== 'string' || typeof o['message'] !== 'string') problems.push(`error body is not { code, message }: ${a.body.slice(0, 200)}`);
      else if (!(o['code'] in ERROR_CODES)) problems.push(`error code ${o['code']} is not in ERROR_CODES`);
    }
  }
  // The caller's scope: every token the request carries anywhere (header, query, body) counts, so the check is
  // never stricter than the server could be.
  const scope = new Set<string>();
  for (const secret of Object.values(TOKENS) as string[]) if (request.includes(secret)) for (const d of deptsOf(secret) ?? []) scope.add(d);
  if (!scope.has('*') && textual) {
    for (const [dept, ids] of Object.entries(owned)) {
      if (scope.has(dept)) continue;
      if (a.body.includes(`"department":"${dept}"`)) problems.push(`a ${dept} item in the answer of a caller scoped to [${[...scope].join(', ')}]`);
      for (const id of ids) if (a.body.includes(id) && !request.includes(id)) problems.push(`${dept} id ${id} in the answer of a caller scoped to [${[...scope].join(', ')}]`);
    }
  }
  return problems;
}

function decodeSafe(s: string): string {
  try {
    return `${s} ${decodeURIComponent(s)}`;
  } catch {
    return s;
  }
}
