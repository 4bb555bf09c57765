/**
 * Property-based fuzzing of the config parser (config/index.ts), issue 20: configs generated from the schema
 * object itself (CONFIG_SCHEMA), valid but for one field broken, and plain garbage. Every refusal is a typed error
 * with a stable code and the path of the field; never another exception. The zone geometry and crowd rule checks
 * are the tracking stage's and answer its documented TRACKING_BAD_ZONE / TRACKING_BAD_RULE, with the path too.
 * Seed: FUZZ_SEED (default 20, printed on failure); FUZZ_RUNS multiplies the runs.
 */
import test from 'ava';
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CvcoreError } from '../common/errors.js';
import { CONFIG_SCHEMA, loadConfig, parseCamera, parseConfig } from '../config/index.js';
import type { Spec } from '../config/schema.js';
import { tempDir } from './support/index-records.js';
import { FUZZ_SEED, runs } from './support/fuzz.js';

type Json = unknown;

/** A value the spec accepts, field by field (cross-field rules may still refuse it: a typed refusal is fine). */
function validArb(spec: Spec, depth = 0): fc.Arbitrary<Json> {
  const inner = ((): fc.Arbitrary<Json> => {
    switch (spec.kind) {
      case 'string':
        if (spec.enum) return fc.constantFrom(...spec.enum);
        if (spec.pattern) return fc.stringMatching(spec.pattern).filter((s) => spec.pattern!.test(s));
        return fc.oneof(fc.constant('rtsp://127.0.0.1:8554/cam'), fc.string({ minLength: spec.minLength ?? 0, maxLength: 12 }));
      case 'number': {
        const min = spec.min ?? -1e6;
        const max = spec.max ?? 1e6;
        return spec.integer ? fc.integer({ min: Math.ceil(Math.max(min, -(2 ** 31))), max: Math.floor(Math.min(max, 2 ** 31)) }) : fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
      }
      case 'boolean':
        return fc.boolean();
      case 'array': {
        const minLength = spec.minItems ?? 0;
        const maxLength = depth > 3 ? minLength : Math.min(spec.maxItems ?? minLength + 2, minLength + 2);
        return fc.array(validArb(spec.items, depth + 1), { minLength, maxLength });
      }
      case 'object': {
        const required = Object.entries(spec.fields).filter(([, f]) => !('default' in f && f.default !== undefined) && !f.optional).map(([k]) => k);
        const fields = Object.fromEntries(Object.entries(spec.fields).map(([k, f]) => [k, validArb(f, depth + 1)]));
        return fc.record(fields, { requiredKeys: required });
      }
    }
  })();
  return spec.nullable ? fc.oneof({ weight: 4, arbitrary: inner }, { weight: 1, arbitrary: fc.constant(null) }) : inner;
}

/** Every path into a value (objects and arrays), to pick the one to break. */
function paths(v: Json, at: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}

const deep = (n: number): Json => {
  let v: Json = 1;
  for (let i = 0; i < n; i++) v = { a: v };
  return v;
};
/** Values that are wrong almost anywhere, or right in the wrong place. */
const badValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom(null, undefined, '', 'x', '\u0000', '../../etc/passwd', 'file:///etc/passwd', 'a'.repeat(100_000), -1, 0, 0.5, 1e308, -1e308, NaN, Infinity, -Infinity, -0,
    2 ** 53 + 1, true, false, [], {}, [1, 2, 3], [[0, 0]], { a: 1 }, deep(2_000), Array.from({ length: 20_000 }, () => 0), '30x', '1e3s', '-5m', '999999999999d'),
  fc.anything({ maxDepth: 2 }),
);

/** A key no schema object has: a typo, or one a prototype answers to. */
const unknownKey = fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', 'typo', '', ' ', 'Node', '\u0000');

type Mutation = { kind: 'set'; value: Json } | { kind: 'delete' } | { kind: 'key'; key: string; value: Json };
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 5, arbitrary: badValue.map((value) => ({ kind: 'set' as const, value })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'delete' as const }) },
  { weight: 2, arbitrary: fc.tuple(unknownKey, badValue).map(([key, value]) => ({ kind: 'key' as const, key, value })) },
);

