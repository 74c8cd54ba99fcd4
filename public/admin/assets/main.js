// The admin page: tabs, the username search with autocomplete, a user's log with its filters and
// links, and the All users view's filters. The view of a user's log lives in the URL
// (url-state.js), so a copied link opens the same view.
import { api, userPath } from './api.js'
import { el, clear, setText } from './dom.js'
import { LogTable } from './logtable.js'
import { FilterBar } from './filterbar.js'
import { formatTime, zoneLabel } from './time.js'
import { linkTo, readState, writeState } from './url-state.js'
import { asksForReason, setAsksForReason } from './reason.js'
import { NO_FILTER } from './rules/filter.js'
import { setOpenUser } from './active-now.js'
// Each feature module wires itself to the page through the userlog:* events dispatched here.
import './live.js'
import './sessions.js'
import './presence-badge.js'
import './user-card.js'
import './report.js'
import './audit.js'

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id))

const state = {
  /** @type {string | null} */ user: null,
  /** @type {import('./rules/filter.js').Filter} */ filter: NO_FILTER
}

const message = $('message')
const input = /** @type {HTMLInputElement} */ ($('username'))
const suggestions = $('user-suggestions')
const toolbar = $('toolbar')

/** @param {string} text @param {boolean} [isError] */
function say (text, isError = false) {
  setText(message, text)
  message.classList.toggle('error', isError)
}

/** Copies a link; where the clipboard is refused, shows it to copy by hand. @param {string} link */
async function copyLink (link) {
  try {
    await navigator.clipboard.writeText(link)
    say('Link copied. It opens this view for an admin; the user name is the only personal data in it.')
  } catch {
    say(`Copy this link: ${link}`)
  }
}

setText($('zone'), `Times in ${zoneLabel()}`)
const askReasonBox = /** @type {HTMLInputElement} */ ($('ask-reason'))
askReasonBox.checked = asksForReason()
askReasonBox.addEventListener('change', () => setAsksForReason(askReasonBox.checked))

// --- tabs -------------------------------------------------------------------
/** @param {string} name */
function showTab (name) {
  for (const tab of document.querySelectorAll('.tab')) {
    tab.classList.toggle('active', tab.getAttribute('data-tab') === name)
  }
  for (const view of document.querySelectorAll('.view')) {
    const section = /** @type {HTMLElement} */ (view)
    section.hidden = section.id !== `view-${name}`
  }
  document.dispatchEvent(new CustomEvent('userlog:tab', { detail: { name, allTable, allToolbar, allMessage } }))
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
        setText(option, `last seen ${formatTime(u.lastSeen)}`)
        suggestions.append(option)
      }
    } catch { /* suggestions are a convenience: the search itself reports errors */ }
  }, 150)
})

// --- a user's log -------------------------------------------------------------
const table = new LogTable(/** @type {HTMLTableElement} */ ($('log')), {
  linkFor: (entry) => state.user === null ? null : linkTo({ user: state.user, filter: state.filter, at: entry.id }),
  onCopy: (link) => { void copyLink(link) }
})
const filters = new FilterBar((filter) => {
  state.filter = filter
  table.setFilter(filter)
  countRows(table, filters)
  if (state.user !== null) history.replaceState(null, '', writeState({ user: state.user, filter }))
})
filters.element.hidden = true
$('log-filters').append(filters.element)

/** @param {LogTable} t @param {FilterBar} f */
function countRows (t, f) { f.setCount(t.shownCount, t.count) }
document.addEventListener('userlog:rows', (ev) => {
  const t = /** @type {CustomEvent<{ table: LogTable }>} */ (ev).detail.table
  if (t === table) countRows(table, filters)
  else if (t === allTable) countRows(allTable, allFilters)
})

/**
 * Shows a user's log (all of it: filters only hide rows); `at` highlights one entry.
 * @param {string} user @param {string | null} [at]
 */
async function showUser (user, at = null) {
  state.user = user
  history.replaceState(null, '', writeState({ user, filter: state.filter, at }))
  renderToolbar()
  say('Loading…')
  try {
    const res = await api(`logs/${userPath(user)}`)
    if (state.user !== user) return
    if (!res) {
      table.clear()
      table.table.hidden = true
      filters.element.hidden = true
      say(`No logs for ${user}`)
      document.dispatchEvent(new CustomEvent('userlog:user', { detail: { user, entries: [] } }))
      return
    }
    table.setEntries(res.entries)
    table.table.hidden = false
    filters.element.hidden = false
    countRows(table, filters)
    say(`${res.entries.length} recent ${res.entries.length === 1 ? 'entry' : 'entries'} for ${user}, newest first`)
    document.dispatchEvent(new CustomEvent('userlog:user', { detail: { user, entries: res.entries } }))
    if (at !== null) showLinked(at)
  } catch (err) {
    say(`Could not load the log: ${err instanceof Error ? err.message : String(err)}`, true)
  }
}

/** @param {string} id */
function showLinked (id) {
  const row = table.rowOf(id)
  if (row === null) {
    say('The linked entry is no longer in the log: only the most recent entries are kept.', true)
    return
  }
  // A link shows its entry even where a switch of this browser (Hide heartbeats) would hide it.
  row.hidden = false
  table.highlight(row)
}

function renderToolbar () {
  clear(toolbar)
  if (state.user === null) return
  const copy = el('button', { type: 'button', class: 'copy-view' }, ['Copy link'])
  copy.addEventListener('click', () => {
    if (state.user !== null) void copyLink(linkTo({ user: state.user, filter: state.filter }))
  })
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
  toolbar.append(copy, reload, del)
  document.dispatchEvent(new CustomEvent('userlog:toolbar', { detail: { toolbar, user: state.user, table } }))
}

$('search').addEventListener('submit', (ev) => {
  ev.preventDefault()
  const user = input.value
  if (user !== '') void showUser(user)
})

/** Opens the view a URL hash names (on load, and when a link is pasted into this tab). */
function openFromHash () {
  const view = readState(location.hash)
  state.filter = view.filter
  filters.set(view.filter)
  table.setFilter(view.filter)
  if (view.user !== null) {
    input.value = view.user
    showTab('logs')
    void showUser(view.user, view.at)
  }
  const problems = $('link-problems')
  setText(problems, view.problems.length > 0 ? `This link was partly ignored: ${view.problems.join('; ')}.` : '')
  problems.hidden = view.problems.length === 0
}
window.addEventListener('hashchange', () => {
  // Our own replaceState does not fire this: only a link opened or typed into this tab does.
  openFromHash()
})

// --- all users ----------------------------------------------------------------
const allTable = new LogTable(/** @type {HTMLTableElement} */ ($('all-log')), { showUser: true })
const allMessage = $('all-message')
const allToolbar = $('all-toolbar')
const allFilters = new FilterBar((filter) => {
  allTable.setFilter(filter)
  countRows(allTable, allFilters)
})
$('all-filters').append(allFilters.element)

// --- active now ---------------------------------------------------------------
setOpenUser((user) => {
  input.value = user
  showTab('logs')
  void showUser(user)
})

// --- start ----------------------------------------------------------------------
openFromHash()

export { state, table, showUser, showTab, say }
