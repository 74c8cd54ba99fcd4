// Where an entry becomes a table row. One row per entry (newest on top); a click or Enter opens a
// detail row listing every field. Which rows show is the shared filter rule (rules/filter.js) plus
// the "Hide heartbeats" switch: rows are kept and only hidden, so a live entry is never lost to a
// filter and reappears when the filter changes. All text is set with textContent (dom.js).
import { el, clear, setText } from './dom.js'
import { formatDuration, formatPrecise, timeElement } from './time.js'
import { matches, NO_FILTER } from './rules/filter.js'

/** What the Kind column says. A page leave reads "Left /items after …" with the URL cell. */
const KIND_LABELS = {
  request: 'Request',
  pageview: 'Page view',
  heartbeat: 'Heartbeat',
  visibility: 'Tab',
  interaction: 'Interaction',
  session_end: 'Left',
  error: 'Error',
  request_failed: 'Failed request',
  ws_close: 'WebSocket closed',
  custom: 'Custom'
}

/** Kinds whose rows stand out like a server error: something went wrong in the browser. */
const TROUBLE = new Set(['error', 'request_failed'])

/** The row class of a status: 2xx ok, 3xx redirect, 4xx client error, 5xx server error. @param {number} status */
export function statusClass (status) {
  if (status === 0) return ['server-error', 'Network error']
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

const str = (/** @type {unknown} */ v) => typeof v === 'string' ? v : ''
const num = (/** @type {unknown} */ v) => typeof v === 'number' && Number.isFinite(v) ? v : null

/** What a row says after its URL, for the kinds whose URL alone says little. @param {any} e */
function summary (e) {
  switch (e.kind) {
    case 'session_end': {
      const page = num(e.pageMs)
      const active = num(e.activeMs)
      if (page === null) return ''
      return `after ${formatDuration(page)}` + (active === null ? '' : ` (${formatDuration(active)} active)`)
    }
    case 'error': {
      const repeat = num(e.repeat)
      return str(e.message) + (repeat !== null && repeat > 0 ? ` (×${repeat + 1})` : '')
    }
    case 'request_failed': return str(e.url)
    case 'visibility': return e.state === 'hidden' ? 'hidden' : 'visible'
    case 'ws_close': {
      const d = num(e.durationMs)
      return [d === null ? '' : `after ${formatDuration(d)}`, num(e.code) === null ? '' : `code ${e.code}`]
        .filter(Boolean).join(', ')
    }
    default: return ''
  }
}

export class LogTable {
  /**
   * @param {HTMLTableElement} table
   * @param {{ showUser?: boolean, linkFor?: (entry: any) => string | null, onCopy?: (link: string) => void }} [options]
   *   `linkFor` gives a row's link for its "Copy link" button (no button without it).
   */
  constructor (table, options = {}) {
    this.table = table
    this.body = table.tBodies[0]
    this.showUser = Boolean(options.showUser)
    this.linkFor = options.linkFor ?? null
    this.onCopy = options.onCopy ?? null
    this.hideHeartbeats = false
    /** @type {import('./rules/filter.js').Filter} */
    this.filter = NO_FILTER
    this.count = 0
    /** Ids of the entries shown, so a live stream never shows one twice. */
    this.ids = new Set()
    /** @type {WeakMap<Element, any>} each entry row's entry, to filter and link rows */
    this.entries = new WeakMap()
    /** @type {Map<string, HTMLElement>} server request rows by reqId, and failed browser requests by requestId */
    this.byReqId = new Map()
    this.failedByReqId = new Map()
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
    if (this.linkFor !== null) {
      row.append(el('th', { scope: 'col', class: 'link-col' }, [el('span', { class: 'sr' }, ['Link'])]))
    }
  }

  get columns () { return (this.showUser ? 7 : 6) + (this.linkFor !== null ? 1 : 0) }

  clear () {
    clear(this.body)
    this.count = 0
    this.ids.clear()
    this.byReqId.clear()
    this.failedByReqId.clear()
  }

  /** @param {unknown} id */
  has (id) {
    return typeof id === 'string' && this.ids.has(id)
  }

  /** Rows the filters let through now. */
  get shownCount () {
    let n = 0
    for (const row of this.body.rows) if (row.classList.contains('entry') && !row.hidden) n++
    return n
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

  /** @param {any} entry */
  visible (entry) {
    if (this.hideHeartbeats && entry.kind === 'heartbeat') return false
    return matches(this.filter, entry)
  }

  /** Shows the rows the filter and the heartbeat switch let through; the others stay, hidden. */
  refilter () {
    for (const row of this.body.querySelectorAll('tr.entry')) {
      const entry = this.entries.get(row)
      const hide = entry !== undefined && !this.visible(entry)
      const tr = /** @type {HTMLElement} */ (row)
      tr.hidden = hide
      const next = row.nextElementSibling
      if (hide && next && next.classList.contains('detail')) next.remove()
    }
  }

  /** @param {import('./rules/filter.js').Filter} filter */
  setFilter (filter) {
    this.filter = filter
    this.refilter()
  }

  /** @param {boolean} hide */
  setHideHeartbeats (hide) {
    this.hideHeartbeats = hide
    this.refilter()
  }

  /** The row of an entry id, or null. @param {string} id */
  rowOf (id) {
    for (const row of this.body.querySelectorAll('tr.entry')) {
      const tr = /** @type {HTMLElement} */ (row)
      if (tr.dataset.id === id) return tr
    }
    return null
  }

  /** Marks one row as the linked one, scrolls to it and focuses it. @param {HTMLElement} row */
  highlight (row) {
    for (const old of this.body.querySelectorAll('tr.linked')) old.classList.remove('linked')
    row.classList.add('linked')
    row.scrollIntoView({ block: 'center' })
    row.focus({ preventScroll: true })
  }

  /** @param {any} entry */
  row (entry) {
    const kind = typeof entry.kind === 'string' ? entry.kind : 'request'
    const tr = el('tr', { class: 'entry', 'data-kind': kind, tabindex: '0' })
    if (TROUBLE.has(kind)) tr.classList.add('trouble')
    if (typeof entry.id === 'string') tr.dataset.id = entry.id
    this.entries.set(tr, entry)
    tr.hidden = !this.visible(entry)
    const time = el('td', { class: 'time' })
    if (typeof entry.t === 'number') time.append(timeElement(entry.t))
    tr.append(time)
    if (this.showUser) tr.append(el('td', { class: 'user' }, [String(entry.user ?? '')]))
    const kindCell = el('td', { class: 'kind' }, [KIND_LABELS[kind] ?? kind])
    if (kind === 'interaction' && typeof entry.event === 'string') kindCell.append(` · ${entry.event}`)
    tr.append(kindCell)
    tr.append(el('td', { class: 'method' }, [typeof entry.method === 'string' ? entry.method : '']))
    const url = el('td', { class: 'url' })
    const path = str(entry.path)
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
    const said = summary(entry)
    if (said !== '') url.append(el('span', { class: 'row-summary' }, [` ${said}`]))
    tr.append(url)
    const status = el('td', { class: 'status-cell' })
    if (typeof entry.status === 'number') {
      const [cls, label] = statusClass(entry.status)
      status.append(el('span', { class: `status ${cls}` }, [entry.status === 0 ? label : `${label} (${entry.status})`]))
    }
    tr.append(status)
    tr.append(el('td', { class: 'ms' }, [typeof entry.ms === 'number' ? entry.ms.toFixed(1) : '']))
    if (this.linkFor !== null) tr.append(el('td', { class: 'link-col' }, [this.copyButton(entry)]))
    this.pair(tr, entry)
    const toggle = () => this.toggleDetail(tr, entry)
    tr.addEventListener('click', toggle)
    tr.addEventListener('keydown', (ev) => {
      if (ev.target === tr && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); toggle() }
    })
    return tr
  }

  /** A "Copy link" button for one entry (it does not open the row). @param {any} entry */
  copyButton (entry) {
    const attrs = { type: 'button', class: 'copy-link', title: 'Copy a link to this entry' }
    const button = el('button', attrs, ['Copy link'])
    button.addEventListener('click', (ev) => {
      ev.stopPropagation()
      const link = this.linkFor?.(entry)
      if (link) this.onCopy?.(link)
    })
    return button
  }

  /**
   * Joins a failed browser request to the server's entry of the same request (the plugin's
   * `x-userlog-request-id` header is the server entry's reqId): each row says so and links to the other.
   * @param {HTMLElement} tr @param {any} entry
   */
  pair (tr, entry) {
    let server = null
    let failed = null
    if (entry.kind === 'request' && typeof entry.reqId === 'string') {
      this.byReqId.set(entry.reqId, tr)
      server = tr
      failed = this.failedByReqId.get(entry.reqId) ?? null
    } else if (entry.kind === 'request_failed' && typeof entry.requestId === 'string') {
      this.failedByReqId.set(entry.requestId, tr)
      failed = tr
      server = this.byReqId.get(entry.requestId) ?? null
    }
    if (server === null || failed === null) return
    this.pairLink(server, failed, 'failed in the browser')
    this.pairLink(failed, server, 'server entry')
  }

  /** @param {HTMLElement} from @param {HTMLElement} to @param {string} text */
  pairLink (from, to, text) {
    const cell = from.querySelector('td.url')
    if (!cell || cell.querySelector('a.pair')) return
    const a = el('a', { href: '#', class: 'pair' }, [`↔ ${text}`])
    a.addEventListener('click', (ev) => {
      ev.preventDefault()
      ev.stopPropagation()
      to.hidden = false
      this.highlight(to)
    })
    cell.append(' ', a)
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
      let shown
      if (key === 't' && typeof value === 'number') {
        shown = `${formatPrecise(value)} (${new Date(value).toISOString()})`
      } else if (key === 'stack' && typeof value === 'string') shown = el('pre', { class: 'stack' }, [value])
      else shown = typeof value === 'object' && value !== null ? JSON.stringify(value, null, 2) : String(value)
      dl.append(el('dt', {}, [key]), el('dd', {}, [shown]))
    }
    const td = el('td', { colspan: String(this.columns) }, [dl])
    tr.after(el('tr', { class: 'detail' }, [td]))
    tr.setAttribute('aria-expanded', 'true')
  }
}
