// "Who the user is": a card above the user's sessions and log, from GET api/users/<user>/card:
// browser and version, OS, device type, first and last seen, sessions retained, and the fields
// the host's describeUser recorded. Every string is set with textContent (dom.js).
import { api, userPath } from './api.js'
import { el, clear, setText } from './dom.js'
import { timeElement } from './time.js'

const section = /** @type {HTMLElement} */ (document.getElementById('user-card'))

const DEVICES = /** @type {Record<string, string>} */ ({
  desktop: 'Desktop', mobile: 'Mobile', tablet: 'Tablet', bot: 'Bot', other: 'Other'
})

/** A name and a version, or a dash when the User-Agent said neither. @param {{ name: string, version: string }} p */
function named (p) {
  const text = [p.name, p.version].filter((s) => s !== '').join(' ')
  return text === '' ? '—' : text
}

/** A time in the page's one format (its zone is named in the header). @param {number} t */
function when (t) {
  return timeElement(t)
}

/** @param {HTMLElement} list @param {string} term @param {string | Node} value @param {string} [cls] */
function row (list, term, value, cls) {
  const dd = el('dd', cls === undefined ? {} : { class: cls })
  if (typeof value === 'string') setText(dd, value)
  else dd.append(value)
  const dt = el('dt')
  setText(dt, term)
  list.append(dt, dd)
}

/** @param {any} card */
function render (card) {
  clear(section)
  const heading = el('h2')
  setText(heading, card.user)
  const facts = el('dl', { class: 'card-facts' })
  row(facts, 'Browser', named(card.browser), 'card-browser')
  row(facts, 'OS', named(card.os), 'card-os')
  row(facts, 'Device', DEVICES[card.device] ?? String(card.device), 'card-device')
  row(facts, 'First seen', when(card.firstSeen), 'card-first-seen')
  row(facts, 'Last seen', when(card.lastSeen), 'card-last-seen')
  row(facts, 'Sessions', String(card.sessions), 'card-sessions')
  section.append(heading, facts)
  const entries = Object.entries(card.fields ?? {})
  if (entries.length > 0) {
    const fields = el('dl', { class: 'card-fields' })
    for (const [key, value] of entries) row(fields, key, String(value))
    section.append(fields)
  }
  section.hidden = false
}

let seq = 0
document.addEventListener('userlog:user', async (ev) => {
  const { user } = /** @type {CustomEvent} */ (ev).detail
  const mine = ++seq
  // Never leave the previous user's card on screen while this one loads.
  clear(section)
  section.hidden = true
  try {
    const card = await api(`users/${userPath(user)}/card`)
    if (mine !== seq || !card) return
    render(card)
  } catch (err) {
    if (mine !== seq) return
    const p = el('p', { class: 'message error' })
    setText(p, `Could not load who ${user} is: ${err instanceof Error ? err.message : String(err)}`)
    section.append(p)
    section.hidden = false
  }
})
