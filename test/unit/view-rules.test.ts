// The filter and presence rules that the admin page, the log API, the realtime server and
// `userlog tail` all load from the same file.
import t from 'tap'
import { filters, presence } from '../../src/shared/view-rules.js'

const { parseFilter, matches, filterParams, isEmpty, kindGroup } = filters
const { observe, presenceAt, nextChangeAt, presenceOfLog, ACTIVE_MS, GONE_MS, LEAVE_GRACE_MS } = presence

const ENTRIES: Array<Record<string, unknown>> = [
  { id: 'a', kind: 'request', method: 'GET', path: '/cart?x=1', route: '/cart', status: 200 },
  { id: 'b', kind: 'request', method: 'POST', path: '/cart/items', route: '/cart/items', status: 503 },
  { id: 'c', kind: 'request', method: 'GET', path: '/login', route: '/login', status: 302 },
  { id: 'd', kind: 'request', method: 'delete', path: '/items/9', route: '/items/:id', status: 404 },
  { id: 'e', kind: 'pageview', src: 'client', path: '/Cart' },
  { id: 'f', kind: 'heartbeat', src: 'client', path: '/cart' },
  { id: 'g', kind: 'visibility', src: 'client', path: '/cart', state: 'hidden' },
  { id: 'h', kind: 'interaction', src: 'client', path: '/cart', event: 'click' },
  { id: 'i', kind: 'error', src: 'client', path: '/checkout', message: 'x' },
  { id: 'j', kind: 'request_failed', src: 'client', path: '/checkout', url: '/api/cart', method: 'POST', status: 500 },
  { id: 'k', kind: 'request_failed', src: 'client', path: '/checkout', url: 'https://cdn.example/x.js', status: 0 },
  { id: 'l', kind: 'session_end', src: 'client', path: '/checkout' },
  { id: 'm', kind: 'ws_close', method: 'GET', path: '/socket', route: '/socket', code: 1000 },
  { id: 'n', kind: 'signup', path: '/welcome' }
]

function shown (input: Parameters<typeof parseFilter>[0]): string {
  const parsed = parseFilter(input)
  if (parsed.error !== null) throw new Error(parsed.error)
  return ENTRIES.filter((e) => matches(parsed.filter, e)).map((e) => e.id).join('')
}

t.test('filters: each constraint shows exactly the matching entries', async (t) => {
  t.equal(shown({}), 'abcdefghijklmn', 'no filter: everything')
  t.equal(shown({ kind: 'request' }), 'abcdm', 'requests, with the host WebSocket closes')
  t.equal(shown({ kind: 'error' }), 'ijk', 'errors and failed browser requests')
  t.equal(shown({ kind: 'heartbeat' }), 'fg', 'heartbeats with visibility changes')
  t.equal(shown({ kind: 'session_end,pageview' }), 'el')
  t.equal(shown({ kind: 'other' }), 'n', 'a host kind is "other"')
  t.equal(shown({ status: '5xx' }), 'bj', 'a status class: server and browser, no status-less entry')
  t.equal(shown({ status: '3xx,4xx' }), 'cd')
  t.equal(shown({ status: '2XX' }), 'a', 'classes are case-insensitive')
  t.equal(shown({ method: 'delete' }), 'd', 'methods compare upper-cased')
  t.equal(shown({ method: 'POST' }), 'bj')
  t.equal(shown({ q: 'CART' }), 'abefghj', 'path contains, case-insensitively, in path, route and url')
  t.equal(shown({ q: 'items/:id' }), 'd', 'the route is searched too')
  t.equal(shown({ kind: 'request,error', status: '5xx', q: '/cart' }), 'bj', 'constraints combine with AND')
  t.equal(shown({ kind: ' request , ', status: '' }), 'abcdm', 'blanks and empty lists are no constraint')
})

t.test('filters: bad values are refused with a message naming the field', async (t) => {
  t.match(parseFilter({ kind: 'request,bogus' }), { filter: null, error: /^kind: unknown kind "bogus"/ })
  t.match(parseFilter({ status: '6xx' }), { filter: null, error: /^status: unknown class "6xx"/ })
  t.match(parseFilter({ method: 'GE T' }), { filter: null, error: /^method: "GE T"/ })
  t.match(parseFilter({ method: Array.from({ length: 11 }, () => 'GET').join(',') }), { error: /^method: at most 10/ })
  t.match(parseFilter({ q: 'x'.repeat(201) }), { error: /^q: at most 200/ })
  t.match(parseFilter({ kind: '__proto__' }), { filter: null }, 'no prototype key is a kind')
  t.equal(kindGroup('constructor'), 'other')
})

