/**
 * API: the HTTP face of the core for investigators and operators (fastify, JSON schemas on every route).
 * Takes the running pipeline, index and alert sink; gives a listening server.
 */
export { startApi, type ApiOptions } from './server.js';
export { httpStatusFor } from './errors.js';
