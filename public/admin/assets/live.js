// The live view: entries from the realtime server, added on top of a log as they arrive. Pause
// keeps what arrives and shows it on Resume; filters only hide rows, so nothing is lost to them.
// Every live batch is also announced (`userlog:live`), paused or not, so that presence stays current.
import { el, setText } from './dom.js'
import { RealtimeConnection } from './connection.js'
import { askReason } from './reason.js'

export class LiveStream {
  /**
   * @param {string} user a user name, or '*' for everyone
   * @param {import('./logtable.js').LogTable} table
   * @param {(text: string) => void} status a place to say what the stream is doing
   * @param {string} [reason] why the admin watches, for the audit trail
   */
  constructor (user, table, status, reason = '') {
    this.user = user
    this.table = table
    this.status = status
    this.paused = false
    /** @type {any[]} */ this.held = []
    this.skipped = 0
    this.connection = new RealtimeConnection({
      user, reason, onStatus: status, onMessage: (msg) => this.onMessage(msg)
    })
  }

  async start () { await this.connection.start() }

  /** @param {any} msg */
  onMessage (msg) {
    switch (msg.type) {
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
    }
  }

  /** @param {any[]} entries oldest first */
  deliver (entries) {
    document.dispatchEvent(new CustomEvent('userlog:live', { detail: { user: this.user, entries } }))
    if (this.paused) {
      this.held.push(...entries)
      this.status(`Paused — ${this.held.length} new ${this.held.length === 1 ? 'entry' : 'entries'} waiting`)
      return
    }
    this.table.prepend(entries)
    this.table.table.hidden = false
    document.dispatchEvent(new CustomEvent('userlog:rows', { detail: { table: this.table } }))
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
    document.dispatchEvent(new CustomEvent('userlog:rows', { detail: { table: this.table } }))
    this.status(`Live — ${added} ${added === 1 ? 'entry' : 'entries'} added on resume`)
  }

  stop () { this.connection.stop() }
}

/**
 * A Live switch and a Pause button for a stream into `table`.
 * @param {HTMLElement} toolbar @param {string} user @param {import('./logtable.js').LogTable} table
 * @param {(t: string) => void} status
 */
function addControls (toolbar, user, table, status, startOn = false) {
  /** @type {LiveStream | null} */
  let stream = null
  const liveBox = /** @type {HTMLInputElement} */ (el('input', { type: 'checkbox', class: 'live-switch' }))
  const pause = /** @type {HTMLButtonElement} */ (el('button', { type: 'button', class: 'pause' }, ['Pause']))
  pause.disabled = true
  const stop = () => {
    stream?.stop()
    stream = null
    pause.disabled = true
    setText(pause, 'Pause')
  }
  liveBox.addEventListener('change', async () => {
    if (!liveBox.checked) {
      stop()
      status('')
      return
    }
    const reason = await askReason(user === '*' ? 'all users' : `${user} live`)
    if (reason === null || !liveBox.checked) {
      liveBox.checked = false
      return
    }
    stream = new LiveStream(user, table, status, reason)
    void stream.start()
    pause.disabled = false
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
  return stop
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

// All users: live while the tab is open, with the same filters as a user's log.
/** @type {(() => void) | null} */
let stopAll = null
document.addEventListener('userlog:tab', (ev) => {
  const { name, allTable, allToolbar, allMessage } = /** @type {CustomEvent} */ (ev).detail
  if (name === 'all' && stopAll === null) {
    allTable.clear()
    for (const old of allToolbar.querySelectorAll('label.live, button.pause')) old.remove()
    stopAll = addControls(allToolbar, '*', allTable, (/** @type {string} */ text) => setText(allMessage, text), true)
  } else if (name !== 'all' && stopAll !== null) {
    stopAll()
    stopAll = null
  }
})
