// The admin page: one static HTML file and its assets from public/admin, under a strict
// Content-Security-Policy (scripts and styles from this origin only, no inline code, no CDN).
import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import fastifyStatic from '@fastify/static'
import type { Settings } from '../options.js'
import { PUBLIC_DIR } from '../shared/public-dir.js'
import { realtimeUrlFor } from './api.js'

export async function adminPage (app: FastifyInstance, { settings }: { settings: Settings }): Promise<void> {
  const html = readFileSync(PUBLIC_DIR + 'admin/index.html', 'utf8')

  app.addHook('onSend', async (req, reply, payload) => {
    const live = new URL(realtimeUrlFor(settings, req))
    reply.header('Content-Security-Policy', [
      "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
      `connect-src 'self' ${live.protocol}//${live.host}`,
      "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'"
    ].join('; '))
    reply.header('X-Frame-Options', 'DENY')
    return payload
  })

  await app.register(fastifyStatic, {
    root: PUBLIC_DIR + 'admin/assets',
    prefix: '/assets/',
    decorateReply: false,
    index: false,
    // Assets change with the package version; admins should not see a stale page after an upgrade.
    cacheControl: false,
    etag: true
  })

  app.get('/', { prefixTrailingSlash: 'slash' }, async (_req, reply) => {
    return await reply.type('text/html; charset=utf-8').header('Cache-Control', 'no-store').send(html)
  })
  // Relative asset URLs need the trailing slash.
  app.get('/', { prefixTrailingSlash: 'no-slash' }, async (_req, reply) => {
    return await reply.redirect(settings.routePrefix + '/', 308)
  })
}
