/*! fastify-userlog tracker: page views, heartbeats, interactions and session ends, posted to the plugin's /events. */
// Plain browser JS, no dependencies, one <script defer> tag. Options are data- attributes on that tag:
//   data-endpoint="/userlog/events"  where to post (default: "events" next to this script's URL)
//   data-heartbeat="15"              seconds between heartbeats while the page is visible and focused (0 = none)
//   data-clicks="false"              do not record clicks on [data-userlog] elements
// It sends paths (pathname + search), never full URLs with a host, and never page text or input values.
;(function () {
  'use strict'
  if (window.userlog && window.userlog.track) return // loaded twice

  var MAX_BATCH = 50
  var MAX_BYTES = 15360 // under the server's 16 KiB body limit
  var FLUSH_MS = 1000
  var NAME = /^[a-z][a-z0-9_]{0,39}$/

  var script = document.currentScript || document.querySelector('script[src*="tracker.js"]')
  var data = (script && script.dataset) || {}
  var endpoint = data.endpoint || (script && script.src ? script.src.replace(/tracker\.js(?:[?#].*)?$/, 'events') : '/userlog/events')
  var seconds = data.heartbeat === undefined ? 15 : Number(data.heartbeat)
  var heartbeatMs = isFinite(seconds) && seconds > 0 ? Math.max(seconds, 0.05) * 1000 : 0
  var clicks = data.clicks !== 'false' && data.clicks !== 'off'

  var queue = []
  var timer = 0
  var lastPathname = null
  var lastPath = null

  function cut (s, max) {
    s = String(s)
    return s.length > max ? s.slice(0, max) : s
  }

  function currentPath () {
    return cut(location.pathname + location.search, 2048)
  }

  /**
   * A referrer of this origin becomes a path; another site's stays a URL (browsers cut those to
   * the origin by default).
   */
  function referrerOf (url) {
    if (!url) return ''
    try {
      var u = new URL(url)
      if (u.origin === location.origin) return cut(u.pathname + u.search, 2048)
      return cut(u.origin + u.pathname + u.search, 2048)
    } catch {
      return ''
    }
  }

  function event (type, extra) {
    var e = { type: type, path: currentPath(), date: new Date().toISOString() }
    for (var k in extra) if (extra[k] !== undefined) e[k] = extra[k]
    return e
  }

  function push (e) {
    queue.push(e)
    if (queue.length >= MAX_BATCH) flush()
    else if (!timer) timer = setTimeout(flush, FLUSH_MS)
  }

  /** Takes up to MAX_BATCH queued events that fit in MAX_BYTES, as a JSON body. */
  function take () {
    var n = Math.min(queue.length, MAX_BATCH)
    var body = JSON.stringify(queue.slice(0, n))
    while (n > 1 && new Blob([body]).size > MAX_BYTES) {
      n = Math.ceil(n / 2)
      body = JSON.stringify(queue.slice(0, n))
    }
    queue.splice(0, n)
    return body
  }

  function post (body, beacon) {
    if (beacon && navigator.sendBeacon) {
      try {
        // A string body goes as text/plain;charset=UTF-8.
        if (navigator.sendBeacon(endpoint, body)) return
      } catch { /* fall back to fetch */ }
    }
    try {
      // text/plain is a "simple" request: no preflight, and the same body works for sendBeacon.
      fetch(endpoint, {
        method: 'POST',
        body: body,
        keepalive: true,
        credentials: 'same-origin',
        headers: { 'Content-Type': 'text/plain;charset=UTF-8' }
      }).catch(function () {})
    } catch { /* never break the page */ }
  }

  function flush (beacon) {
    clearTimeout(timer)
    timer = 0
    while (queue.length) post(take(), beacon === true)
  }

  function pageview (referrer) {
    lastPathname = location.pathname
    push(event('pageview', referrer ? { referrer: referrer } : {}))
    lastPath = currentPath()
  }

  /** A page view when the pathname changed; a query-only change is not one. */
  function check () {
    if (location.pathname === lastPathname) {
      lastPath = currentPath()
      return
    }
    pageview(lastPath || '')
  }

  ;['pushState', 'replaceState'].forEach(function (name) {
    var original = history[name]
    if (typeof original !== 'function') return
    history[name] = function () {
      var result = original.apply(this, arguments)
      try { check() } catch { /* never break navigation */ }
      return result
    }
  })
  window.addEventListener('popstate', check)
  window.addEventListener('hashchange', check)

  if (heartbeatMs) {
    setInterval(function () {
      if (document.visibilityState === 'visible' && document.hasFocus()) push(event('heartbeat'))
    }, heartbeatMs)
  }

  if (clicks) {
    document.addEventListener('click', function (ev) {
      var target = ev.target
      var node = target && target.closest ? target.closest('[data-userlog]') : null
      if (!node) return
      var name = node.getAttribute('data-userlog') || node.tagName.toLowerCase()
      push(event('interaction', { event: 'click', element: cut(name, 200) }))
    }, true)
  }

  // Leaving: what is queued goes now; pagehide also ends the session, by beacon.
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'hidden') flush(true)
  })
  window.addEventListener('pagehide', function () {
    queue.push(event('session_end'))
    flush(true)
  })
  // Back from the back-forward cache: the page is shown again.
  window.addEventListener('pageshow', function (ev) {
    if (ev.persisted) pageview('')
  })

  function cleanMetadata (metadata) {
    if (metadata === undefined || metadata === null) return undefined
    if (typeof metadata !== 'object' || Array.isArray(metadata)) return null
    var out = {}
    var n = 0
    for (var k in metadata) {
      if (!Object.prototype.hasOwnProperty.call(metadata, k)) continue
      var v = metadata[k]
      if (typeof v === 'string') v = cut(v, 500)
      else if (typeof v === 'number') { if (!isFinite(v)) v = null }
      else if (typeof v !== 'boolean' && v !== null) return null
      if (++n > 20 || k.length > 64) return null
      out[k] = v
    }
    return out
  }

  window.userlog = {
    /**
     * Records an interaction. `event`: click, scroll, mouse_over, mouse_out, key_press, form_submit,
     * input_change, focus, blur, or a name of your own (a-z, 0-9, _; starts with a letter; ≤ 40).
     * `options.element`: a name for the element (≤ 200); `options.metadata`: a flat object of at most
     * 20 string, number, boolean or null values. Returns false (and sends nothing) for bad input.
     */
    track: function (name, options) {
      options = options || {}
      var metadata = cleanMetadata(options.metadata)
      if (typeof name !== 'string' || !NAME.test(name) || metadata === null) {
        if (window.console) console.warn('userlog.track: invalid event', name)
        return false
      }
      var extra = { event: name, metadata: metadata }
      if (options.element !== undefined && options.element !== null) extra.element = cut(options.element, 200)
      push(event('interaction', extra))
      return true
    },
    /** Sends what is queued now. */
    flush: function () { flush(false) }
  }

  pageview(referrerOf(document.referrer))
})()
