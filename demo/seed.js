// Seeded traffic, so the admin page has something to show before anyone clicks: a few dozen
// requests of alice, bob and carol through the app itself (app.inject), with their login cookies,
// and a few browser page views with their active time (for the report's time on page), then one
// flush so every entry is in Redis when the demo prints its URLs.
import { COOKIE_NAME } from './app.js'

const BROWSERS = {
  alice: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
    'Chrome/131.0.0.0 Safari/537.36',
  bob: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) ' +
    'Version/18.1 Safari/605.1.15',
  carol: 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'
}

/** Each user's visit: [method, url, form body?]. */
const VISITS = {
  alice: [
    ['GET', '/'], ['GET', '/items'], ['GET', '/items/1'], ['GET', '/items/2'], ['GET', '/items?page=2'],
    ['POST', '/items', 'name=Green+teapot'], ['GET', '/items/4'], ['GET', '/about'], ['GET', '/pricing'],
    ['GET', '/'], ['GET', '/items/3'], ['GET', '/items']
  ],
  bob: [
    ['GET', '/'], ['GET', '/about'], ['GET', '/items'], ['GET', '/items/999'], ['GET', '/items/2'],
    ['GET', '/search?q=lamp&token=not-stored'], ['GET', '/broken'], ['GET', '/items'], ['GET', '/'],
    ['GET', '/help/contact']
  ],
  carol: [
    ['GET', '/'], ['GET', '/items'], ['POST', '/items', 'name='], ['POST', '/items', 'name=Wool+scarf'],
    ['GET', '/items/1'], ['GET', '/about'], ['GET', '/old-page'], ['GET', '/logout']
  ]
}

/**
 * Page views as the tracker reports them: [path, heartbeats sent, active ms reported on leaving
 * (null: the leave never arrived)].
 */
const PAGE_TIMES = {
  alice: [['/items', 3, 48_000], ['/items/1', 1, 21_500], ['/about', 0, 6_000]],
  bob: [['/items', 2, null], ['/about', 0, 9_000]],
  carol: [['/items', 2, 33_000], ['/spa', 4, null]]
}

/** Logs a user in through /login and returns the signed cookie, as "name=value" for a Cookie header. */
export async function loginCookie (app, user) {
  const res = await app.inject({ method: 'GET', url: `/login?user=${encodeURIComponent(user)}` })
  // The Set-Cookie value as sent (still percent-encoded), not a decoded copy.
  const setCookie = [res.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith(COOKIE_NAME + '='))
  if (res.statusCode !== 302 || setCookie === undefined) {
    throw new Error(`demo login as ${user} failed with status ${res.statusCode}`)
  }
  return setCookie.split(';')[0]
}

/** Sends the seeded requests and flushes them to Redis. Returns how many requests were made. */
export async function seed (app) {
  let count = 0
  for (const [user, visits] of Object.entries(VISITS)) {
    const headers = { cookie: await loginCookie(app, user), 'user-agent': BROWSERS[user] }
    count++
    for (const [method, url, body] of visits) {
      await app.inject({
        method,
        url,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
        ...(body === undefined ? {} : { payload: body })
      })
      count++
    }
    const sid = `seed-${user}`
    for (const [path, heartbeats, activeMs] of PAGE_TIMES[user]) {
      app.userlog.record(user, { kind: 'pageview', src: 'client', sid, path })
      for (let i = 0; i < heartbeats; i++) app.userlog.record(user, { kind: 'heartbeat', src: 'client', sid, path })
      if (activeMs !== null) {
        app.userlog.record(user, { kind: 'session_end', src: 'client', sid, path, activeMs, pageMs: activeMs + 2000 })
      }
    }
  }
  await app.userlog.flush()
  return count
}
