// A viewer behind a WebSocket: the admin page. Control messages (hello, backlog, status) always go
// out; live entries only while the socket's send queue has room. What is skipped is counted and
// told as {"type":"dropped","count":n} as soon as the queue has drained, and a viewer whose queue
// stays full for `stuckMs` is closed with 1013, so one slow page never holds unbounded memory.
import { WebSocket } from 'ws'
import type { LiveEntry } from './entries.js'
import type { HubCounters } from './hub.js'
import { Viewer, type LiveFrame } from './viewer.js'

export interface WsViewerLimits {
  maxBufferedBytes: number
  stuckMs: number
}

/** Close codes of the realtime protocol. */
export const CLOSE = {
  goingAway: 1001,
  tryAgainLater: 1013,
  unauthorized: 4401,
  authTimeout: 4408
} as const

/** How long a closed viewer may take to finish the close handshake before its socket is destroyed. */
const CLOSE_GRACE_MS = 5000

export class WsViewer extends Viewer {
  /** Answered the last ping. */
  alive = true
  /** Since when live entries have been skipped for a full queue (null: not stuck). */
  stuckSince: number | null = null
  /** Entries skipped and not yet told. */
  skipped = 0
  /** The largest send queue seen right after a send, in bytes. */
  peakBuffered = 0

  constructor (readonly ws: WebSocket, user: string | null, private readonly limits: WsViewerLimits,
    private readonly counters: HubCounters) {
    super(user)
    ws.on('pong', () => { this.alive = true })
  }

  get open (): boolean { return this.ws.readyState === WebSocket.OPEN }

  hello (user: string): void { this.control({ type: 'hello', user }) }

  backlog (entries: LiveEntry[]): void {
    if (!this.open) return
    this.flushSkipped()
    this.ws.send(JSON.stringify({ type: 'backlog', entries }))
    this.counters.delivered += entries.length
    this.notePeak()
  }

  entries (entries: LiveEntry[]): void {
    if (entries.length === 0) return
    this.push(Buffer.from(JSON.stringify({ type: 'entries', entries })), entries.length)
  }

  live (frame: LiveFrame): void {
    if (!this.open) return
    // Checked before the frame is serialized, so a channel whose viewers are all full never builds it.
    if (this.ws.bufferedAmount >= this.limits.maxBufferedBytes) {
      this.skip(frame.entries.length)
      return
    }
    this.push(frame.data(), frame.entries.length)
  }

  status (up: boolean): void { this.control({ type: 'status', redis: up ? 'up' : 'down' }) }

  /** Presence of users (the presence stream): small, and each one replaces the last, so sent as control messages. */
  presence (users: object[], snapshot: boolean): void {
    this.control(snapshot ? { type: 'presence', snapshot: true, users } : { type: 'presence', users })
  }

  dropped (count: number): void {
    this.skipped += count
    if (this.ws.bufferedAmount < this.limits.maxBufferedBytes) this.flushSkipped()
  }

  /**
   * Periodic check: tells a drained viewer what it missed, closes one stuck for `stuckMs`. Returns
   * true if it closed it.
   */
  check (now: number): boolean {
    if (!this.open || this.stuckSince === null) return false
    if (this.ws.bufferedAmount < this.limits.maxBufferedBytes) {
      this.stuckSince = null
      this.flushSkipped()
      return false
    }
    if (now - this.stuckSince < this.limits.stuckMs) return false
    this.close(CLOSE.tryAgainLater, 'too slow')
    return true
  }

  /** Sends a ping; returns false (and terminates the socket) if the previous ping was never answered. */
  heartbeat (): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return true
    if (!this.alive) {
      this.ws.terminate()
      return false
    }
    this.alive = false
    this.ws.ping()
    return true
  }

  /** Starts the close handshake; a peer that does not finish it within a few seconds is cut off. */
  close (code: number, reason: string): void {
    closeSocket(this.ws, code, reason)
  }

  private push (data: Buffer, count: number): void {
    if (!this.open) return
    const queued = this.ws.bufferedAmount
    // An empty queue always takes one message, however large, so a big batch is never skipped forever.
    if (queued > 0 && queued + data.length > this.limits.maxBufferedBytes) {
      this.skip(count)
      return
    }
    this.flushSkipped()
    this.ws.send(data, { binary: false })
    this.counters.delivered += count
    this.notePeak()
  }

  private skip (count: number): void {
    this.skipped += count
    this.counters.dropped += count
    this.stuckSince ??= Date.now()
  }

  private flushSkipped (): void {
    if (this.skipped === 0) return
    const count = this.skipped
    this.skipped = 0
    this.ws.send(JSON.stringify({ type: 'dropped', count }))
  }

  private control (msg: object): void {
    if (this.open) this.ws.send(JSON.stringify(msg))
  }

  private notePeak (): void {
    const queued = this.ws.bufferedAmount
    if (queued > this.peakBuffered) this.peakBuffered = queued
  }
}

/** Closes a socket with a code, then destroys it if the peer does not answer the close in time. */
export function closeSocket (ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState === WebSocket.CLOSED) return
  if (ws.readyState === WebSocket.CLOSING) return
  ws.close(code, reason)
  const timer = setTimeout(() => { if (ws.readyState !== WebSocket.CLOSED) ws.terminate() }, CLOSE_GRACE_MS)
  timer.unref()
  ws.once('close', () => clearTimeout(timer))
}
