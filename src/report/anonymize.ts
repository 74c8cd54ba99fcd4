// Anonymized exports. What an anonymized entry keeps and changes:
// - user: a pseudonym, "u_" + the first 32 hex digits of HMAC-SHA-256(anonymizeSecret, name): the
//   same user gets the same pseudonym in every export made with the same secret, so rows can be
//   grouped, but the name cannot be recovered without the secret.
// - sid (browser session id): pseudonymized the same way ("s_…").
// - ip: truncated to its network, IPv4 /24 (203.0.113.9 → 203.0.113.0), IPv6 /48
//   (2001:db8:85a3:8d3:… → 2001:db8:85a3::); an IPv4-mapped IPv6 address as IPv4. Anything
//   else is dropped.
// - ua: replaced by the browser family (Chrome, Firefox…): a full User-Agent helps fingerprint.
// - path, referrer: without the query string (which may carry e-mails, search terms, ids).
// - path, referrer, element, metadata: occurrences of the user's own name (3 characters or
//   more, as is or percent-encoded) are replaced by the pseudonym. Other identifying text in them
//   (someone else's name in a URL) is not detected: redact it with the `transform` option.
// - fields outside the documented entry fields (added by `transform` or `record`) are dropped.
import { createHmac } from 'node:crypto'
import { isIPv4, isIPv6 } from 'node:net'
import type { Entry } from '../types.js'
import { browserFamily } from './browsers.js'

/** Fields an anonymized entry may keep (after the changes above). */
const KEPT = ['id', 't', 'kind', 'src', 'method', 'route', 'status', 'ms', 'event', 'date', 'duration'] as const

export function truncateIp (ip: unknown): string {
  if (typeof ip !== 'string') return ''
  if (isIPv4(ip)) return ip.slice(0, ip.lastIndexOf('.')) + '.0'
  const zone = ip.indexOf('%')
  const addr = zone === -1 ? ip : ip.slice(0, zone)
  if (!isIPv6(addr)) return ''
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr)
  if (mapped !== null) return truncateIp(mapped[1])
  // Expand to 8 groups (an embedded IPv4 tail counts as two), keep the first three.
  let s = addr
  const dot = s.indexOf('.')
  if (dot !== -1) {
    const colon = s.lastIndexOf(':')
    const v4 = s.slice(colon + 1).split('.').map(Number) as [number, number, number, number]
    s = s.slice(0, colon + 1) + ((v4[0] << 8) | v4[1]).toString(16) + ':' + ((v4[2] << 8) | v4[3]).toString(16)
  }
  const [head = '', tail] = s.split('::')
  const h = head === '' ? [] : head.split(':')
  const tl = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - tl.length).fill('0'), ...tl]
  return groups.slice(0, 3).map((g) => parseInt(g, 16).toString(16)).join(':') + '::'
}

/** A copy of a JSON value with `hide` applied to every string, keys included. */
function hideDeep (value: unknown, hide: (s: string) => string): unknown {
  if (typeof value === 'string') return hide(value)
  if (Array.isArray(value)) return value.map((v) => hideDeep(v, hide))
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [hide(k), hideDeep(v, hide)]))
  }
  return value
}

function withoutQuery (path: string): string {
  const q = path.indexOf('?')
  return q === -1 ? path : path.slice(0, q)
}

export class Anonymizer {
  private readonly pseudonyms = new Map<string, string>()
  constructor (private readonly secret: string) {}

  private hmac (domain: string, value: string): string {
    return createHmac('sha256', this.secret).update(domain + '\0' + value).digest('hex').slice(0, 32)
  }

  /** The stable pseudonym of a user name. */
  user (name: string): string {
    let p = this.pseudonyms.get(name)
    if (p === undefined) {
      p = 'u_' + this.hmac('user', name)
      if (this.pseudonyms.size >= 10_000) this.pseudonyms.clear()
      this.pseudonyms.set(name, p)
    }
    return p
  }

  sid (sid: string): string { return 's_' + this.hmac('sid', sid) }

  /** The anonymized copy of an entry (see the top of this file). */
  entry (e: Entry): Entry {
    const pseudonym = this.user(e.user)
    const hide = this.nameHider(e.user, pseudonym)
    const out: Entry = { id: e.id, t: e.t, user: pseudonym, kind: e.kind }
    for (const field of KEPT) if (e[field] !== undefined) (out as Record<string, unknown>)[field] = e[field]
    if (typeof e.path === 'string') out.path = hide(withoutQuery(e.path))
    if (typeof e.referrer === 'string') out.referrer = hide(withoutQuery(e.referrer))
    if (typeof e.element === 'string') out.element = hide(e.element)
    if (e.metadata !== undefined) out.metadata = hideDeep(e.metadata, hide)
    if (e.ip !== undefined) out.ip = truncateIp(e.ip)
    if (typeof e.ua === 'string') out.ua = e.ua === '' ? '' : browserFamily(e.ua)
    if (typeof e.sid === 'string') out.sid = this.sid(e.sid)
    return out
  }

  /** Replaces the user's own name in text, when it is long enough not to hit by chance. */
  private nameHider (name: string, pseudonym: string): (s: string) => string {
    if (name.length < 3) return (s) => s
    const forms = [...new Set([name, encodeURIComponent(name)])]
    return (s) => {
      for (const form of forms) if (s.includes(form)) s = s.replaceAll(form, pseudonym)
      return s
    }
  }
}
