// Which log entries a view shows: the one filter rule of the admin page (static log, live view,
// all users), the log API (`?kind=request,error&status=5xx&method=POST&q=/cart`) and
// `userlog tail --kind --status --method --path`. Plain JavaScript with no imports, so the browser
// and the server load the same file.

/** The kinds a filter offers, and the entry kinds each one covers; `other` is every other kind. */
export const KIND_GROUPS = Object.freeze({
  request: ['request', 'ws_close'],
  pageview: ['pageview'],
  interaction: ['interaction'],
  error: ['error', 'request_failed'],
  heartbeat: ['heartbeat', 'visibility'],
  session_end: ['session_end'],
  other: []
})
export const KIND_NAMES = Object.freeze(Object.keys(KIND_GROUPS))
export const STATUS_CLASSES = Object.freeze(['2xx', '3xx', '4xx', '5xx'])
export const MAX_QUERY = 200
export const MAX_METHODS = 10

/** Query-string patterns, for JSON schemas: comma-separated lists of the values above. */
const list = (/** @type {string} */ item) => `^(${item})(,(${item}))*$`
export const PATTERNS = Object.freeze({
  kind: list(KIND_NAMES.join('|')),
  status: list('[2-5]xx'),
  method: list('[A-Za-z]{1,16}')
})

/** @type {Map<string, string>} entry kind → filter kind */
const groupOf = new Map()
for (const [group, kinds] of Object.entries(KIND_GROUPS)) for (const kind of kinds) groupOf.set(kind, group)

/** The filter kind of an entry kind (`request_failed` → `error`, a host's own kind → `other`). */
export function kindGroup (/** @type {unknown} */ kind) {
  return (typeof kind === 'string' && groupOf.get(kind)) || 'other'
}

/**
 * @typedef {{ kinds: Set<string> | null, statuses: Set<string> | null, methods: Set<string> | null,
 *   q: string, needle: string }} Filter
 */

/** The filter that shows everything. */
export const NO_FILTER = Object.freeze({ kinds: null, statuses: null, methods: null, q: '', needle: '' })

/**
 * Reads a filter from text values (a query string, URL hash or command line). Returns the filter,
 * or an error naming the first bad value; empty values mean "no constraint".
 * @param {{ kind?: string | null, status?: string | null, method?: string | null, q?: string | null }} input
 * @returns {{ filter: Filter, error: null } | { filter: null, error: string }}
 */
export function parseFilter (input) {
  const values = (/** @type {string | null | undefined} */ s) =>
    typeof s === 'string' && s !== '' ? s.split(',').map((v) => v.trim()).filter((v) => v !== '') : []
  const kinds = values(input.kind)
  const badKind = kinds.find((k) => !KIND_NAMES.includes(k))
  if (badKind !== undefined) {
    return { filter: null, error: `kind: unknown kind "${badKind}" (one of ${KIND_NAMES.join(', ')})` }
  }
  const statuses = values(input.status).map((s) => s.toLowerCase())
  const badStatus = statuses.find((s) => !STATUS_CLASSES.includes(s))
  if (badStatus !== undefined) {
    return { filter: null, error: `status: unknown class "${badStatus}" (one of ${STATUS_CLASSES.join(', ')})` }
  }
  const methods = values(input.method).map((m) => m.toUpperCase())
  const badMethod = methods.find((m) => !/^[A-Z]{1,16}$/.test(m))
  if (badMethod !== undefined) return { filter: null, error: `method: "${badMethod}" is not an HTTP method name` }
  if (methods.length > MAX_METHODS) return { filter: null, error: `method: at most ${MAX_METHODS} methods` }
  const q = typeof input.q === 'string' ? input.q : ''
  if (q.length > MAX_QUERY) return { filter: null, error: `q: at most ${MAX_QUERY} characters` }
  return {
    filter: {
      kinds: kinds.length > 0 ? new Set(kinds) : null,
      statuses: statuses.length > 0 ? new Set(statuses) : null,
      methods: methods.length > 0 ? new Set(methods) : null,
      q,
      needle: q.toLowerCase()
    },
    error: null
  }
}

/** True when the filter constrains nothing. */
export function isEmpty (/** @type {Filter} */ f) {
  return f.kinds === null && f.statuses === null && f.methods === null && f.q === ''
}

/**
 * Whether an entry passes. A status or method constraint only passes entries that have one
 * (server requests, failed browser requests); "path contains" looks at the path, the URL of a
 * failed browser request and the route, case-insensitively.
 * @param {Filter} f
 * @param {Record<string, unknown>} e
 */
export function matches (f, e) {
  if (f.kinds !== null && !f.kinds.has(kindGroup(e.kind))) return false
  if (f.statuses !== null) {
    const s = e.status
    if (typeof s !== 'number' || s < 200 || s > 599 || !f.statuses.has(`${Math.floor(s / 100)}xx`)) return false
  }
  if (f.methods !== null && (typeof e.method !== 'string' || !f.methods.has(e.method.toUpperCase()))) return false
  if (f.needle !== '') {
    const hay = [e.path, e.url, e.route].filter((v) => typeof v === 'string').join('\n').toLowerCase()
    if (!hay.includes(f.needle)) return false
  }
  return true
}

/**
 * The filter as text values, for a URL or a query string (empty constraints left out), in a fixed
 * order so that the same view always gives the same link.
 * @param {Filter} f
 * @returns {Array<[string, string]>}
 */
export function filterParams (f) {
  /** @type {Array<[string, string]>} */
  const out = []
  const ordered = (/** @type {Set<string> | null} */ set, /** @type {readonly string[]} */ order) =>
    set === null ? null : order.filter((v) => set.has(v)).concat([...set].filter((v) => !order.includes(v))).join(',')
  const kinds = ordered(f.kinds, KIND_NAMES)
  if (kinds !== null) out.push(['kind', kinds])
  const statuses = ordered(f.statuses, STATUS_CLASSES)
  if (statuses !== null) out.push(['status', statuses])
  if (f.methods !== null) out.push(['method', [...f.methods].sort().join(',')])
  if (f.q !== '') out.push(['q', f.q])
  return out
}
