// The live view: a token from the admin API, a WebSocket to the realtime server, rows on top as
// entries arrive. Pause keeps what arrives and shows it on resume; a dropped connection is retried
// with backoff and a fresh token, under a visible banner.
import { api } from './api.js'
import { el, setText } from './dom.js'
import { LogTable } from './logtable.js'

const banner = /** @type {HTMLElement} */ (document.getElementById('banner'))
const RECONNECT_MIN_MS = 500
const RECONNECT_MAX_MS = 15_000

/** @param {string} text */
function showBanner (text) {
  setText(banner, text)
  banner.hidden = false
}
function hideBanner () { banner.hidden = true }

export class LiveStream {
  /**
   * @param {string} user a user name, or '*' for everyone
   * @param {LogTable} table
   * @param {(text: string) => void} status a place to say what the stream is doing
   */
  constructor (user, table, status) {
    this.user = user
    this.table = table
    this.status = status
    /** @type {WebSocket | null} */ this.ws = null
    this.stopped = false
    this.paused = false
    /** @type {any[]} */ this.held = []
    this.attempt = 0
    /** @type {ReturnType<typeof setTimeout> | null} */ this.timer = null
    this.skipped = 0
  }

  async start () {
    this.stopped = false
    let grant
    try {
      grant = await api('token', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: this.user })
      })
    } catch (err) {
      this.retry(`Reconnecting: could not get a live token (${err instanceof Error ? err.message : String(err)})`)
      return
    }
    if (this.stopped) return
    let ws
    try {
      ws = new WebSocket(grant.url)
    } catch {
      this.retry(`Reconnecting: could not connect to ${grant.url}`)
      return
    }
    this.ws = ws
    ws.addEventListener('open', () => ws.send(JSON.stringify({ token: grant.token })))
    ws.addEventListener('message', (ev) => this.onMessage(ev.data))
    ws.addEventListener('close', (ev) => {
      if (this.ws !== ws) return
      this.ws = null
      if (this.stopped) return
      const why = ev.code === 4401
        ? 'the live token was refused'
        : ev.code === 1013 ? 'this page fell too far behind' : 'the realtime server went away'
      this.retry(`Reconnecting: ${why}`)
    })
  }

  /** @param {string} reason why the stream stopped, shown beside the table */
  retry (reason) {
    if (this.stopped) return
    showBanner('Connection lost — reconnecting…')
    this.status(reason)
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.attempt) * (0.75 + Math.random() / 2)
    this.attempt++
    this.timer = setTimeout(() => { void this.start() }, delay)
  }

  /** @param {unknown} data */
  onMessage (data) {
    let msg
    try { msg = JSON.parse(String(data)) } catch { return }
    if (!msg || typeof msg !== 'object') return
    switch (msg.type) {
      case 'hello':
        this.attempt = 0
        hideBanner()
        break
      case 'backlog':
        // The backlog comes once the server listens and the writers publish for this view: from
        // now on nothing is missed, so this is when the page says it is live.
        this.status(this.user === '*' ? 'Live: all users' : 'Live')
        if (Array.isArray(msg.entries)) this.deliver(msg.entries)
        break
      case 'entries':
        if (Array.isArray(msg.entries)) this.deliver(msg.entries)
        break
      case 'dropped':
        this.skipped += Number(msg.count) || 0
        this.status(`Live — ${this.skipped} entries skipped because this page could not keep up`)
        break
      case 'status':
        if (msg.redis === 'down') showBanner('The realtime server lost Redis — waiting for it to come back…')
        else hideBanner()
        break
    }
  }

  /** @param {any[]} entries oldest first */
  deliver (entries) {
    if (this.paused) {
      this.held.push(...entries)
      this.status(`Paused — ${this.held.length} new ${this.held.length === 1 ? 'entry' : 'entries'} waiting`)
      return
    }
    this.table.prepend(entries)
    this.table.table.hidden = false
  }

  /** @param {boolean} paused */
  setPaused (paused) {
    this.paused = paused
    if (paused) {
      this.status('Paused — 0 new entries waiting')
      return
    }
    const held = this.held
    this.held = []
    const added = this.table.prepend(held)
    this.status(`Live — ${added} ${added === 1 ? 'entry' : 'entries'} added on resume`)
  }

  stop () {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    if (this.ws) this.ws.close(1000)
    this.ws = null
    hideBanner()
  }
}

/**
 * A Live switch and a Pause button for a stream into `table`.
 * @param {HTMLElement} toolbar @param {string} user @param {LogTable} table @param {(t: string) => void} status
 */
function addControls (toolbar, user, table, status, startOn = false) {
  /** @type {LiveStream | null} */
  let stream = null
  const liveBox = /** @type {HTMLInputElement} */ (el('input', { type: 'checkbox', class: 'live-switch' }))
  const pause = /** @type {HTMLButtonElement} */ (el('button', { type: 'button', class: 'pause' }, ['Pause']))
  pause.disabled = true
  liveBox.addEventListener('change', () => {
    if (liveBox.checked) {
      stream = new LiveStream(user, table, status)
      void stream.start()
      pause.disabled = false
    } else {
      stream?.stop()
      stream = null
      pause.disabled = true
      setText(pause, 'Pause')
      status('')
    }
  })
  pause.addEventListener('click', () => {
    if (!stream) return
    stream.setPaused(!stream.paused)
    setText(pause, stream.paused ? 'Resume' : 'Pause')
  })
  toolbar.prepend(el('label', { class: 'live' }, [liveBox, ' Live']), pause)
  if (startOn) {
    liveBox.checked = true
    liveBox.dispatchEvent(new Event('change'))
  }
  return () => { stream?.stop(); stream = null }
}

// A user's log: the switch in its toolbar. The toolbar is rebuilt for each user shown.
/** @type {(() => void) | null} */
let stopUser = null
const message = /** @type {HTMLElement} */ (document.getElementById('message'))
document.addEventListener('userlog:toolbar', (ev) => {
  const { toolbar, user, table } = /** @type {CustomEvent} */ (ev).detail
  stopUser?.()
  stopUser = addControls(toolbar, user, table, (text) => { if (text) setText(message, text) })
})

// All users: live while the tab is open.
const allTable = new LogTable(/** @type {HTMLTableElement} */ (document.getElementById('all-log')), { showUser: true })
const allMessage = /** @type {HTMLElement} */ (document.getElementById('all-message'))
const allToolbar = /** @type {HTMLElement} */ (document.getElementById('all-toolbar'))
/** @type {(() => void) | null} */
let stopAll = null
document.addEventListener('userlog:tab', (ev) => {
  const { name } = /** @type {CustomEvent} */ (ev).detail
  if (name === 'all' && stopAll === null) {
    allTable.clear()
    while (allToolbar.firstChild) allToolbar.firstChild.remove()
    stopAll = addControls(allToolbar, '*', allTable, (text) => setText(allMessage, text), true)
  } else if (name !== 'all' && stopAll !== null) {
    stopAll()
    stopAll = null
  }
})
