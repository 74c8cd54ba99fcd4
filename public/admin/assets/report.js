// The Report tab: N calendar days in the server's report time zone, drawn as inline SVG built
// with createElementNS (no chart library, no CDN, no markup from strings: every label is a text
// node). Also the export links: per user in the log toolbar, for all users on this tab.
import { api, userPath } from './api.js'
import { el, clear, setText } from './dom.js'
import { formatDuration, formatTime } from './time.js'

const SVG = 'http://www.w3.org/2000/svg'
const RANGES = [7, 14, 31]
const COLORS = {
  requests: '#2457c5', interactions: '#e07b00', duration: '#2a9d8f', pages: '#6a4c93', routes: '#2457c5',
  active: '#c2185b'
}
const BROWSER_COLORS = ['#2457c5', '#e07b00', '#2a9d8f', '#c2185b', '#6a4c93', '#8d6e63', '#43a047', '#9e9e9e']

// The tab's styles live beside this module (style-src 'self': a stylesheet link, no inline style).
document.head.append(el('link', { rel: 'stylesheet', href: new URL('report.css', import.meta.url).href }))

const view = /** @type {HTMLElement} */ (document.getElementById('view-report'))
const state = { days: 7, seq: 0 }

/** @type {Promise<{ anonymize: boolean }> | null} */
let config = null
function getConfig () {
  config ??= api('config').catch(() => { config = null; return { anonymize: false } })
  return config
}

/**
 * An SVG element; attribute values and text children are set as values, never parsed.
 * @param {string} tag @param {Record<string, string | number>} [attrs] @param {Array<Node | string>} [children]
 * @returns {SVGElement}
 */
function svg (tag, attrs = {}, children = []) {
  const node = /** @type {SVGElement} */ (document.createElementNS(SVG, tag))
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value))
  for (const child of children) node.append(typeof child === 'string' ? document.createTextNode(child) : child)
  return node
}

/** The smallest 1, 2 or 5 × 10^k at least `v` (at least 1). @param {number} v */
function niceMax (v) {
  if (v <= 1) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p
  return 10 * p
}

/** Seconds as the rest of the page writes a length of time. @param {number} s */
const duration = (s) => formatDuration(s * 1000)

/** @param {number | null} ms */
function when (ms) { return ms === null ? '—' : formatTime(ms) }

/**
 * Vertical bars per day, one group of `series.length` bars per day (zero bars are drawn with
 * height 0, so a day is always there).
 * @param {string} name @param {Array<{ date: string }>} days
 * @param {Array<{ key: string, label: string, color: string, value: (d: any) => number,
 *   format?: (n: number) => string }>} series
 */
