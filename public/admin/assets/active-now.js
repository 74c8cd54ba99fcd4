// Active now: users seen in the last minutes, with their presence. The list is read once from the
// admin API when the tab opens; from then on presence changes arrive over the realtime server's
// presence stream (no polling), and a user who turns up is added. Reload re-reads the list (a
// user with only server requests has no presence to stream).
import { api } from './api.js'
import { el, clear, setText } from './dom.js'
import { timeElement } from './time.js'
import { presenceBadge } from './presence-view.js'
import { RealtimeConnection } from './connection.js'

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id))
const body = /** @type {HTMLTableElement} */ ($('active')).tBodies[0]
const empty = $('active-empty')
const status = $('active-status')
const minutes = /** @type {HTMLSelectElement} */ ($('active-minutes'))

/**
 * @typedef {{ user: string, lastSeen: number, path: string | null,
 *   presence: { state: 'active' | 'away' | 'gone', since: number, page: string | null } | null }} Row
 */
/** @type {Map<string, Row>} */
const rows = new Map()
/** @type {RealtimeConnection | null} */
let connection = null
let seq = 0
let queued = false

/** @param {(user: string) => void} open what clicking a user does */
export function setOpenUser (open) { openUser = open }
/** @type {(user: string) => void} */
let openUser = () => {}

function render () {
  queued = false
  clear(body)
  const sorted = [...rows.values()].sort((a, b) => b.lastSeen - a.lastSeen)
  for (const r of sorted) {
    const name = el('a', { href: '#', class: 'user-link' }, [r.user])
    name.addEventListener('click', (ev) => { ev.preventDefault(); openUser(r.user) })
    body.append(el('tr', { 'data-state': r.presence?.state ?? 'none' }, [
      el('td', {}, [name]),
      el('td', { class: 'presence-cell' }, [presenceBadge(r.presence, { withPage: false })]),
      el('td', { class: 'time' }, [timeElement(r.lastSeen)]),
      el('td', { class: 'url' }, [r.presence?.page ?? r.path ?? ''])
    ]))
  }
  empty.hidden = rows.size > 0
}
function renderSoon () {
  if (queued) return
  queued = true
  requestAnimationFrame(render)
}

/** @param {any} p */
function merge (p) {
  if (typeof p?.user !== 'string') return
  const presence = { state: p.state, since: Number(p.since), page: typeof p.page === 'string' ? p.page : null }
  const known = rows.get(p.user)
  if (known) {
    known.presence = presence
    if (presence.state === 'active') known.lastSeen = Math.max(known.lastSeen, presence.since)
  } else {
    rows.set(p.user, { user: p.user, lastSeen: presence.since, path: presence.page, presence })
  }
}

async function load () {
  const mine = ++seq
  try {
    const res = await api(`active?minutes=${encodeURIComponent(minutes.value)}`)
    if (mine !== seq) return
    rows.clear()
    for (const u of res.users) {
      rows.set(u.user, {
        user: u.user,
        lastSeen: u.lastSeen,
        path: u.path,
        presence: u.state === null ? null : { state: u.state, since: u.since, page: u.path }
      })
    }
    setText(empty, 'Nobody right now.')
    render()
  } catch (err) {
    if (mine !== seq) return
    clear(body)
    setText(empty, `Could not load: ${err instanceof Error ? err.message : String(err)}`)
    empty.hidden = false
  }
}

function follow () {
  connection = new RealtimeConnection({
    user: '*',
    stream: 'presence',
    banner: false,
    onStatus: (text) => setText(status, `${text}. The list above is as last loaded.`),
    onMessage: (msg) => {
      if (msg.type === 'hello') setText(status, 'Presence updates live.')
      if (msg.type !== 'presence' || !Array.isArray(msg.users)) return
      for (const p of msg.users) merge(p)
      renderSoon()
    }
  })
  void connection.start()
}

minutes.addEventListener('change', () => { void load() })
$('active-reload').addEventListener('click', () => { void load() })
let following = false
document.addEventListener('userlog:tab', (ev) => {
  const { name } = /** @type {CustomEvent<{ name: string }>} */ (ev).detail
  if (name === 'active' && !following) {
    following = true
    // The list first, then its changes: a snapshot merged into a list about to be replaced is lost.
    void load().then(() => { if (following && connection === null) follow() })
  } else if (name !== 'active' && following) {
    following = false
    connection?.stop()
    connection = null
    setText(status, '')
  }
})
