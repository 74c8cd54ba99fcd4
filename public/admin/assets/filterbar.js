// The filter controls above a log (a user's log and All users): kinds, status classes, method and
// "path contains". They build a filter of the shared rule (rules/filter.js), so the page, the log
// API and `userlog tail` agree on what a filter shows. Every control is a native input: reachable
// with Tab, toggled with Space.
import { el } from './dom.js'
import { KIND_NAMES, MAX_QUERY, NO_FILTER, STATUS_CLASSES, parseFilter } from './rules/filter.js'

const KIND_TEXT = {
  request: 'Requests',
  pageview: 'Page views',
  interaction: 'Interactions',
  error: 'Errors & failed requests',
  heartbeat: 'Heartbeats & tab',
  session_end: 'Page leaves',
  other: 'Other'
}
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']

let instances = 0

export class FilterBar {
  /**
   * @param {(filter: import('./rules/filter.js').Filter) => void} onChange
   */
  constructor (onChange) {
    const n = ++instances
    this.onChange = onChange
    /** @type {Map<string, HTMLInputElement>} */
    this.kinds = new Map()
    /** @type {Map<string, HTMLInputElement>} */
    this.statuses = new Map()
    const box = (/** @type {string} */ name, /** @type {string} */ value, /** @type {string} */ text) => {
      const input = /** @type {HTMLInputElement} */ (el('input', { type: 'checkbox', name, value }))
      input.addEventListener('change', () => this.changed())
      return { input, label: el('label', { class: 'chip' }, [input, ` ${text}`]) }
    }
    const kindGroup = el('span', { class: 'group', role: 'group', 'aria-label': 'Kinds' })
    for (const kind of KIND_NAMES) {
      const { input, label } = box('kind', kind, /** @type {Record<string, string>} */ (KIND_TEXT)[kind] ?? kind)
      this.kinds.set(kind, input)
      kindGroup.append(label)
    }
    const statusGroup = el('span', { class: 'group', role: 'group', 'aria-label': 'Status' })
    for (const s of STATUS_CLASSES) {
      const { input, label } = box('status', s, s)
      this.statuses.set(s, input)
      statusGroup.append(label)
    }
    this.method = /** @type {HTMLSelectElement} */ (el('select', { name: 'method', id: `filter-method-${n}` },
      [el('option', { value: '' }, ['Any method']), ...METHODS.map((m) => el('option', { value: m }, [m]))]))
    this.method.addEventListener('change', () => this.changed())
    this.q = /** @type {HTMLInputElement} */ (el('input', {
      type: 'search', name: 'q', id: `filter-q-${n}`, maxlength: String(MAX_QUERY), placeholder: 'Path contains…'
    }))
    this.q.addEventListener('input', () => this.changed())
    const reset = el('button', { type: 'button', class: 'reset' }, ['Clear filters'])
    reset.addEventListener('click', () => { this.set(NO_FILTER); this.changed() })
    this.count = el('span', { class: 'count', role: 'status' })
    this.element = el('div', { class: 'filters', role: 'search', 'aria-label': 'Filter the log' }, [
      kindGroup, statusGroup,
      el('label', { class: 'sr', for: this.method.id }, ['Method']), this.method,
      el('label', { class: 'sr', for: this.q.id }, ['Path contains']), this.q,
      reset, this.count
    ])
  }

  /** The filter the controls say now. @returns {import('./rules/filter.js').Filter} */
  get filter () {
    const checked = (/** @type {Map<string, HTMLInputElement>} */ m) =>
      [...m].filter(([, i]) => i.checked).map(([v]) => v).join(',')
    const { filter } = parseFilter({
      kind: checked(this.kinds), status: checked(this.statuses), method: this.method.value, q: this.q.value
    })
    return filter ?? NO_FILTER
  }

  /** Shows a filter (from a link) without reporting a change. @param {import('./rules/filter.js').Filter} f */
  set (f) {
    for (const [k, i] of this.kinds) i.checked = f.kinds !== null && f.kinds.has(k)
    for (const [s, i] of this.statuses) i.checked = f.statuses !== null && f.statuses.has(s)
    const method = f.methods === null ? '' : [...f.methods][0] ?? ''
    if (method !== '' && ![...this.method.options].some((o) => o.value === method)) {
      this.method.append(el('option', { value: method }, [method]))
    }
    this.method.value = method
    this.q.value = f.q
  }

  /** @param {number} shown @param {number} total */
  setCount (shown, total) {
    this.count.textContent = shown === total
      ? `${total} ${total === 1 ? 'entry' : 'entries'}`
      : `Showing ${shown} of ${total}`
  }

  changed () { this.onChange(this.filter) }
}
