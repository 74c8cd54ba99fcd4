// One connection to the realtime server: a single-use token from the admin API, a WebSocket, the
// first message, then every message to `onMessage`. A dropped connection is retried with backoff
// (0.5 s doubling to 15 s, jittered) and a fresh token, under a visible banner. Used by the live
// log (entries) and by Active now (the presence stream).
import { api } from './api.js'
import { setText } from './dom.js'

const banner = /** @type {HTMLElement} */ (document.getElementById('banner'))
const RECONNECT_MIN_MS = 500
const RECONNECT_MAX_MS = 15_000

/** @param {string} text */
export function showBanner (text) {
  setText(banner, text)
  banner.hidden = false
}
export function hideBanner () { banner.hidden = true }

export class RealtimeConnection {
  /**
   * @param {{ user: string, stream?: 'presence', reason?: string, banner?: boolean,
   *   onMessage: (msg: any) => void, onStatus: (text: string) => void }} options
   *   `user` is a user name or '*'; `reason` goes into the audit record of the watch; `banner: false`
   *   reports a lost connection through `onStatus` only (for a view that works without it).
   */
  constructor (options) {
    this.options = options
    this.banner = options.banner !== false
    /** @type {WebSocket | null} */ this.ws = null
    this.stopped = false
    this.attempt = 0
    /** @type {ReturnType<typeof setTimeout> | null} */ this.timer = null
  }

  async start () {
    this.stopped = false
    const { user, stream, reason } = this.options
    let grant
    try {
      grant = await api('token', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user, ...(stream ? { stream } : {}), ...(reason ? { reason } : {}) })
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
    const first = stream ? { token: grant.token, stream } : { token: grant.token }
    ws.addEventListener('open', () => ws.send(JSON.stringify(first)))
    ws.addEventListener('message', (ev) => {
      let msg
      try { msg = JSON.parse(String(ev.data)) } catch { return }
      if (!msg || typeof msg !== 'object') return
      if (msg.type === 'hello') {
        this.attempt = 0
        if (this.banner) hideBanner()
      } else if (msg.type === 'status' && this.banner) {
        if (msg.redis === 'down') showBanner('The realtime server lost Redis — waiting for it to come back…')
        else hideBanner()
      }
      this.options.onMessage(msg)
    })
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
    if (this.banner) showBanner('Connection lost — reconnecting…')
    this.options.onStatus(reason)
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.attempt) * (0.75 + Math.random() / 2)
    this.attempt++
    this.timer = setTimeout(() => { void this.start() }, delay)
  }

  stop () {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    if (this.ws) this.ws.close(1000)
    this.ws = null
    if (this.banner) hideBanner()
  }
}
