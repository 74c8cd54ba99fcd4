/*! fastify-userlog tracker: page activity, errors and failed requests, posted to the plugin's /events. */
// One <script defer> tag, no dependencies. Options, as data- attributes: endpoint (default: "events" beside
// this script), heartbeat (s, 0 = none), clicks / errors / network ("false" = off). Never page text,
// input values, bodies or headers.
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
  function on (name) { return data[name] !== 'false' && data[name] !== 'off' }
  var nativeFetch = window.fetch // our own posts use it: never reported
  var now = function () { return performance.now() } // monotonic

  var queue = []
  var timer = 0
  var lastPathname = null
  var lastPath = null
  // This page view: start, active ms, active since (or null), errors seen.
  var pageStart = 0
  var activeMs = 0
  var activeFrom = null
  var errors = {}

  function cut (s, max) {
    s = String(s)
    return s.length > max ? s.slice(0, max) : s
  }

  function currentPath () {
    return cut(location.pathname + location.search, 2048)
  }

  /** Ours: path + query (redacted by the server); another site's: origin + path (+ query: referrers). */
  function urlOf (url, foreignQuery) {
    if (!url) return ''
    try {
      var u = new URL(url, location.href)
      if (u.origin === location.origin) return cut(u.pathname + u.search, 2048)
      if (!/^https?:$/.test(u.protocol)) return u.protocol
      return cut(u.origin + u.pathname + (foreignQuery ? u.search : ''), 2048)
    } catch {
      return ''
    }
  }

  function int (n) {
    return typeof n === 'number' && n >= 0 && n <= 1e9 && n % 1 === 0 ? n : undefined
  }

  function ms (n) {
    return Math.max(0, Math.min(Math.round(n), 6048e5)) // 7 days: the server's bound
  }

  /** Counts active time (visible and focused, as heartbeats) up to now. */
  function tick () {
    var t = now()
    if (activeFrom !== null) activeMs += t - activeFrom
    activeFrom = document.visibilityState === 'visible' && document.hasFocus() ? t : null
  }

  function event (type, extra) {
    var e = { type: type, path: currentPath(), date: new Date().toISOString() }
    for (var k in extra) if (extra[k] !== undefined) e[k] = extra[k]
    return e
  }

  function schedule () {
    if (!timer) timer = setTimeout(flush, FLUSH_MS)
  }

  function push (e) {
    queue.push(e)
    if (queue.length >= MAX_BATCH) flush()
    else schedule()
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
      nativeFetch.call(window, endpoint, {
        method: 'POST',
        body: body,
        keepalive: true,
        credentials: 'same-origin',
        headers: { 'Content-Type': 'text/plain;charset=UTF-8' }
      }).catch(function () {})
    } catch { /* never break the page */ }
  }

  /** An error seen past 5 times: one more event saying how often. */
  function drainRepeats () {
    for (var key in errors) {
      var r = errors[key]
      if (r.more) {
        r.e.repeat = r.more
        queue.push(event('error', r.e))
        r.more = 0
      }
    }
  }

  function flush (beacon) {
    clearTimeout(timer)
    timer = 0
    drainRepeats()
    while (queue.length) post(take(), beacon === true)
  }

  function pageview (referrer) {
    drainRepeats()
    errors = {}
    lastPathname = location.pathname
    pageStart = now()
    activeMs = 0
    activeFrom = null
    tick()
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
      tick()
      if (activeFrom !== null) push(event('heartbeat'))
    }, heartbeatMs)
  }
  window.addEventListener('focus', tick)
  window.addEventListener('blur', tick)

  /** Its (or its nearest ancestor's) data-userlog name, else tag#id.classes; never its text. */
  function nameOf (el) {
    var named = el.closest('[data-userlog]')
    if (named) return cut(named.getAttribute('data-userlog') || named.tagName.toLowerCase(), 200)
    var s = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    for (var i = 0; i < el.classList.length; i++) s += '.' + el.classList[i]
    return cut(s, 200)
  }

  // Rage clicks: a burst starts with 3 clicks on one element within 1 s, ends 1 s after its last or elsewhere.
  var rageEl = null
  var rageName = ''
  var rageTimes = []
  var rageCount = 0
  var rageTimer = 0
  function rageEnd () {
    clearTimeout(rageTimer)
    if (rageCount) {
      push(event('interaction', { event: 'rage_click', element: rageName, metadata: { count: rageCount } }))
    }
    rageEl = null
    rageTimes = []
    rageCount = 0
  }

  if (on('clicks')) {
    document.addEventListener('click', function (ev) {
      var el = ev.target
      if (!el || !el.closest) return
      var t = now()
      if (el !== rageEl) {
        rageEnd()
        rageEl = el
        rageName = nameOf(el)
      }
      rageTimes = rageTimes.filter(function (at) { return t - at < 1000 })
      rageTimes.push(t)
      if (rageCount) rageCount++
      else if (rageTimes.length >= 3) rageCount = rageTimes.length
      clearTimeout(rageTimer)
      rageTimer = setTimeout(rageEnd, 1000)
      if (el.closest('[data-userlog]')) push(event('interaction', { event: 'click', element: nameOf(el) }))
    }, true)
  }

  // An error (message + source + line) goes at most 5 times a page view; later ones are counted.
  function reportError (errorType, message, source, line, column, stack) {
    message = cut(message, 1000)
    var key = message + '\n' + source + '\n' + line
    var e = {
      message: message,
      source: source || undefined,
      line: int(line),
      column: int(column),
      stack: typeof stack === 'string' ? cut(stack, 4000) : undefined,
      errorType: errorType
    }
    var r = errors[key] = errors[key] || { e: e, n: 0, more: 0 }
    if (++r.n <= 5) return push(event('error', e))
    r.more++
    schedule()
  }

  if (on('errors')) {
    window.addEventListener('error', function (ev) {
      try {
        if (ev.message === undefined) return // not a script's
        reportError('error', ev.message, urlOf(ev.filename), ev.lineno, ev.colno, ev.error && ev.error.stack)
      } catch { /* never break the page */ }
    })
    window.addEventListener('unhandledrejection', function (ev) {
      try {
        var reason = ev.reason
        var stack = reason && typeof reason.stack === 'string' ? reason.stack : ''
        // Where: the stack's first frame.
        var at = /(https?:\/\/[^\s()]+):(\d+):(\d+)/.exec(stack) || []
        reportError('unhandledrejection', String(reason), urlOf(at[1]), at[2] && +at[2], at[3] && +at[3], stack)
      } catch { /* never break the page */ }
    })
  }

  // Failed requests: fetch and XHR observed, never changed (same results, errors, events, order).
  function requestFailed (method, url, status, start, idOf) {
    try {
      method = String(method || 'GET').toUpperCase()
      var id = idOf && idOf()
      push(event('request_failed', {
        method: /^[A-Z][A-Z0-9_-]{0,19}$/.test(method) ? method : 'OTHER',
        url: urlOf(String(url)),
        status: status,
        ms: ms(now() - start),
        requestId: typeof id === 'string' && /^[!-~]{1,128}$/.test(id) ? id : undefined
      }))
    } catch { /* never break the page */ }
  }

  if (on('network') && typeof nativeFetch === 'function' && !nativeFetch.userlog) {
    var observedFetch = function (input, init) {
      var start = now()
      var result = nativeFetch.apply(this, arguments)
      try {
        var req = input instanceof Request ? input : {}
        var method = (init && init.method) || req.method
        var url = req.url || input
        var signal = (init && init.signal) || req.signal
        if (typeof result.then !== 'function') return result
      } catch {
        return result
      }
      // The same Response or error, a microtask later.
      return result.then(function (res) {
        if (res.status >= 400) {
          requestFailed(method, url, res.status, start, function () { return res.headers.get('x-userlog-request-id') })
        }
        return res
      }, function (err) {
        if (!(signal && signal.aborted) && !(err && err.name === 'AbortError')) requestFailed(method, url, 0, start)
        throw err
      })
    }
    observedFetch.userlog = true
    window.fetch = observedFetch
  }

  var xhrProto = on('network') && window.XMLHttpRequest && XMLHttpRequest.prototype
  if (xhrProto && !xhrProto.send.userlog) {
    var opened = new WeakMap() // beside the page's objects, not on them
    var open = xhrProto.open
    var send = xhrProto.send
    xhrProto.open = function (method, url) {
      var r = opened.get(this) || {}
      r.method = method
      r.url = url
      opened.set(this, r)
      return open.apply(this, arguments)
    }
    xhrProto.send = function () {
      var xhr = this
      var r = opened.get(xhr)
      if (r) {
        r.start = now()
        if (!r.observed) {
          r.observed = true
          var fail = function (ev) {
            var status = ev.type === 'load' ? xhr.status : 0
            if (ev.type !== 'load' || status >= 400) {
              requestFailed(r.method, r.url, status, r.start, function () {
                var id = /^x-userlog-request-id:\s*(\S+)/im.exec(xhr.getAllResponseHeaders())
                return id && id[1]
              })
            }
          }
          xhr.addEventListener('load', fail)
          xhr.addEventListener('error', fail)
          xhr.addEventListener('timeout', fail)
        }
      }
      return send.apply(this, arguments)
    }
    xhrProto.send.userlog = true
  }

  // Hidden sends the queue by beacon. Nothing after session_end (Chrome hides a page after pagehide).
  var left = false
  document.addEventListener('visibilitychange', function () {
    tick()
    var hidden = document.visibilityState === 'hidden'
    if (!left) push(event('visibility', { state: hidden ? 'hidden' : 'visible' }))
    if (hidden) flush(true)
  })
  // Leaving: session_end with the page view's active and total ms, by beacon.
  window.addEventListener('pagehide', function () {
    left = true
    rageEnd()
    tick()
    queue.push(event('session_end', { activeMs: ms(activeMs), pageMs: ms(now() - pageStart) }))
    flush(true)
  })
  // Back from the back-forward cache: the page is shown again.
  window.addEventListener('pageshow', function (ev) {
    left = false
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
     * Records an interaction `event` (a known one or a-z0-9_, ≤ 40) with options.element (≤ 200) and
     * options.metadata (≤ 20 string, number, boolean or null values). False, and nothing sent, if bad.
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

  pageview(urlOf(document.referrer, true))
})()
