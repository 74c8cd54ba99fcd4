// The public part of the plugin: tracker.js and the /events collector (client activity).
//
// POST {routePrefix}/events, in the order a request meets the checks:
//   1. Origin (onRequest): 403 for a foreign page (origin.ts).
//   2. Content type: only application/json and text/plain (sendBeacon), both parsed as JSON by
//      this scope's own parser; anything else is 415. The host's parsers are not touched.
//   3. Body: ≤ 16 KiB (413), valid JSON (400), one event or a batch of ≤ 50 (schema.ts, 400
//      naming every bad field).
//   4. Rate limit (preHandler, after the host's own hooks have identified the user): 429 with
//      Retry-After, counted in Redis per user, or per IP for a visitor without one.
//   5. Then the events become entries (writer.push; sessions ride along in the same batch) and the
//      answer is 204. A visitor without a user is answered 204 and dropped unless trackAnonymous.
// Nothing is stored and no cookie is set before step 5.
import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fastifyRateLimit from '@fastify/rate-limit'
import type { PluginContext } from '../context.js'
import type { Entry } from '../types.js'
import { MAX_UA, nextId, redactUrl, truncate } from '../write/entry.js'
import { hostCallbacks } from '../write/host-callbacks.js'
import { encodeUser } from '../shared/keys.js'
import { PUBLIC_DIR } from '../shared/public-dir.js'
import { badRequest } from '../shared/http.js'
import { makeOriginCheck } from '../shared/origin.js'
import { bodySchema, formatErrors, MAX_BODY, type ClientEvent } from './schema.js'
import { addEventFields } from './fields.js'
import { COOKIE_NAME, INACTIVITY_MS, cookieValue, readCookie, resolveSession } from './sid.js'
import { forSession } from './sessions.js'
import { makeDescribeUser } from './describe-user.js'

/** Posts to /events allowed per user (or per IP for visitors without a user) and window. */
export const EVENTS_PER_WINDOW = 120
export const RATE_WINDOW_MS = 60_000

export const TRACKER_FILE = PUBLIC_DIR + 'tracker.js'

