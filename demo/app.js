// The demo site: a few HTML pages, a fake login and fastify-userlog. Every request of a logged-in
// user (pages, the form POST, redirects, 404s) lands in that user's log; `admin` can watch them
// at /userlog/.
//
// Login is deliberately fake: `GET /login?user=NAME` trusts NAME. The cookie is signed, so a
// visitor cannot edit it into someone else's name without going through /login, and every name
// is accepted as it is (odd characters included) to show that the plugin and the admin page
// handle any username safely. Every user-controlled value is escaped before it reaches the HTML.
import { createHash, randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import fastifyCookie from '@fastify/cookie'
import { userlog } from '../dist/index.js'

export const COOKIE_NAME = 'demo_user'
/** Fixed on purpose: the demo's anonymized exports stay comparable across restarts. Never reuse it. */
export const DEMO_ANONYMIZE_SECRET = 'fastify-userlog demo anonymize secret'
/** The plugin's own limit on usernames. */
const MAX_USERNAME = 256
const MAX_ITEM_NAME = 100
const MAX_ITEMS = 100
const ROUTE_PREFIX = '/userlog'

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml (value) {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c])
}

const CSS = `
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2733;background:#f6f7f9}
nav{display:flex;flex-wrap:wrap;gap:.4em 1em;align-items:center;padding:.6em 1.2em;background:#1d2733;color:#fff}
nav a{color:#9cd3ff}nav .who{margin-left:auto}nav form{display:inline}
main{max-width:46em;margin:1.5em auto;padding:0 1.2em}
.card{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:1em 1.2em;margin:1em 0}
code{background:#eef1f4;padding:0 .25em;border-radius:3px}
input,button{font:inherit}
`
// The stylesheet is inline and allowed by its hash, so the Content-Security-Policy needs no 'unsafe-inline'.
const CSS_HASH = createHash('sha256').update(CSS).digest('base64')
const CSP = [
  "default-src 'none'", "script-src 'self'", "connect-src 'self'", `style-src 'sha256-${CSS_HASH}'`,
  "img-src 'self'", "form-action 'self'", "base-uri 'none'", "frame-ancestors 'none'"
].join('; ')

function nav (user) {
  const who = user === undefined
    ? 'Not logged in'
    : `Logged in as <strong>${escapeHtml(user)}</strong> · <a href="/logout" data-userlog="logout">Log out</a>`
  return `<nav>
<a href="/">Home</a><a href="/items">Items</a><a href="/spa">SPA</a><a href="/trouble">Trouble</a>
<a href="/about">About</a>
<span>Log in as <a href="/login?user=alice">alice</a> · <a href="/login?user=bob">bob</a>
· <a href="/login?user=admin">admin</a></span>
<form action="/login" method="get"><input name="user" placeholder="any name" aria-label="user name"
maxlength="${MAX_USERNAME}"> <button>Log in</button></form>
<a href="${ROUTE_PREFIX}/" data-userlog="admin-page">Admin page</a>
<span class="who">${who}</span>
</nav>`
}

