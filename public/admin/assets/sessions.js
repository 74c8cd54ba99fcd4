// Client activity on the admin page: a "Hide heartbeats" switch in the user's toolbar, and a
// summary of the user's browser sessions (start, duration, pages, user agent) above their log.
// Sessions come from GET api/sessions/<user>; all text is set with textContent (dom.js).
import { api, userPath } from './api.js'
import { el, clear, setText } from './dom.js'
import { formatDuration, timeElement } from './time.js'

const section = /** @type {HTMLElement} */ (document.getElementById('sessions'))
const STORE_KEY = 'userlog.hideHeartbeats'

/** The switch survives reloads (a preference, not data). */
function hidePreference () {
  try { return localStorage.getItem(STORE_KEY) === '1' } catch { return false }
}

/** Whose sessions the section shows. @type {string | null} */
let shown = null

document.addEventListener('userlog:toolbar', (ev) => {
  const { toolbar, table, user } = /** @type {CustomEvent} */ (ev).detail
  // Another user is being loaded: do not leave the previous one's sessions on screen.
  if (user !== shown) {
    clear(section)
    section.hidden = true
  }
  const box = /** @type {HTMLInputElement} */ (el('input', { type: 'checkbox', id: 'hide-heartbeats' }))
  box.checked = hidePreference()
  if (box.checked !== table.hideHeartbeats) table.setHideHeartbeats(box.checked)
  box.addEventListener('change', () => {
    table.setHideHeartbeats(box.checked)
    try { localStorage.setItem(STORE_KEY, box.checked ? '1' : '0') } catch { /* private mode */ }
  })
  toolbar.append(el('label', { class: 'hide-heartbeats', for: 'hide-heartbeats' }, [box, ' Hide heartbeats']))
})

/** @param {any} s */
function status (s) {
  if (s.endedBy === 'session_end') return ['ended', 'Ended (page closed)']
  if (s.endedBy === 'inactivity') return ['ended', 'Ended (inactive 30 min)']
  return ['open', 'Open, last seen ']
}

/** @param {string} user @param {any[]} sessions */
function render (user, sessions) {
  shown = user
  clear(section)
  if (sessions.length === 0) {
    section.hidden = true
    return
  }
  const heading = el('h2', {}, [`Browser sessions of ${user}`])
  const table = el('table', { class: 'log sessions-table' }, [
    el('thead', {}, [el('tr', {}, ['Started', 'Duration', 'Status', 'Pages', 'Events', 'Landing page', 'User agent']
      .map((c) => el('th', { scope: 'col' }, [c])))]),
    el('tbody')
  ])
  const body = /** @type {HTMLTableElement} */ (table).tBodies[0]
  for (const s of sessions) {
    const [cls, label] = status(s)
    const started = el('td', { class: 'time' }, [timeElement(s.start)])
    const ua = el('td', { class: 'ua' }, [s.ua ?? ''])
    ua.title = s.ua ?? ''
    body.append(el('tr', { class: `session ${cls}`, 'data-sid': String(s.sid) }, [
      started,
      el('td', { class: 'ms' }, [formatDuration(s.duration * 1000)]),
      el('td', { class: 'session-status' }, [label, cls === 'open' ? timeElement(s.last) : null]),
      el('td', { class: 'ms' }, [String(s.pages)]),
      el('td', { class: 'ms' }, [String(s.events)]),
      el('td', { class: 'url' }, [s.landing ?? '']),
      ua
    ]))
  }
  section.append(heading, table)
  section.hidden = false
}

let seq = 0
document.addEventListener('userlog:user', async (ev) => {
  const { user } = /** @type {CustomEvent} */ (ev).detail
  const mine = ++seq
  try {
    const res = await api(`sessions/${userPath(user)}?limit=20`)
    if (mine !== seq) return
    render(user, res ? res.sessions : [])
  } catch (err) {
    if (mine !== seq) return
    clear(section)
    const p = el('p', { class: 'message error' })
    setText(p, `Could not load the sessions: ${err instanceof Error ? err.message : String(err)}`)
    section.append(p)
    section.hidden = false
  }
})
