// Where an entry becomes a table row. One row per entry (newest on top); a click opens a detail
// row listing every field. All text is set with textContent (dom.js).
import { el, clear, setText } from './dom.js'

const KIND_LABELS = {
  request: 'Request',
  pageview: 'Page view',
  heartbeat: 'Heartbeat',
  interaction: 'Interaction',
  session_end: 'Session end',
  custom: 'Custom'
}

/** The row class of a status: 2xx ok, 3xx redirect, 4xx client error, 5xx server error. @param {number} status */
export function statusClass (status) {
  if (status >= 100 && status < 200) return ['informational', 'Informational']
  if (status >= 200 && status < 300) return ['success', 'Success']
  if (status >= 300 && status < 400) return ['redirection', 'Redirection']
  if (status >= 400 && status < 500) return ['client-error', 'Client error']
  if (status >= 500 && status < 600) return ['server-error', 'Server error']
  return ['non-standard', 'Non-standard']
}

/** Only same-origin absolute paths become links ('//host' and 'javascript:' never do). @param {unknown} path */
export function linkable (path) {
  if (typeof path !== 'string' || !path.startsWith('/')) return false
  // Resolved as the browser will resolve the link: '//host', '/\host' and '/<tab>/host' all
  // name another host once the URL parser has dropped tabs and newlines and read '\' as '/'.
  try {
    return new URL(path, location.origin).origin === location.origin
  } catch {
    return false
  }
}

/** @param {number} t */
function formatTime (t) {
  const d = new Date(t)
  const pad = (n, w = 2) => String(n).padStart(w, '0')
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
}

export class LogTable {
  /**
   * @param {HTMLTableElement} table
   * @param {{ showUser?: boolean }} [options]
   */
  constructor (table, options = {}) {
    this.table = table
    this.body = table.tBodies[0]
    this.showUser = Boolean(options.showUser)
    this.hideHeartbeats = false
    this.count = 0
    /** Ids of the entries shown, so a live stream never shows one twice. */
    this.ids = new Set()
    /** A live table keeps at most this many rows (the oldest go). */
    this.maxRows = 2000
    this.renderHead()
  }

  /** @param {boolean} showUser */
  setShowUser (showUser) {
    this.showUser = showUser
    this.renderHead()
  }

  renderHead () {
    const row = this.table.tHead.rows[0]
    clear(row)
    const cols = ['Time', ...(this.showUser ? ['User'] : []), 'Kind', 'Method', 'URL', 'Status', 'ms']
    for (const c of cols) row.append(el('th', { scope: 'col' }, [c]))
  }

  get columns () { return this.showUser ? 7 : 6 }

  clear () {
    clear(this.body)
    this.count = 0
    this.ids.clear()
  }

  /** @param {unknown} id */
  has (id) {
    return typeof id === 'string' && this.ids.has(id)
  }

  /** Replaces the rows. @param {any[]} entries newest first */
  setEntries (entries) {
    this.clear()
    const frag = document.createDocumentFragment()
    for (const entry of entries) {
      frag.append(this.row(entry))
      if (typeof entry.id === 'string') this.ids.add(entry.id)
    }
    this.body.append(frag)
    this.count = entries.length
  }

  /** Adds rows on top. @param {any[]} entries oldest first @param {boolean} [flash] */
  prepend (entries, flash = true) {
    let added = 0
    for (const entry of entries) {
      if (this.has(entry.id)) continue
      if (typeof entry.id === 'string') this.ids.add(entry.id)
      const row = this.row(entry)
      if (flash) row.classList.add('new')
      this.body.prepend(row)
      this.count++
      added++
    }
    while (this.count > this.maxRows) this.dropOldest()
    return added
  }

  dropOldest () {
    const last = this.body.lastElementChild
    if (!last) return
    const row = last.classList.contains('detail') ? last.previousElementSibling : last
    if (last.classList.contains('detail')) last.remove()
    if (row) {
      const id = /** @type {HTMLElement} */ (row).dataset.id
      if (id) this.ids.delete(id)
      row.remove()
    }
    this.count--
  }

  /** @param {boolean} hide */
  setHideHeartbeats (hide) {
    this.hideHeartbeats = hide
    for (const row of this.body.querySelectorAll('tr.entry[data-kind="heartbeat"]')) {
      row.hidden = hide
      const next = row.nextElementSibling
      if (hide && next && next.classList.contains('detail')) next.remove()
    }
  }

  /** @param {any} entry */
  row (entry) {
    const kind = typeof entry.kind === 'string' ? entry.kind : 'request'
    const tr = el('tr', { class: 'entry', 'data-kind': kind, tabindex: '0' })
    if (typeof entry.id === 'string') tr.dataset.id = entry.id
    tr.hidden = this.hideHeartbeats && kind === 'heartbeat'
    const time = el('td', { class: 'time' })
    if (typeof entry.t === 'number') {
      setText(time, formatTime(entry.t))
      time.title = new Date(entry.t).toISOString()
    }
    tr.append(time)
    if (this.showUser) tr.append(el('td', { class: 'user' }, [String(entry.user ?? '')]))
    const kindCell = el('td', { class: 'kind' }, [KIND_LABELS[kind] ?? kind])
    if (kind === 'interaction' && typeof entry.event === 'string') kindCell.append(` · ${entry.event}`)
    tr.append(kindCell)
    tr.append(el('td', { class: 'method' }, [typeof entry.method === 'string' ? entry.method : '']))
    const url = el('td', { class: 'url' })
    const path = typeof entry.path === 'string' ? entry.path : ''
    if (linkable(path) && (entry.method === 'GET' || entry.kind === 'pageview')) {
      const a = el('a', { rel: 'noopener noreferrer', target: '_blank' }, [path])
      a.href = path
      url.append(a)
    } else {
      setText(url, path)
    }
    if (typeof entry.element === 'string' && entry.element !== '') {
      url.append(el('span', { class: 'kind' }, [` [${entry.element}]`]))
    }
    tr.append(url)
    const status = el('td', { class: 'status-cell' })
    if (typeof entry.status === 'number') {
      const [cls, label] = statusClass(entry.status)
      status.append(el('span', { class: `status ${cls}` }, [`${label} (${entry.status})`]))
    }
    tr.append(status)
    tr.append(el('td', { class: 'ms' }, [typeof entry.ms === 'number' ? entry.ms.toFixed(1) : '']))
    const toggle = () => this.toggleDetail(tr, entry)
    tr.addEventListener('click', toggle)
    tr.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); toggle() }
    })
    return tr
  }

  /** @param {HTMLElement} tr @param {any} entry */
  toggleDetail (tr, entry) {
    const next = tr.nextElementSibling
    if (next && next.classList.contains('detail')) {
      next.remove()
      tr.setAttribute('aria-expanded', 'false')
      return
    }
    const dl = el('dl', { class: 'fields' })
    for (const [key, value] of Object.entries(entry)) {
      const text = typeof value === 'object' && value !== null ? JSON.stringify(value, null, 2) : String(value)
      dl.append(el('dt', {}, [key]), el('dd', {}, [text]))
    }
    const td = el('td', { colspan: String(this.columns) }, [dl])
    tr.after(el('tr', { class: 'detail' }, [td]))
    tr.setAttribute('aria-expanded', 'true')
  }
}
