/**
 * Cluster routes (operators and admins): the cluster's status (membership, camera leases, unassigned cameras,
 * index consumers' lag, shards without a replica) and draining a node. On a single node (no ClusterSource)
 * both answer 404 API_NOT_FOUND saying so, after the role check, so a 403 still says nothing about the mode.
 */
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../common/errors.js';
import type { ClusterStatus } from '../cluster/index.js';
import { ROLES } from './auth.js';
import type { ApiContext } from './context.js';
import { clusterStatus, errors, idParams } from './schemas.js';
import type { ClusterSource } from './types.js';

function notClustered(): ApiError {
  return new ApiError(404, 'API_NOT_FOUND', 'this core is not in cluster mode (config cluster is off): there is no cluster to report or drain');
}

/** What GET /api/v1/health says about the cluster: counts an operator reads at a glance. */
export interface ClusterHealthSummary {
  readonly nodes: number;
  readonly nodesAlive: number;
  readonly nodesDraining: number;
  readonly camerasAssigned: number;
  readonly camerasUnassigned: number;
  readonly shardsWithoutReplica: readonly number[];
}

export function clusterSummary(s: ClusterStatus): ClusterHealthSummary {
  return {
    nodes: s.nodes.length,
    nodesAlive: s.nodes.filter((n) => n.alive).length,
    nodesDraining: s.nodes.filter((n) => n.draining).length,
    camerasAssigned: s.leases.filter((l) => !l.stale).length,
    camerasUnassigned: s.unassigned.length,
    shardsWithoutReplica: s.shardsWithoutReplica,
  };
}

export function clusterRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const source = (): ClusterSource => {
    const c = ctx.o.cluster;
    if (!c) throw notClustered();
    return c;
  };

  app.get('/api/v1/cluster', {
    config: { access: { roles: ROLES.operate } },
    schema: {
      summary: 'the cluster: nodes, camera leases, unassigned cameras, index consumers\' lag, shards without a replica (404 on a single node)',
      tags: ['cluster'], response: { 200: clusterStatus, ...errors(404) },
    },
  }, async () => source().status());

  app.post<{ Params: { id: string } }>('/api/v1/cluster/nodes/:id/drain', {
    config: { access: { roles: ROLES.operate } },
    schema: {
      summary: 'drain a node: it hands its cameras back to the others and takes no new ones (404 CLUSTER_UNKNOWN_NODE for an id not in the cluster)',
      tags: ['cluster'], params: idParams,
      response: { 202: { type: 'object', description: 'drain requested', required: ['node'], properties: { node: { type: 'string' } } }, ...errors(404) },
    },
  }, async (req, reply) => {
    const c = source();
    await c.drain(req.params.id);
    ctx.o.log.info('cluster: node drain requested', { node: req.params.id, token: ctx.principal(req).tokenId });
    return reply.status(202).send({ node: req.params.id });
  });
}
