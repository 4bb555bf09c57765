/**
 * Serves the console's build (console/dist) at /console/ from the core's fastify server: files with their
 * content types, an index.html fallback for paths that are not files, and a clear 503 while the build is
 * missing. No @fastify/static: a small handler reading files with fs is all this needs.
 * Compiled by the root tsc (the front-end sources in console/src have their own tsconfig and are not).
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { REPO_ROOT } from '../common/paths.js';

export const CONSOLE_PREFIX = '/console/';
export const CONSOLE_DIST = join(REPO_ROOT, 'console', 'dist');

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

export interface ConsoleOptions {
  /** Folder of the build; default console/dist in the repository. */
  readonly dir?: string;
}

async function fileAt(path: string): Promise<boolean> {
  try { return (await stat(path)).isFile(); } catch { return false; }
}

export function registerConsole(app: FastifyInstance, o: ConsoleOptions = {}): void {
  const root = normalize(o.dir ?? CONSOLE_DIST);

  const serve = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const url = req.url.split('?')[0] ?? '';
    let rel: string;
    try { rel = decodeURIComponent(url.slice(CONSOLE_PREFIX.length)); } catch { rel = ''; }
    const candidate = normalize(join(root, rel));
    // Never leave the build folder, whatever the path says (../, encoded separators).
    const inside = candidate === root || candidate.startsWith(root + sep);
    const index = join(root, 'index.html');
    if (!(await fileAt(index))) {
      return reply.status(503).type('text/plain; charset=utf-8')
        .send('The console is not built. Run: (cd console && npm ci && npm run build), or npm run setup.\n');
    }
    let file = index;
    if (inside && rel !== '' && (await fileAt(candidate))) file = candidate;
    else if (extname(rel) !== '') {
      // A missing asset is a 404, not the page: a stale bundle name must not come back as HTML.
      return reply.status(404).send({ code: 'API_NOT_FOUND', message: `no console file ${rel}` });
    }
    const body = await readFile(file);
    const hashed = file.includes(`${sep}assets${sep}`);
    return reply
      .type(TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream')
      .header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .send(body);
  };

  app.get('/console', async (_req, reply) => reply.redirect(CONSOLE_PREFIX, 302));
  app.get(`${CONSOLE_PREFIX}*`, serve);
}
