// The presence badge at the top of a user's log: active, away or gone, on which page, since when.
// It follows the log's entries, the live ones too (paused or not), and the clock: a quiet user
// turns away and then gone without a reload, with one timer armed for the next change.
import { clear } from './dom.js'
import { presenceBadge } from './presence-view.js'
import { nextChangeAt, observe, presenceAt } from './rules/presence.js'

const node = /** @type {HTMLElement} */ (document.getElementById('presence'))
/** @type {string | null} */ let user = null
/** @type {any} */ let track = null
/** @type {ReturnType<typeof setTimeout> | null} */ let timer = null

function render () {
  if (timer !== null) clearTimeout(timer)
  timer = null
  clear(node)
  if (user === null) { node.hidden = true; return }
  const now = Date.now()
  node.append(presenceBadge(track === null ? null : presenceAt(track, now)))
  node.hidden = false
  const next = track === null ? null : nextChangeAt(track, now)
  if (next !== null) timer = setTimeout(render, Math.max(0, next - now) + 50)
}

/** @param {any[]} entries oldest first */
function feed (entries) {
  for (const e of entries) track = observe(track, e)
}

document.addEventListener('userlog:user', (ev) => {
  const detail = /** @type {CustomEvent<{ user: string, entries: any[] }>} */ (ev).detail
  user = detail.user
  track = null
  feed(detail.entries.slice().reverse())
  render()
})
document.addEventListener('userlog:live', (ev) => {
  const detail = /** @type {CustomEvent<{ user: string, entries: any[] }>} */ (ev).detail
  if (detail.user !== user) return
  feed(detail.entries)
  render()
})