t.test('filters: the same view always gives the same parameters, and they read back', async (t) => {
  const parsed = parseFilter({ kind: 'error,request', status: '5xx,2xx', method: 'post,GET', q: '/Cart' })
  if (parsed.error !== null) throw new Error(parsed.error)
  const params = filterParams(parsed.filter)
  t.same(params, [['kind', 'request,error'], ['status', '2xx,5xx'], ['method', 'GET,POST'], ['q', '/Cart']])
  const again = parseFilter(Object.fromEntries(params))
  t.same(again.filter, parsed.filter, 'round trip')
  t.ok(isEmpty(filters.NO_FILTER))
  t.notOk(isEmpty(parsed.filter))
})

const client = (t: number, kind: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ t, kind, src: 'client', path: '/p', ...extra })

t.test('presence: active, then away when hidden or quiet, then gone', async (t) => {
  let track = observe(null, client(1000, 'pageview', { path: '/items' }))
  if (track === null) throw new Error('no track')
  t.same(presenceAt(track, 1000), { state: 'active', since: 1000, page: '/items' })
  track = observe(track, client(16_000, 'heartbeat', { path: '/items' })) ?? track
  t.same(presenceAt(track, 16_000 + ACTIVE_MS - 1), { state: 'active', since: 1000, page: '/items' },
    'heartbeats keep the same active spell')
  t.same(presenceAt(track, 16_000 + ACTIVE_MS), { state: 'away', since: 16_000 + ACTIVE_MS, page: '/items' },
    'quiet for two heartbeats: away since the moment it went quiet')
  t.same(presenceAt(track, 16_000 + GONE_MS), { state: 'gone', since: 16_000 + GONE_MS, page: '/items' })
  t.equal(nextChangeAt(track, 20_000), 16_000 + ACTIVE_MS, 'the next change is when it goes quiet')

  const hidden = observe(track, client(20_000, 'visibility', { state: 'hidden' })) ?? track
  t.same(presenceAt(hidden, 20_001), { state: 'away', since: 20_000, page: '/p' }, 'hidden: away at once')
  const again = observe(hidden, client(21_000, 'visibility', { state: 'hidden' })) ?? hidden
  t.equal(presenceAt(again, 21_001).since, 20_000, 'a second hidden keeps the first time')
  const back = observe(again, client(25_000, 'heartbeat')) ?? again
  t.same(presenceAt(back, 25_001), { state: 'active', since: 25_000, page: '/p' }, 'a new active spell')

  const left = observe(back, client(30_000, 'session_end')) ?? back
  t.equal(presenceAt(left, 30_000 + LEAVE_GRACE_MS - 1).state, 'active', 'a leave waits for the next page')
  t.same(presenceAt(left, 30_000 + LEAVE_GRACE_MS), { state: 'gone', since: 30_000, page: '/p' },
    'nothing followed the leave: gone since the leave')
  t.equal(nextChangeAt(left, 30_001), 30_000 + LEAVE_GRACE_MS)
  const next = observe(left, client(30_200, 'pageview', { path: '/next' })) ?? left
  t.same(presenceAt(next, 40_000), { state: 'active', since: 25_000, page: '/next' },
    'moving to the next page stays one active spell')
  t.equal(nextChangeAt(next, 30_200 + GONE_MS), null, 'gone: no change due')
})

t.test('presence: only client events count, out-of-order ones are ignored, logs read newest first', async (t) => {
  t.equal(observe(null, { t: 1, kind: 'request', path: '/x' }), null, 'a server request says nothing')
  t.equal(observe(null, { t: 'soon', kind: 'pageview', src: 'client' }), null, 'no time, no presence')
  const track = observe(null, client(5000, 'heartbeat'))
  t.equal(observe(track, client(4000, 'session_end')), track, 'an older event changes nothing')
  t.equal(presenceOfLog([{ t: 1, kind: 'request' }], 2), null)
  const log = [client(9000, 'visibility', { state: 'hidden' }), { t: 8000, kind: 'request' }, client(7000, 'pageview')]
  t.same(presenceOfLog(log, 9500), { state: 'away', since: 9000, page: '/p' })
  const errorsOnly = [client(9000, 'error')]
  t.same(presenceOfLog(errorsOnly, 9500), { state: 'away', since: 9500, page: '/p' },
    'an error alone is a sign of life, not of activity')
})
