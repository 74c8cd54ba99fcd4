// The admin page: tabs, the username search with autocomplete, a user's log, "active now".
import { api, userPath } from './api.js'
import { el, clear, setText } from './dom.js'
import { LogTable } from './logtable.js'
// Each feature module wires itself to the page through the userlog:* events dispatched here.
import './live.js'
import './sessions.js'
import './user-card.js'
import './report.js'
import './audit.js'

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id))

const state = {
  /** @type {string | null} */ user: null,
  /** @type {ReturnType<typeof setInterval> | null} */ activeTimer: null
}

const table = new LogTable(/** @type {HTMLTableElement} */ ($('log')))
const message = $('message')
const input = /** @type {HTMLInputElement} */ ($('username'))
const suggestions = $('user-suggestions')
const toolbar = $('toolbar')

/** @param {string} text @param {boolean} [isError] */
function say (text, isError = false) {
  setText(message, text)
  message.classList.toggle('error', isError)
}

// --- tabs -------------------------------------------------------------------
/** @param {string} name */
function showTab (name) {
  for (const tab of document.querySelectorAll('.tab')) {
    tab.classList.toggle('active', tab.getAttribute('data-tab') === name)
  }
  for (const view of document.querySelectorAll('.view')) view.hidden = view.id !== `view-${name}`
  if (state.activeTimer) clearInterval(state.activeTimer)
  state.activeTimer = null
  if (name === 'active') {
    void refreshActive()
    state.activeTimer = setInterval(refreshActive, 10_000)
  }
  document.dispatchEvent(new CustomEvent('userlog:tab', { detail: { name } }))
}
for (const tab of document.querySelectorAll('.tab')) {
  tab.addEventListener('click', () => showTab(tab.getAttribute('data-tab') || 'logs'))
}

// --- autocomplete -----------------------------------------------------------
let suggestTimer = 0
let suggestSeq = 0
input.addEventListener('input', () => {
  clearTimeout(suggestTimer)
  suggestTimer = setTimeout(async () => {
    const seq = ++suggestSeq
    try {
      const res = await api(`users?q=${encodeURIComponent(input.value)}&limit=20`)
      if (seq !== suggestSeq || !res) return
      clear(suggestions)
      for (const u of res.users) {
        const option = el('option')
        option.value = u.user
        setText(option, `last seen ${new Date(u.lastSeen).toLocaleString()}`)
        suggestions.append(option)
      }
    } catch { /* suggestions are a convenience: the search itself reports errors */ }
  }, 150)
})

// --- a user's log -------------------------------------------------------------
/** @param {string} user */
async function showUser (user) {
  state.user = user
  const hash = `#user=${encodeURIComponent(user)}`
  if (location.hash !== hash) history.replaceState(null, '', hash)
  renderToolbar()
  say('Loading…')
  try {
    const res = await api(`logs/${userPath(user)}`)
    if (state.user !== user) return
    if (!res) {
      table.clear()
      table.table.hidden = true
      say(`No logs for ${user}`)
      document.dispatchEvent(new CustomEvent('userlog:user', { detail: { user, entries: [] } }))
      return
    }
    table.setEntries(res.entries)
    table.table.hidden = false
    say(`${res.entries.length} recent ${res.entries.length === 1 ? 'entry' : 'entries'} for ${user}, newest first`)
    document.dispatchEvent(new CustomEvent('userlog:user', { detail: { user, entries: res.entries } }))
  } catch (err) {
    say(`Could not load the log: ${err instanceof Error ? err.message : String(err)}`, true)
  }
}

function renderToolbar () {
  clear(toolbar)
  if (state.user === null) return
  const reload = el('button', { type: 'button' }, ['Reload'])
  reload.addEventListener('click', () => { if (state.user !== null) void showUser(state.user) })
  const del = el('button', { type: 'button', class: 'danger' }, ['Delete data…'])
  del.addEventListener('click', async () => {
    const user = state.user
    if (user === null) return
    if (!confirm(`Erase every entry and session of “${user}”? This cannot be undone.`)) return
    try {
      await api(`users/${userPath(user)}`, { method: 'DELETE' })
      table.clear()
      table.table.hidden = true
      say(`Erased the data of ${user}`)
    } catch (err) {
      say(`Could not erase: ${err instanceof Error ? err.message : String(err)}`, true)
    }
  })
  toolbar.append(reload, del)
  document.dispatchEvent(new CustomEvent('userlog:toolbar', { detail: { toolbar, user: state.user, table } }))
}

$('search').addEventListener('submit', (ev) => {
  ev.preventDefault()
  const user = input.value
  if (user !== '') void showUser(user)
})

// --- active now ---------------------------------------------------------------
const minutes = /** @type {HTMLSelectElement} */ ($('active-minutes'))
minutes.addEventListener('change', () => { void refreshActive() })
async function refreshActive () {
  const body = /** @type {HTMLTableElement} */ ($('active')).tBodies[0]
  try {
    const res = await api(`active?minutes=${encodeURIComponent(minutes.value)}`)
    clear(body)
    for (const u of res.users) {
      const name = el('a', { href: '#' }, [u.user])
      name.addEventListener('click', (ev) => {
        ev.preventDefault()
        input.value = u.user
        showTab('logs')
        void showUser(u.user)
      })
      body.append(el('tr', {}, [
        el('td', {}, [name]),
        el('td', {}, [new Date(u.lastSeen).toLocaleTimeString()]),
        el('td', { class: 'url' }, [u.path ?? ''])
      ]))
    }
    $('active-empty').hidden = res.users.length > 0
  } catch (err) {
    clear(body)
    setText($('active-empty'), `Could not load: ${err instanceof Error ? err.message : String(err)}`)
    $('active-empty').hidden = false
  }
}

// --- start ----------------------------------------------------------------------
const initial = new URLSearchParams(location.hash.slice(1)).get('user')
if (initial) {
  input.value = initial
  void showUser(initial)
}

export { state, table, showUser, showTab, say }
