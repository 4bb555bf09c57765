/**
 * The audit trail's proofs, for admins: verify the chain (the whole trail or a time range), export a range with
 * its proofs (JSON lines that verify on their own: `cvcore audit verify --file`), sign the head now (a
 * checkpoint to ship off the node). The CLI uses these while a core holds the index: RocksDB lets one process
 * open it. An export discloses other people's queries, so it is itself written to the trail.
 */
import type { FastifyInstance } from 'fastify';
import { ApiError, CvcoreError } from '../common/errors.js';
import { ROLES } from './auth.js';
import type { ApiContext } from './context.js';
import { errors, parseTime } from './schemas.js';

const range = {
  type: 'object', additionalProperties: false,
  properties: { from: { type: 'string', description: 'epoch ms or ISO time' }, to: { type: 'string', description: 'epoch ms or ISO time' } },
} as const;

const problem = { type: 'object', properties: { seq: { type: 'integer' }, kind: { type: 'string' }, message: { type: 'string' } } } as const;
const report = {
  type: 'object',
  properties: {
    ok: { type: 'boolean' }, entries: { type: 'integer' }, chained: { type: 'integer' }, unchained: { type: 'integer' }, redacted: { type: 'integer' },
    firstSeq: { type: ['integer', 'null'] }, lastSeq: { type: ['integer', 'null'] }, checkpoints: { type: 'integer' },
    lastCheckpointSeq: { type: ['integer', 'null'] }, uncovered: { type: 'integer' }, keyFingerprint: { type: ['string', 'null'] },
    firstBroken: { type: ['integer', 'null'] }, problems: { type: 'array', items: problem }, problemCount: { type: 'integer' },
  },
} as const;
const checkpoint = {
  type: ['object', 'null'],
  properties: {
    v: { type: 'integer' }, kind: { type: 'string' }, seq: { type: 'integer' }, hash: { type: 'string' }, at: { type: 'integer' },
    node: { type: 'string' }, keyFingerprint: { type: 'string' }, signature: { type: 'string' },
  },
} as const;

function times(q: { from?: string; to?: string }): { from?: number; to?: number } {
  const out: { from?: number; to?: number } = {};
  for (const k of ['from', 'to'] as const) {
    const t = parseTime(q[k]);
    if (t === undefined) continue;
    if (typeof t !== 'number') throw new ApiError(400, 'API_BAD_REQUEST', `${k} must be epoch ms or an ISO time`);
    out[k] = t;
  }
  return out;
}

export function auditRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { o } = ctx;
  const unavailable = (why = 'this core keeps no local audit trail'): ApiError => new ApiError(503, 'API_AUDIT_UNAVAILABLE', why);
  // The key is the core's own here: a missing one is the core's state, not the caller's mistake.
  const own = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof CvcoreError && err.code === 'AUDIT_KEY') throw unavailable(`this core has no node key for its audit trail (${err.message})`);
      throw err;
    }
  };

  app.get<{ Querystring: { from?: string; to?: string } }>('/api/v1/audit/verify', {
    config: { access: { roles: ROLES.audit } },
    schema: {
      summary: 'walk the audit hash chain and check every signed checkpoint; with from/to, the export of that range (admins only)', tags: ['admin'],
      querystring: range, response: { 200: report, ...errors(400, 503) },
    },
  }, async (req) => {
    if (!o.index.verifyAudit) throw unavailable();
    const verify = o.index.verifyAudit.bind(o.index);
    return own(() => verify(times(req.query)));
  });

  app.get<{ Querystring: { from?: string; to?: string } }>('/api/v1/audit/export', {
    config: { access: { roles: ROLES.audit } },
    schema: {
      summary: 'the audit entries of a time range with their proofs, as JSON lines that verify on their own (admins only; audited)', tags: ['admin'],
      querystring: range, response: { ...errors(400, 503) },
    },
  }, async (req, reply) => {
    if (!o.index.exportAudit) throw unavailable();
    const t = times(req.query);
    if (t.from === undefined || t.to === undefined) throw new ApiError(400, 'API_BAD_REQUEST', 'from and to are both needed');
    const exportAudit = o.index.exportAudit.bind(o.index);
    const lines = await own(() => exportAudit({ from: t.from!, to: t.to! }));
    await ctx.audit(req, 'audit_export', t, lines.length - 1);
    return reply.type('application/x-ndjson').send(lines.join('\n') + '\n');
  });

  app.post('/api/v1/audit/checkpoint', {
    config: { access: { roles: ROLES.audit } },
    schema: {
      summary: 'sign the head of the audit chain now and answer the latest checkpoint (null: no chain yet); keep a copy off the node (admins only)', tags: ['admin'],
      response: { 200: checkpoint, ...errors(503) },
    },
  }, async () => {
    if (!o.index.auditCheckpoint) throw unavailable();
    const sign = o.index.auditCheckpoint.bind(o.index);
    return own(() => sign());
  });
}
