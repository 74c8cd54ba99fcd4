// The Audit tab: who viewed, watched, exported or erased whose data (GET /api/audit), newest
// first. Every value is set as text.
import { api } from './api.js'
import { el, clear, setText } from './dom.js'
import { timeElement } from './time.js'

const ACTIONS = {
  view: 'Viewed the log of',
  watch: 'Watched live',
  presence: 'Watched the presence of',
  export: 'Exported',
  erase: 'Erased the data of'
}

const view = /** @type {HTMLElement} */ (document.getElementById('view-audit'))
const reload = el('button', { type: 'button' }, ['Reload'])
const message = el('p', { class: 'message', role: 'status' })
const table = el('table', { id: 'audit', class: 'log' }, [
  el('thead', {}, [el('tr', {}, ['Time', 'Admin', 'Action', 'Target', 'Reason'].map((h) => el('th', {}, [h])))]),
  el('tbody')
])
view.append(
  el('div', { class: 'toolbar' }, [el('span', { class: 'hint' }, ['The latest 200 entries, newest first.']), reload]),
  message,
  table
)
const body = /** @type {HTMLTableSectionElement} */ (table.querySelector('tbody'))
let seq = 0

async function load () {
  const mine = ++seq
  setText(message, 'Loading…')
  message.classList.remove('error')
  try {
    const res = await api('audit?limit=200')
    if (mine !== seq) return
    clear(body)
    for (const e of res.entries) {
      const what = e.action === 'watch' && e.stream === 'presence' ? 'presence' : e.action
      const action = /** @type {Record<string, string>} */ (ACTIONS)[what] ?? String(e.action)
      const target = e.target === '*' ? 'all users' : e.target
      body.append(el('tr', { 'data-action': String(e.action) }, [
        el('td', { class: 'time' }, [timeElement(e.t)]),
        el('td', {}, [e.admin ?? '(unknown)']),
        el('td', {}, [action]),
        el('td', { class: 'url' }, [String(target)]),
        el('td', { class: 'reason' }, [typeof e.reason === 'string' ? e.reason : ''])
      ]))
    }
    setText(message, res.entries.length === 0 ? 'Nothing yet.' : '')
  } catch (err) {
    if (mine !== seq) return
    setText(message, `Could not load the audit trail: ${err instanceof Error ? err.message : String(err)}`)
    message.classList.add('error')
  }
}

reload.addEventListener('click', () => { void load() })
document.addEventListener('userlog:tab', (ev) => {
  if (/** @type {CustomEvent<{ name: string }>} */ (ev).detail.name === 'audit') void load()
})