function layout (user, title, body) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · fastify-userlog demo</title>
<style>${CSS}</style>
<script defer src="${ROUTE_PREFIX}/tracker.js"></script>
</head>
<body>
${nav(user)}
<main>
${body}
</main>
</body>
</html>
`
}

function userOf (req) {
  return req.user?.username
}

async function sendPage (reply, status, title, body) {
  return await reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('Content-Security-Policy', CSP)
    .header('X-Content-Type-Options', 'nosniff')
    .header('Cache-Control', 'no-store')
    .send(layout(userOf(reply.request), title, body))
}

/**
 * Builds the demo app (registered, not listening).
 * @param {object} [opts]
 * @param {string} [opts.redisUrl] Redis for the plugin (default: the plugin's own default).
 * @param {number} [opts.realtimePort] Port of the realtime server (default 8080).
 * @param {string} [opts.realtimeUrl] Overrides the realtime URL the admin page connects to.
 * @param {boolean|object} [opts.logger] Fastify's `logger` option.
 * @param {string} [opts.cookieSecret] Signs the login cookie (default: DEMO_COOKIE_SECRET, else random per start).
 */
export async function buildDemo ({ redisUrl, realtimePort = 8080, realtimeUrl, logger = false, cookieSecret } = {}) {
  const app = Fastify({ logger })
  const secret = cookieSecret ?? process.env.DEMO_COOKIE_SECRET ?? randomBytes(32).toString('base64url')

  await app.register(fastifyCookie, { secret })

  // Registered before the plugin, so it also runs for the plugin's admin routes (isAdmin reads req.user).
  app.decorateRequest('user', null)
  app.addHook('onRequest', async (req) => {
    const raw = req.cookies[COOKIE_NAME]
    if (raw === undefined) return
    const { valid, value } = req.unsignCookie(raw)
    if (valid && typeof value === 'string' && value !== '') req.user = { username: value }
  })

  // realtimeUrl: with the realtime server on the default port 8080 the option is left unset, so
  // the plugin's default `ws://<host of the page>:8080/live` follows whatever host the browser
  // used (localhost, 127.0.0.1, a LAN address, a container's published port). On another port
  // there is no per-request option, so the admin page connects to ws://localhost:<port>/live
  // (realtimeUrl, e.g. from REALTIME_URL, overrides both).
  const live = realtimeUrl ?? (realtimePort === 8080 ? undefined : `ws://localhost:${realtimePort}/live`)
  await app.register(userlog, {
    ...(redisUrl === undefined ? {} : { redis: redisUrl }),
    isAdmin: (req) => req.user?.username === 'admin',
    anonymizeSecret: DEMO_ANONYMIZE_SECRET,
    // The browser's failed requests name the server entry of the same request.
    exposeRequestId: true,
    // What a host would know of its user, shown on the admin page's user card.
    describeUser: (req) => req.user === undefined
      ? undefined
      : { plan: req.user.username === 'alice' ? 'Pro' : 'Free', account: `acct-${req.user.username.length}` },
    ...(live === undefined ? {} : { realtimeUrl: live })
  })

  // HTML forms post application/x-www-form-urlencoded; a small body is all the demo needs.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 },
    (_req, body, done) => { done(null, Object.fromEntries(new URLSearchParams(body))) })

  const items = new Map([
    [1, { id: 1, name: 'Blue mug', by: 'shop' }],
    [2, { id: 2, name: 'Paper notebook', by: 'shop' }],
    [3, { id: 3, name: 'Desk lamp', by: 'shop' }]
  ])
  let nextItemId = 4

  app.get('/', async (req, reply) => {
    const user = userOf(req)
    const intro = user === undefined
      ? '<p>Log in with any name (links above). From then on every request you make is logged for support staff.</p>'
      : `<p>Hello <strong>${escapeHtml(user)}</strong>. Everything you do here is logged: browse around, ` +
        'add an item, visit a page that does not exist.</p>'
    return await sendPage(reply, 200, 'Home', `<h1>fastify-userlog demo</h1>
${intro}
<div class="card">
<p>To watch a user live: open <a href="/login?user=admin">/login?user=admin</a> in another browser
(or a private window), then <a href="${ROUTE_PREFIX}/">the admin page</a>, search for the user and
switch on the live log.</p>
<p>Seeded users with history: <code>alice</code>, <code>bob</code>, <code>carol</code>.</p>
</div>`)
  })

  app.get('/about', async (_req, reply) => {
    return await sendPage(reply, 200, 'About', `<h1>About</h1>
<p>A small site to try <code>fastify-userlog</code>: the login is fake (any name is accepted), the user
<code>admin</code> may read the logs, and the data lives in Redis.</p>`)
  })

  app.get('/items', async (_req, reply) => {
    const list = [...items.values()].map((item) =>
      `<li><a href="/items/${item.id}" data-userlog="item-link">${escapeHtml(item.name)}</a> ` +
      `<small>by ${escapeHtml(item.by)}</small></li>`).join('\n')
    return await sendPage(reply, 200, 'Items', `<h1>Items</h1>
<ul>
${list}
</ul>
<form class="card" action="/items" method="post">
<label>New item <input name="name" required maxlength="${MAX_ITEM_NAME}"></label>
<button data-userlog="add-item">Add</button>
</form>`)
  })

  app.get('/items/:id', async (req, reply) => {
    const item = /^\d{1,9}$/.test(req.params.id) ? items.get(Number(req.params.id)) : undefined
    if (item === undefined) return await notFound(req, reply)
    return await sendPage(reply, 200, item.name, `<h1>${escapeHtml(item.name)}</h1>
<p>Item #${item.id}, added by ${escapeHtml(item.by)}.</p>
<p><a href="/items">All items</a></p>`)
  })

  app.post('/items', async (req, reply) => {
    const name = typeof req.body?.name === 'string' ? req.body.name.trim() : ''
    if (name === '' || name.length > MAX_ITEM_NAME) {
      return await sendPage(reply, 400, 'Bad item', `<h1>Bad item</h1>
<p>An item needs a name of 1 to ${MAX_ITEM_NAME} characters. <a href="/items">Back</a></p>`)
    }
    const id = nextItemId++
    items.set(id, { id, name, by: userOf(req) ?? 'anonymous' })
    if (items.size > MAX_ITEMS) items.delete(items.keys().next().value)
    return await reply.redirect(`/items/${id}`, 303)
  })

  app.get('/login', async (req, reply) => {
    const name = req.query.user
    if (typeof name !== 'string' || name === '' || name.length > MAX_USERNAME || !name.isWellFormed()) {
      return await sendPage(reply, 400, 'Log in', `<h1>Log in</h1>
<p>Give a name of 1 to ${MAX_USERNAME} characters, e.g. <a href="/login?user=alice">/login?user=alice</a>.</p>`)
    }
    reply.setCookie(COOKIE_NAME, name, { signed: true, path: '/', httpOnly: true, sameSite: 'lax' })
    return await reply.redirect('/', 302)
  })

  app.get('/logout', async (_req, reply) => {
    reply.clearCookie(COOKIE_NAME, { path: '/' })
    return await reply.redirect('/', 302)
  })

  // A small single-page app: history navigation between views. tracker.js records a page view
  // per path change (not per query change); a button records a custom interaction with track().
  // The page's CSP allows scripts from this origin only, so the app's script is a file.
  const SPA_JS = `const titles = { '/spa': 'Overview', '/spa/settings': 'Settings', '/spa/help': 'Help' }
function render () { document.getElementById('spa-title').textContent = titles[location.pathname] ?? 'Not found' }
document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[data-spa]')
  if (!a) return
  ev.preventDefault()
  history.pushState({}, '', a.getAttribute('href'))
  render()
})
window.addEventListener('popstate', render)
document.getElementById('spa-sort').addEventListener('click', () => {
  const url = new URL(location.href)
  url.searchParams.set('sort', url.searchParams.get('sort') === 'asc' ? 'desc' : 'asc')
  history.replaceState({}, '', url.pathname + url.search) // query only: no page view
})
document.getElementById('spa-rate').addEventListener('click', () => {
  window.userlog?.track('page_rated', { element: 'rate-button', metadata: { stars: 5, view: location.pathname } })
})
render()
`
  app.get('/spa.js', async (_req, reply) => await reply
    .type('text/javascript; charset=utf-8')
    .header('Cache-Control', 'no-store')
    .send(SPA_JS))
  const spaPage = async (_req, reply) => await sendPage(reply, 200, 'Single-page app', `<h1>Single-page app</h1>
<p class="card"><a href="/spa" data-spa>Overview</a> · <a href="/spa/settings" data-spa>Settings</a>
· <a href="/spa/help" data-spa>Help</a></p>
<div class="card"><h2 id="spa-title">Overview</h2>
<p><button id="spa-sort" data-userlog="sort-toggle">Sort (changes only the query)</button>
<button data-userlog="export-button">Export</button>
<button id="spa-rate">Rate this page</button></p></div>
<script defer src="/spa.js"></script>`)
  app.get('/spa', spaPage)
  app.get('/spa/*', spaPage)

  // Trouble: things that go wrong in the browser, for the tracker to report — an uncaught error, a
  // request answered 500, a request to a route that does not exist (404), and a button that does
  // nothing however often it is clicked (a rage click).
  const TROUBLE_JS = `const result = document.getElementById('trouble-result')
const say = (text) => { result.textContent = text }
document.getElementById('trouble-throw').addEventListener('click', () => {
  say('An error was thrown (see the console).')
  throw new Error('Trouble page: this error is thrown on purpose')
})
async function call (url) {
  try {
    const res = await fetch(url, { headers: { accept: 'application/json' } })
    say(url + ' answered ' + res.status + '.')
  } catch (err) {
    say(url + ' failed: ' + err.message)
  }
}
document.getElementById('trouble-fail').addEventListener('click', () => { void call('/api/demo/fail') })
document.getElementById('trouble-missing').addEventListener('click', () => { void call('/api/demo/missing') })
`
  app.get('/trouble.js', async (_req, reply) => await reply
    .type('text/javascript; charset=utf-8')
    .header('Cache-Control', 'no-store')
    .send(TROUBLE_JS))
  app.get('/trouble', async (_req, reply) => await sendPage(reply, 200, 'Trouble', `<h1>Trouble</h1>
<p>Each button makes something go wrong, so the admin page has it to show.</p>
<div class="card"><p>
<button id="trouble-throw" data-userlog="throw-error">Throw an error</button>
<button id="trouble-fail" data-userlog="request-500">Request that fails (500)</button>
<button id="trouble-missing" data-userlog="request-404">Call a missing route (404)</button>
<button id="trouble-dead" data-userlog="dead-button">Dead button (click it again and again)</button>
</p>
<p id="trouble-result" role="status"></p></div>
<script defer src="/trouble.js"></script>`))
  app.get('/api/demo/fail', async (_req, reply) => await reply
    .code(500)
    .header('Cache-Control', 'no-store')
    .send({ error: 'Internal Server Error', message: 'this request fails on purpose' }))

  // A page that always fails, so the admin page has a server error to show.
  app.get('/broken', async () => {
    throw Object.assign(new Error('this page is broken on purpose'), { demo: true })
  })

  async function notFound (req, reply) {
    // Shown decoded (and escaped), as the visitor typed it.
    let path = req.url.split('?')[0]
    try { path = decodeURIComponent(path) } catch { /* not valid percent-encoding: shown as it came */ }
    return await sendPage(reply, 404, 'Not found', `<h1>Not found</h1>
<p>There is no page at <code>${escapeHtml(path)}</code>. This visit is logged all the same.</p>`)
  }

  app.setNotFoundHandler(notFound)

  app.setErrorHandler(async (err, req, reply) => {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600
      ? err.statusCode
      : 500
    if (status >= 500 && err.demo !== true) req.log.error({ err }, 'demo page failed')
    const message = status < 500 ? err.message : 'Something went wrong on our side.'
    return await sendPage(reply, status, 'Error', `<h1>Error ${status}</h1><p>${escapeHtml(message)}</p>`)
  })

  return app
}