function dailyBars (name, days, series) {
  const W = 760; const H = 230; const R = 8; const T = 12; const B = 40
  const max = niceMax(Math.max(0, ...days.flatMap((d) => series.map((s) => s.value(d)))))
  const fmt = series[0]?.format ?? String
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((tick) => ({ tick, label: fmt(Math.round(max * tick)) }))
  // The left margin fits the longest tick label ("2 h 05 min"), at about 7 units a character.
  const L = Math.max(48, 12 + 7 * Math.max(...ticks.map((t) => t.label.length)))
  const slot = (W - L - R) / days.length
  const barW = Math.max(2, (slot * 0.76) / series.length)
  const y = (/** @type {number} */ v) => T + (H - T - B) * (1 - v / max)
  const chart = svg('svg', {
    class: `chart ${name}`,
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'aria-label': series.map((s) => s.label).join(' and ') + ' per day'
  })
  for (const { tick, label } of ticks) {
    const ty = y(max * tick)
    chart.append(svg('line', { class: 'grid', x1: L, x2: W - R, y1: ty, y2: ty }))
    chart.append(svg('text', { class: 'tick', x: L - 6, y: ty + 4, 'text-anchor': 'end' }, [label]))
  }
  const every = Math.ceil(days.length / 12)
  days.forEach((d, i) => {
    const x0 = L + i * slot + slot * 0.12
    series.forEach((s, j) => {
      const v = s.value(d)
      const bar = svg('rect', {
        class: `bar ${s.key}`,
        x: x0 + j * barW,
        y: y(v),
        width: barW - 1,
        height: Math.max(0, H - B - y(v)),
        fill: s.color,
        'data-date': d.date,
        'data-value': v
      }, [svg('title', {}, [`${d.date}: ${(s.format ?? String)(v)} ${s.label.toLowerCase()}`])])
      chart.append(bar)
    })
    if (i % every === 0 || i === days.length - 1) {
      chart.append(svg('text', { class: 'tick', x: L + i * slot + slot / 2, y: H - B + 16, 'text-anchor': 'middle' },
        [d.date.slice(5)]))
    }
  })
  chart.append(svg('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }))
  const legend = el('div', { class: 'legend' }, series.map((s) =>
    el('span', {}, [svgSwatch(s.color), s.label])))
  return el('figure', { class: 'chart-box' }, [chart, legend])
}

/** @param {string} color */
function svgSwatch (color) {
  return svg('svg', { class: 'swatch', viewBox: '0 0 10 10', width: 10, height: 10, 'aria-hidden': 'true' },
    [svg('rect', { width: 10, height: 10, fill: color })])
}

/**
 * Horizontal bars for a ranking ("other" last).
 * @param {string} name @param {Array<[string, number]>} rows @param {string} color @param {string} unit
 */
function rankBars (name, rows, color, unit) {
  if (rows.length === 0) return el('p', { class: 'message' }, [`No ${unit} in this range.`])
  const W = 760; const rowH = 22; const labelW = 300; const H = rows.length * rowH + 4
  const max = Math.max(1, ...rows.map((r) => r[1]))
  const chart = svg('svg', {
    class: `chart ${name}`, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${unit} ranking`
  })
  rows.forEach(([label, n], i) => {
    const y = i * rowH + 2
    const w = ((W - labelW - 60) * n) / max
    chart.append(svg('text', { class: 'label', x: labelW - 8, y: y + 15, 'text-anchor': 'end' },
      [label.length > 48 ? label.slice(0, 47) + '…' : label]))
    chart.append(svg('rect', {
      class: 'bar rank', x: labelW, y: y + 3, width: Math.max(0, w), height: rowH - 6, fill: color
    }, [svg('title', {}, [`${label}: ${n} ${unit}`])]))
    chart.append(svg('text', { class: 'value', x: labelW + w + 6, y: y + 15 }, [String(n)]))
  })
  return el('figure', { class: 'chart-box' }, [chart])
}

/**
 * Sums per-day `{ key: n }` maps over the range; the top 10, then "other".
 * @param {Array<Record<string, number>>} maps
 */
function rangeTop (maps) {
  /** @type {Map<string, number>} */
  const sums = new Map()
  for (const m of maps) for (const [k, n] of Object.entries(m)) sums.set(k, (sums.get(k) ?? 0) + n)
  const other = sums.get('other') ?? 0
  sums.delete('other')
  const rows = [...sums].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  const rest = rows.slice(10).reduce((a, r) => a + r[1], other)
  const out = rows.slice(0, 10)
  if (rest > 0) out.push(['other', rest])
  return out
}

/**
 * A 100 % stacked bar of browser families and its legend.
 * @param {Array<{ name: string, count: number, percent: number }>} browsers
 */
function browserShare (browsers) {
  if (browsers.length === 0) return el('p', { class: 'message' }, ['No browsers in this range.'])
  const W = 760; const H = 28
  const chart = svg('svg', {
    class: 'chart browsers', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Browser share'
  })
  let x = 0
  const legend = el('ul', { class: 'legend browsers-legend' })
  browsers.forEach((b, i) => {
    const w = (W * b.percent) / 100
    const color = BROWSER_COLORS[i % BROWSER_COLORS.length] ?? '#999'
    chart.append(svg('rect', {
      class: 'bar share', x, y: 0, width: w, height: H, fill: color, 'data-name': b.name, 'data-percent': b.percent
    }, [svg('title', {}, [`${b.name}: ${b.percent}% (${b.count} users)`])]))
    x += w
    legend.append(el('li', {}, [svgSwatch(color), `${b.name} ${b.percent}% (${b.count})`]))
  })
  return el('figure', { class: 'chart-box' }, [chart, legend])
}

/** Seconds with one decimal, as the time-on-page CSV file prints them (time-on-page.ts). @param {number} ms */
function seconds (ms) { return (ms / 1000).toFixed(1) }

/**
 * Time on page: average active time per view per day, per path, and the range's table with its
 * CSV file (made by the server, GET api/report/time-on-page.csv, with the exports' CSV rules).
 * @param {any} time the report's timeOnPage @param {number} days
 */
function timeOnPage (time, days) {
  const parts = [
    el('p', { class: 'hint' }, ['Active time is time a page was visible and focused: measured when the page ' +
      `reports it as it is left, otherwise ${time.heartbeatMs / 1000} s for each heartbeat it sent.`]),
    dailyBars('active-daily', time.days, [{
      key: 'active',
      label: 'Average active time per view',
      color: COLORS.active,
      value: (d) => Math.round(d.avgActiveMs / 1000),
      format: duration
    }]),
    rankBars('time-on-page',
      time.pages.map((/** @type {any} */ r) => [r.path, Math.round(r.avgActiveMs / 1000)]), COLORS.active,
      'seconds active per view')
  ]
  if (time.pages.length === 0) return parts
  /** @param {string} tag @param {any} r @param {string} label */
  const row = (tag, r, label) => el('tr', {}, [
    el(tag, tag === 'th' ? { scope: 'row', class: 'url' } : { class: 'url' }, [label]),
    ...[String(r.views), String(r.measuredViews), seconds(r.activeMs), seconds(r.avgActiveMs)]
      .map((text) => el('td', { class: 'ms' }, [text]))
  ])
  const table = el('table', { class: 'log time-on-page-table' }, [
    el('thead', {}, [el('tr', {}, ['Page', 'Views', 'Measured leaves', 'Active (s)', 'Average per view (s)']
      .map((c) => el('th', { scope: 'col' }, [c])))]),
    el('tbody', {}, time.pages.map((/** @type {any} */ r) => row('td', r, r.path))),
    el('tfoot', {}, [row('th', time, '(all pages)')])
  ])
  const csv = el('a', {
    class: 'button export time-on-page-csv',
    href: new URL(`api/report/time-on-page.csv?days=${days}`, document.baseURI).href,
    download: '',
    title: 'This table as CSV'
  }, ['CSV'])
  return [...parts, table, el('div', { class: 'toolbar' }, [csv])]
}

/** @param {string} label @param {string | number} value */
function stat (label, value) {
  return el('div', { class: 'stat' }, [
    el('span', { class: 'stat-value' }, [String(value)]),
    el('span', { class: 'stat-label' }, [label])
  ])
}

/** @param {any} report */
function render (report, body) {
  clear(body)
  const s = report.summary
  body.append(
    el('p', { class: 'hint' }, [`${report.from} to ${report.to}, days in ${report.timeZone}.`]),
    el('div', { class: 'summary' }, [
      stat('Requests', s.requests), stat('Page views', s.pageviews), stat('Interactions', s.interactions),
      stat('Distinct users', s.users), stat('Distinct sessions', s.sessions),
      stat('Avg session', duration(s.avgSessionSeconds)),
      stat('Earliest entry', when(s.first)), stat('Latest entry', when(s.last))
    ]),
    el('h2', {}, ['Requests and interactions per day']),
    dailyBars('daily', report.days, [
      { key: 'requests', label: 'Requests', color: COLORS.requests, value: (d) => d.requests },
      { key: 'interactions', label: 'Interactions', color: COLORS.interactions, value: (d) => d.interactions }
    ]),
    el('h2', {}, ['Top pages (page views)']),
    rankBars('pages', rangeTop(report.days.map((/** @type {any} */ d) => d.pages)), COLORS.pages, 'page views'),
    el('h2', {}, ['Time on page (active time per view)']),
    ...timeOnPage(report.timeOnPage, report.days.length),
    el('h2', {}, ['Top routes (requests)']),
    rankBars('routes', rangeTop(report.days.map((/** @type {any} */ d) => d.routes)), COLORS.routes, 'requests'),
    el('h2', {}, ['Average session duration per day']),
    dailyBars('sessions', report.days, [
      {
        key: 'duration',
        label: 'Average session',
        color: COLORS.duration,
        value: (d) => d.avgSessionSeconds,
        format: duration
      }
    ]),
    el('h2', {}, ['Browser share (distinct users)']),
    browserShare(report.browsers)
  )
}

// --- the tab ------------------------------------------------------------------
const controls = el('div', { class: 'toolbar report-controls' })
const message = el('p', { class: 'message', role: 'status' })
const body = el('div', { class: 'report-body' })
const exportsBar = el('div', { class: 'toolbar report-exports' })
view.append(controls, message, body, exportsBar)

for (const n of RANGES) {
  const button = el('button', { type: 'button', 'data-days': String(n), 'aria-pressed': String(n === state.days) },
    [`${n} days`])
  button.addEventListener('click', () => {
    state.days = n
    for (const b of controls.querySelectorAll('button[data-days]')) b.setAttribute('aria-pressed', String(b === button))
    void load()
  })
  controls.append(button)
}
const reload = el('button', { type: 'button' }, ['Reload'])
reload.addEventListener('click', () => { void load() })
controls.append(reload)

async function load () {
  const seq = ++state.seq
  setText(message, 'Loading…')
  message.classList.remove('error')
  try {
    const report = await api(`report?days=${state.days}`)
    if (seq !== state.seq) return
    render(report, body)
    const activity = report.summary.requests + report.summary.pageviews + report.summary.interactions
    setText(message, activity === 0 ? 'No activity in this range.' : '')
    view.setAttribute('data-days', String(report.days.length))
  } catch (err) {
    if (seq !== state.seq) return
    setText(message, `Could not load the report: ${err instanceof Error ? err.message : String(err)}`)
    message.classList.add('error')
  }
}

/**
 * Export links (plain same-origin downloads).
 * @param {string} base API path without query, e.g. 'export' @param {boolean} anonymize @param {string} what
 */
function exportLinks (base, anonymize, what) {
  const href = (/** @type {string} */ q) => new URL(`api/${base}?${q}`, document.baseURI).href
  const links = [
    el('a', { class: 'button export', href: href('format=csv'), download: '', title: `${what} as CSV` }, ['CSV']),
    el('a', { class: 'button export', href: href('format=ndjson'), download: '', title: `${what} as NDJSON` },
      ['NDJSON'])
  ]
  if (anonymize) {
    links.push(el('a', {
      class: 'button export',
      href: href('format=csv&anonymize=true'),
      download: '',
      title: `${what}, anonymized, as CSV`
    }, ['Anonymized CSV']))
  }
  return links
}

let exportSeq = 0
document.addEventListener('userlog:toolbar', async (ev) => {
  const { toolbar, user } = /** @type {CustomEvent<{ toolbar: HTMLElement, user: string }>} */ (ev).detail
  const seq = ++exportSeq
  const { anonymize } = await getConfig()
  if (seq !== exportSeq) return // the toolbar was redrawn meanwhile
  toolbar.append(
    el('span', { class: 'export-label' }, ['Export:']),
    ...exportLinks(`logs/${userPath(user)}/export`, anonymize, `The log of ${user}`)
  )
})

document.addEventListener('userlog:tab', async (ev) => {
  if (/** @type {CustomEvent<{ name: string }>} */ (ev).detail.name !== 'report') return
  void load()
  if (exportsBar.childNodes.length === 0) {
    const { anonymize } = await getConfig()
    if (exportsBar.childNodes.length === 0) {
      exportsBar.append(
        el('span', { class: 'export-label' }, ['Export every user’s retained entries:']),
        ...exportLinks('export', anonymize, 'Every user')
      )
    }
  }
})