/** A deep copy of `v` with the mutation applied at `path` (own properties only: '__proto__' is a key like any other). */
function mutate(v: Json, path: readonly (string | number)[], m: Mutation): Json {
  const copy = structuredClone(v);
  const holder = { root: copy } as Record<string, unknown>;
  let parent: Record<string | number, unknown> = holder;
  let key: string | number = 'root';
  for (const p of path) {
    parent = parent[key] as Record<string | number, unknown>;
    key = p;
  }
  if (m.kind === 'set') Object.defineProperty(parent, key, { value: m.value, enumerable: true, writable: true, configurable: true });
  else if (m.kind === 'delete') delete parent[key];
  else {
    const target = parent[key];
    if (target && typeof target === 'object' && !Array.isArray(target)) Object.defineProperty(target, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
    else Object.defineProperty(parent, key, { value: { [m.key]: m.value }, enumerable: true, writable: true, configurable: true });
  }
  return holder['root'];
}

/** The only acceptable failure: a typed error with a stable code naming the path. */
function typedRefusal(err: unknown): string | null {
  if (!(err instanceof CvcoreError)) return `not a typed error: ${(err as Error)?.constructor?.name} ${(err as Error)?.message ?? String(err)}`;
  const ok = /^CONFIG_/.test(err.code) || err.code === 'TRACKING_BAD_ZONE' || err.code === 'TRACKING_BAD_RULE';
  if (!ok) return `code ${err.code}: ${err.message}`;
  if (typeof err.detail['path'] !== 'string') return `${err.code} without a path: ${err.message}`;
  return null;
}

function expectTypedOrValid(parse: () => unknown): void {
  try {
    parse();
  } catch (err) {
    const why = typedRefusal(err);
    if (why) throw new Error(why);
  }
}

function opts<T>(n: number): fc.Parameters<T> {
  return { seed: FUZZ_SEED, numRuns: runs(n), includeErrorInReport: true };
}

test('fuzz config - a near-valid config with one field broken: a typed refusal naming the path, or a config', (t) => {
  const config = validArb(CONFIG_SCHEMA);
  const property = fc.property(config, fc.nat(), mutationArb, (cfg, pick, m) => {
    const ps = paths(cfg);
    expectTypedOrValid(() => parseConfig(mutate(cfg, ps[pick % ps.length]!, m)));
  });
  try {
    fc.assert(property, opts(300));
  } catch (err) {
    t.log(`re-run with FUZZ_SEED=${FUZZ_SEED}`);
    throw err;
  }
  t.pass();
});

test('fuzz config - a camera entry as the API takes it (parseCamera) with one field broken', (t) => {
  const camera = (CONFIG_SCHEMA.kind === 'object' && CONFIG_SCHEMA.fields['cameras']!.kind === 'array') ? CONFIG_SCHEMA.fields['cameras']!.items : null;
  t.truthy(camera);
  const property = fc.property(validArb(camera!), fc.nat(), mutationArb, (cam, pick, m) => {
    const ps = paths(cam);
    expectTypedOrValid(() => parseCamera(mutate(cam, ps[pick % ps.length]!, m), 'body'));
  });
  // Once a TypeError: a point with a hole (a sparse array) passed the schema and crashed the line check.
  const holed = { id: 'c1', url: 'rtsp://127.0.0.1:8554/cam', lines: [{ id: 'A', a: [0, 0], b: [0, 5] }] };
  const hole = paths(holed).findIndex((p) => p.join('.') === 'lines.0.b.1');
  fc.assert(property, { ...opts<[Json, number, Mutation]>(300), examples: [[holed, hole, { kind: 'delete' }]] });
  t.pass();
});

test('fuzz config - a key the schema does not know is refused wherever it is, prototype names included', (t) => {
  const property = fc.property(validArb(CONFIG_SCHEMA), fc.nat(), unknownKey, badValue, (cfg, pick, key, value) => {
    // Objects only: the key goes into one of the config's objects (the root included).
    const objects = paths(cfg).filter((p) => {
      let v: Json = cfg;
      for (const k of p) v = (v as Record<string | number, unknown>)[k];
      return !!v && typeof v === 'object' && !Array.isArray(v);
    });
    const at = objects[pick % objects.length]!;
    let err: unknown = null;
    try {
      parseConfig(mutate(cfg, at, { kind: 'key', key, value }));
    } catch (e) {
      err = e;
    }
    if (err === null) throw new Error(`unknown key "${key}" at ${at.join('.') || '(root)'} was accepted`);
    const why = typedRefusal(err);
    if (why) throw new Error(why);
  });
  fc.assert(property, {
    ...opts<[Json, number, string, Json]>(200),
    // Each once let an unknown key through: `key in spec.fields` found them on Object.prototype.
    examples: [[{}, 0, '__proto__', 1], [{}, 0, 'constructor', {}], [{ api: {} }, 1, 'toString', 'x'], [{ cameras: [{ id: 'c1', url: 'rtsp://h/x' }] }, 2, 'hasOwnProperty', 1]],
  });
  t.pass();
});

test('fuzz config - garbage in, a typed refusal out (objects, JSON text, bytes on disk)', async (t) => {
  fc.assert(fc.property(fc.anything({ maxDepth: 4, withNullPrototype: true, withBoxedValues: true, withSparseArray: true }), (v) => expectTypedOrValid(() => parseConfig(v))), opts(300));
  const dir = tempDir('fuzz-config');
  try {
    const file = join(dir.dir, 'config.json');
    await fc.assert(fc.asyncProperty(fc.oneof(fc.json({ maxDepth: 4 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1'))), async (text) => {
      writeFileSync(file, text, 'latin1');
      try {
        await loadConfig(file);
      } catch (err) {
        const why = typedRefusal(err);
        if (why) throw new Error(why);
      }
    }), opts(200));
    // A folder, a missing file: unreadable, typed.
    for (const f of [dir.dir, join(dir.dir, 'missing.json')]) {
      const err = await loadConfig(f).then(() => null, (e: unknown) => e);
      t.is(typedRefusal(err), null);
      t.is((err as CvcoreError).code, 'CONFIG_UNREADABLE');
    }
  } finally {
    dir.cleanup();
  }
});