export async function collectorRoutes (app: FastifyInstance, ctx: PluginContext): Promise<void> {
  const { settings, writer, client, keys } = ctx
  const { redactQuery, trackAnonymous, routePrefix, allowedOrigins } = settings
  const checkOrigin = makeOriginCheck(allowedOrigins)
  const host = hostCallbacks(settings, ' on /events', 'treating the post as anonymous')
  const userOf = (req: FastifyRequest): string | undefined => host.user(req, req.log)
  const describeUser = makeDescribeUser(settings)

  // --- tracker.js: public, cacheable, revalidated by ETag --------------------------------------
  const tracker = readFileSync(TRACKER_FILE)
  const etag = `"${createHash('sha256').update(tracker).digest('base64url').slice(0, 16)}"`
  app.get('/tracker.js', { config: { userlog: false } }, async (req, reply) => {
    reply.header('Cache-Control', 'public, max-age=3600')
    reply.header('ETag', etag)
    if (req.headers['if-none-match'] === etag) return await reply.code(304).send()
    return await reply.type('text/javascript; charset=utf-8').send(tracker)
  })

  // --- /events ---------------------------------------------------------------------------------
  // Cookies: the host's @fastify/cookie if it has one, else ours, in this scope only.
  if (!app.hasRequestDecorator('cookies')) await app.register(fastifyCookie)
  // Our JSON parser for both types, in this scope only: every other type (and the host's
  // parsers, which this scope would otherwise inherit) is refused with 415.
  app.removeAllContentTypeParsers()
  // Fastify's JSON parser (which refuses __proto__ and constructor.prototype), with messages
  // that do not assume application/json.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  const parserOptions = { parseAs: 'string', bodyLimit: MAX_BODY } as const
  app.addContentTypeParser(['application/json', 'text/plain'], parserOptions, (req, body: string, done) => {
    void parseJson(req, body, (err, value) => {
      if (err === null) return done(null, value)
      const message = body.length === 0
        ? 'body is empty: send an event or an array of events as JSON'
        : 'body is not valid JSON'
      done(badRequest(message), undefined)
    })
  })

  await app.register(fastifyRateLimit, {
    global: false,
    redis: client,
    nameSpace: keys.rateLimit,
    // A Redis outage lets posts through rather than failing them.
    skipOnError: true
  })

  app.post<{ Body: ClientEvent | ClientEvent[] }>('/events', {
    bodyLimit: MAX_BODY,
    schema: { body: bodySchema },
    schemaErrorFormatter: formatErrors,
    config: {
      userlog: false,
      rateLimit: {
        max: EVENTS_PER_WINDOW,
        timeWindow: RATE_WINDOW_MS,
        hook: 'preHandler',
        keyGenerator: (req) => {
          const user = userOf(req)
          return user === undefined ? 'ip:' + req.ip : 'u:' + encodeUser(user)
        }
      }
    },
    onRequest: async (req, reply) => {
      const refused = checkOrigin(req)
      if (refused !== null) {
        return await reply.code(403).send({ error: 'Forbidden', message: refused })
      }
      const origin = req.headers.origin
      if (origin !== undefined && allowedOrigins.has(origin)) {
        reply.header('Access-Control-Allow-Origin', origin)
        reply.header('Vary', 'Origin')
      }
    }
  }, async (req, reply) => {
    const events = Array.isArray(req.body) ? req.body : [req.body]
    // The schema checks the form of dates; the calendar is checked here (no 31st of February).
    const dates: Array<string | undefined> = events.map((e, i) => {
      if (e.date === undefined) return undefined
      const ms = Date.parse(e.date)
      if (!Number.isFinite(ms) || !calendarDay(e.date)) {
        throw badRequest(`body${Array.isArray(req.body) ? '/' + i : ''}/date must be a valid date-time`)
      }
      return new Date(ms).toISOString()
    })
    const known = userOf(req)
    if (known === undefined && !trackAnonymous) return await reply.code(204).send()

    const now = Date.now()
    const session = resolveSession(readCookie(req.headers.cookie), known, now)
    const user = known ?? 'anon:' + session.sid
    const ua = req.headers['user-agent']
    // Who the user is: asked once per session, on the post that starts it.
    const fields = session.fresh && describeUser !== null ? describeUser(req, req.log) : null
    events.forEach((e, i) => {
      const entry: Entry = {
        id: nextId(),
        t: now,
        user,
        kind: e.type,
        src: 'client',
        sid: session.sid,
        path: redactUrl(e.path, redactQuery),
        ip: req.ip,
        ua: ua === undefined ? '' : truncate(ua, MAX_UA)
      }
      if (dates[i] !== undefined) entry.clientDate = dates[i]
      addEventFields(entry, e, redactQuery)
      if (e.type === 'session_end') entry.duration = Math.max(0, Math.round((now - session.start) / 1000))
      const out = host.transform(entry, req, req.log)
      if (out !== null) writer.push(forSession(out, fields))
    })
    setSessionCookie(req, reply, cookieValue(session, known, now), routePrefix)
    return await reply.code(204).send()
  })
}

/** True when the YYYY-MM-DD the date-time starts with exists (no 31st of February). */
function calendarDay (date: string): boolean {
  const y = Number(date.slice(0, 4))
  const m = Number(date.slice(5, 7)) - 1
  const d = Number(date.slice(8, 10))
  const probe = new Date(Date.UTC(y, m, d))
  return probe.getUTCMonth() === m && probe.getUTCDate() === d
}

function setSessionCookie (req: FastifyRequest, reply: FastifyReply, value: string, path: string): void {
  void reply.setCookie(COOKIE_NAME, value, {
    path,
    httpOnly: true,
    sameSite: 'lax',
    secure: req.protocol === 'https',
    maxAge: INACTIVITY_MS / 1000
  })
}
