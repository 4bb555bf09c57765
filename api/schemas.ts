/** JSON schemas shared by the routes (validation, response serialisation and the OpenAPI document). */
import { CLUSTER_ROLES } from '../config/index.js';

export const errorBody = {
  type: 'object', description: 'error: a stable code and a message',
  properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'],
} as const;

/** Error responses a guarded route can give, plus the ones named. */
export function errors(...codes: number[]): Record<string, typeof errorBody> {
  const out: Record<string, typeof errorBody> = {};
  for (const c of [401, 403, 429, ...codes]) out[String(c)] = errorBody;
  return out;
}

const box = {
  type: 'object', properties: { x: { type: 'number' }, y: { type: 'number' }, w: { type: 'number' }, h: { type: 'number' } },
} as const;

export const recordSummary = {
  type: 'object',
  properties: {
    id: { type: 'string' }, cameraId: { type: 'string' }, department: { type: 'string' }, district: { type: 'string' },
    cls: { type: 'string' }, start: { type: 'integer' }, end: { type: 'integer' }, hits: { type: 'integer' }, score: { type: 'number' },
    box,
    attributes: { type: 'object', additionalProperties: { type: ['string', 'number'] } },
    hasThumbnail: { type: 'boolean' }, hasFace: { type: 'boolean' },
    hasPlateCrop: { type: 'boolean', description: 'a JPEG of the plate is at plateUrl' },
    plateMatch: { type: 'string', enum: ['exact', 'confusion', 'fuzzy'], description: 'plate searches: the same plate (or pattern), one OCR confusion away (0/D, 8/B, 2/Z, 5/S, 1/7...), or one other character away' },
    thumbnailUrl: { type: 'string' }, trackUrl: { type: 'string' }, plateUrl: { type: 'string' },
    clipRef: { type: 'string', description: 'the track\'s recorded clip, a few seconds before and after it: /api/v1/cameras/<camera>/clip?from=&to=' },
    frame: { type: 'object', description: 'the analysis frame size, the space of box', properties: { width: { type: 'integer' }, height: { type: 'integer' } } },
  },
} as const;

export const searchPage = {
  type: 'object', description: 'newest first (plate searches: exact matches, then OCR confusions, then other one-character differences, each by plate then newest first); a page may be short (even empty) with a nextCursor when the index reached its scan budget',
  properties: {
    records: { type: 'array', items: recordSummary }, nextCursor: { type: ['string', 'null'] },
    missingShards: { type: 'array', items: { type: 'integer' }, description: 'cluster mode: shards no index replica answered for; their records are not in this page (the cursor asks them again)' },
  },
} as const;

export const faceResult = {
  type: 'object',
  properties: {
    face: { type: 'object', description: 'the face found in the upload', properties: { box, quality: { type: 'number' }, gender: { type: 'string' }, age: { type: 'number' } } },
    matches: { type: 'array', items: { type: 'object', properties: { record: recordSummary, similarity: { type: 'number' } } } },
    missingShards: { type: 'array', items: { type: 'integer' }, description: 'cluster mode: shards no index replica answered for' },
  },
} as const;

export const cameraView = {
  type: 'object', additionalProperties: true, description: 'the camera config (URL credentials masked) and its health',
  properties: {
    id: { type: 'string' }, name: { type: 'string' }, url: { type: 'string' }, department: { type: 'string' }, district: { type: 'string' },
    enabled: { type: 'boolean' }, health: { type: 'object', additionalProperties: true },
  },
} as const;

export const idParams = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 256 } }, required: ['id'] } as const;

export const auditPage = {
  type: 'object',
  properties: {
    entries: {
      type: 'array', items: {
        type: 'object', properties: {
          at: { type: 'integer' }, tokenId: { type: 'string' }, role: { type: 'string' }, department: { type: 'string' }, action: { type: 'string' },
          query: {}, results: { anyOf: [{ type: 'integer' }, { type: 'array', items: { type: 'string' } }] },
        },
      },
    },
    nextCursor: { type: ['string', 'null'] },
  },
} as const;

/** Accepts epoch milliseconds or an ISO time; anything else is passed on so the index's parser names the field. */
export function parseTime(v: string | undefined): unknown {
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  return Number.isNaN(t) ? v : t;
}

export function parseList(v: string | undefined): string[] | undefined {
  return v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
}

const int = { type: 'integer' } as const;
const str = { type: 'string' } as const;
const strings = { type: 'array', items: str } as const;
const ints = { type: 'array', items: int } as const;

/** GET /api/v1/cluster: cluster/types.ts ClusterStatus, field for field (unknown fields are an error, not dropped silently by a client). */
export const clusterStatus = {
  type: 'object', additionalProperties: false,
  description: 'membership, camera leases, unassigned cameras and index consumers of the cluster, read at `at`',
  required: ['at', 'shards', 'replicas', 'nodes', 'leases', 'unassigned', 'consumers', 'shardsWithoutReplica'],
  properties: {
    at: int, shards: int, replicas: int,
    nodes: {
      type: 'array', items: {
        type: 'object', additionalProperties: false,
        required: ['id', 'roles', 'instance', 'startedAt', 'renewedAt', 'capacity', 'shards', 'apiUrl', 'draining', 'alive', 'cameras'],
        properties: {
          id: str, roles: { type: 'array', items: { type: 'string', enum: CLUSTER_ROLES } }, instance: str, startedAt: int, renewedAt: int,
          capacity: { type: 'integer', description: 'cameras it takes at most (analytics)' }, shards: { ...ints, description: 'index shards it holds' },
          apiUrl: { type: ['string', 'null'] }, draining: { type: 'boolean' },
          alive: { type: 'boolean', description: 'renewed within the lease TTL' }, cameras: { ...strings, description: 'cameras it holds a live lease on' },
        },
      },
    },
    leases: {
      type: 'array', items: {
        type: 'object', additionalProperties: false,
        required: ['cameraId', 'node', 'instance', 'epoch', 'acquiredAt', 'renewedAt', 'stale'],
        properties: { cameraId: str, node: str, instance: str, epoch: int, acquiredAt: int, renewedAt: int, stale: { type: 'boolean' } },
      },
    },
    unassigned: { ...strings, description: 'enabled cameras without a live lease' },
    consumers: {
      type: 'array', items: {
        type: 'object', additionalProperties: false,
        required: ['node', 'stream', 'shard', 'consumer', 'pending', 'ackPending'],
        properties: {
          node: str, stream: str, shard: int, consumer: str,
          pending: { type: 'integer', description: 'records not yet delivered to the consumer' },
          ackPending: { type: 'integer', description: 'delivered, not yet acknowledged' },
        },
      },
    },
    shardsWithoutReplica: { ...ints, description: 'shards with no live index replica' },
  },
} as const;
