/**
 * A small declarative schema: every field has a description, a default (or is required), bounds, and unknown
 * keys are rejected with their path. `validate` returns a deep-frozen copy with defaults filled in.
 */
import { ConfigError } from '../common/errors.js';

interface Base { readonly description: string; readonly optional?: boolean; readonly nullable?: boolean }
export type Spec =
  | (Base & { readonly kind: 'string'; readonly default?: string | null; readonly enum?: readonly string[]; readonly pattern?: RegExp; readonly minLength?: number })
  | (Base & { readonly kind: 'number'; readonly default?: number | null; readonly integer?: boolean; readonly min?: number; readonly max?: number })
  | (Base & { readonly kind: 'boolean'; readonly default?: boolean })
  | (Base & { readonly kind: 'object'; readonly fields: Readonly<Record<string, Spec>>; readonly default?: 'fill' | null })
  | (Base & { readonly kind: 'array'; readonly items: Spec; readonly default?: readonly unknown[]; readonly minItems?: number; readonly maxItems?: number });

const fail = (code: string, path: string, message: string): never => {
  throw new ConfigError(code, `${path}: ${message}`, { detail: { path } });
};
const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function applyDefault(spec: Spec, path: string): unknown {
  if ('default' in spec && spec.default !== undefined) {
    if (spec.kind === 'object') return spec.default === null ? null : validate(spec, {}, path);
    if (spec.kind === 'array') return validate(spec, spec.default, path);
    return spec.default;
  }
  if (spec.optional) return undefined;
  return fail('CONFIG_MISSING_FIELD', path, `is required (${spec.description})`);
}

export function validate(spec: Spec, value: unknown, path: string): unknown {
  if (value === undefined) return applyDefault(spec, path);
  if (value === null) {
    if (spec.nullable) return null;
    fail('CONFIG_INVALID_TYPE', path, `must be ${spec.kind}, got null`);
  }
  switch (spec.kind) {
    case 'string': {
      if (typeof value !== 'string') return fail('CONFIG_INVALID_TYPE', path, `must be a string, got ${typeName(value)}`);
      if (spec.minLength !== undefined && value.length < spec.minLength) fail('CONFIG_OUT_OF_RANGE', path, `must have at least ${spec.minLength} characters`);
      if (spec.enum && !spec.enum.includes(value)) fail('CONFIG_INVALID_VALUE', path, `must be one of ${spec.enum.join(', ')}, got "${value}"`);
      if (spec.pattern && !spec.pattern.test(value)) fail('CONFIG_INVALID_VALUE', path, `must match ${spec.pattern}`);
      return value;
    }
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return fail('CONFIG_INVALID_TYPE', path, `must be a number, got ${typeName(value)}`);
      if (spec.integer && !Number.isInteger(value)) fail('CONFIG_INVALID_TYPE', path, `must be an integer, got ${value}`);
      if (spec.min !== undefined && value < spec.min) fail('CONFIG_OUT_OF_RANGE', path, `must be >= ${spec.min}, got ${value}`);
      if (spec.max !== undefined && value > spec.max) fail('CONFIG_OUT_OF_RANGE', path, `must be <= ${spec.max}, got ${value}`);
      return value;
    }
    case 'boolean':
      if (typeof value !== 'boolean') return fail('CONFIG_INVALID_TYPE', path, `must be a boolean, got ${typeName(value)}`);
      return value;
    case 'array': {
      if (!Array.isArray(value)) return fail('CONFIG_INVALID_TYPE', path, `must be an array, got ${typeName(value)}`);
      if (spec.minItems !== undefined && value.length < spec.minItems) fail('CONFIG_OUT_OF_RANGE', path, `must have at least ${spec.minItems} items`);
      if (spec.maxItems !== undefined && value.length > spec.maxItems) fail('CONFIG_OUT_OF_RANGE', path, `must have at most ${spec.maxItems} items`);
      // By index, not map(): a hole in a sparse array is a missing item (map() would keep the hole for a later crash).
      return Object.freeze(Array.from({ length: value.length }, (_, i) => validate(spec.items, value[i], `${path}[${i}]`)));
    }
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) return fail('CONFIG_INVALID_TYPE', path, `must be an object, got ${typeName(value)}`);
      const input = value as Record<string, unknown>;
      for (const key of Object.keys(input)) {
        // Own keys only: `in` would find '__proto__', 'constructor' or 'toString' on Object.prototype and let them by.
        if (!Object.hasOwn(spec.fields, key)) fail('CONFIG_UNKNOWN_KEY', path ? `${path}.${key}` : key, `unknown key (known: ${Object.keys(spec.fields).join(', ')})`);
      }
      const out: Record<string, unknown> = {};
      for (const [key, fieldSpec] of Object.entries(spec.fields)) {
        const v = validate(fieldSpec, input[key], path ? `${path}.${key}` : key);
        if (v !== undefined) out[key] = v;
      }
      return Object.freeze(out);
    }
  }
}

/** A JSON description of the schema (for `cvcore config schema` and the README). */
export function describe(spec: Spec): unknown {
  const { kind, description } = spec;
  const base: Record<string, unknown> = { type: kind, description };
  if ('default' in spec && spec.default !== undefined && spec.kind !== 'object') base['default'] = spec.default;
  if (spec.kind === 'number') Object.assign(base, { minimum: spec.min, maximum: spec.max, integer: spec.integer });
  if (spec.kind === 'string' && spec.enum) base['enum'] = spec.enum;
  if (spec.kind === 'object') base['properties'] = Object.fromEntries(Object.entries(spec.fields).map(([k, s]) => [k, describe(s)]));
  if (spec.kind === 'array') base['items'] = describe(spec.items);
  return base;
}
