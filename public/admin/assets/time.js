// The one way the admin page writes a time: date and time in the admin's own time zone (named once,
// in the page header), a relative time beside it ("2 min ago"), and milliseconds only where a row
// is expanded. Relative times are kept current by one timer for the whole page.

const pad = (/** @type {number} */ n, w = 2) => String(n).padStart(w, '0')

/** `2026-12-03 14:05:09`, local time: sortable, and the same on every admin's screen layout. @param {number} t */
export function formatTime (t) {
  const d = new Date(t)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** `2026-12-03 14:05:09.612`: for an expanded row. @param {number} t */
export function formatPrecise (t) {
  return `${formatTime(t)}.${pad(new Date(t).getMilliseconds(), 3)}`
}

/** `just now`, `42 s ago`, `2 min ago`, `3 h ago`, `5 days ago` (and `in 2 min` for a clock ahead). */
export function formatRelative (/** @type {number} */ t, now = Date.now()) {
  const s = Math.round((now - t) / 1000)
  const a = Math.abs(s)
  let text
  if (a < 5) return 'just now'
  else if (a < 60) text = `${a} s`
  else if (a < 3600) text = `${Math.floor(a / 60)} min`
  else if (a < 86_400) text = `${Math.floor(a / 3600)} h`
  else text = `${Math.floor(a / 86_400)} ${Math.floor(a / 86_400) === 1 ? 'day' : 'days'}`
  return s >= 0 ? `${text} ago` : `in ${text}`
}

/** `1 min 12 s`, `48 s`, `2 h 05 min`: a length of time. @param {number} ms */
export function formatDuration (ms) {
  const s = Math.max(0, Math.round(ms / 1000))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const r = s % 60
  if (h > 0) return `${h} h ${pad(m)} min`
  if (m > 0) return `${m} min ${pad(r)} s`
  return `${r} s`
}

/** The zone every time on the page is in: `Europe/Paris (UTC+01:00)`. */
export function zoneLabel (at = new Date()) {
  const name = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time'
  const off = -at.getTimezoneOffset()
  const sign = off >= 0 ? '+' : '-'
  return `${name} (UTC${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)})`
}

/**
 * A `<time>` showing the date and time and, beside it, how long ago; its title is the UTC instant.
 * @param {number} t @param {{ relative?: boolean }} [options]
 */
export function timeElement (t, options = {}) {
  const node = document.createElement('time')
  node.dateTime = new Date(t).toISOString()
  node.title = node.dateTime
  node.className = 'when'
  const abs = document.createElement('span')
  abs.textContent = formatTime(t)
  node.append(abs)
  if (options.relative !== false) {
    const rel = document.createElement('span')
    rel.className = 'ago'
    rel.dataset.t = String(t)
    rel.textContent = formatRelative(t)
    node.append(' ', rel)
  }
  return node
}

/** Brings every relative time on the page up to date (one pass for all of them). */
export function refreshRelativeTimes (now = Date.now()) {
  for (const node of document.querySelectorAll('span.ago[data-t]')) {
    const text = formatRelative(Number(/** @type {HTMLElement} */ (node).dataset.t), now)
    if (node.textContent !== text) node.textContent = text
  }
}

setInterval(() => { if (!document.hidden) refreshRelativeTimes() }, 15_000)
