// The Report, Active and Audit tabs and the export links in real headless Chromium.
import t from 'tap'
import type { AddressInfo } from 'node:net'
import { readFileSync } from 'node:fs'
import { RedisServer } from '../helpers/redis.js'
import { buildApp, asUser } from '../helpers/app.js'
import { launch, watch, ARTIFACTS } from '../helpers/browser.js'

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
  'Chrome/135.0.0.0 Safari/537.36'
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
const HOSTILE = '<img src=x onerror=alert(1)>'

const redis = await RedisServer.start()
const { app } = await buildApp({ redis: redis.url, anonymizeSecret: 'browser-test-secret-0123' })
await app.listen({ port: 0, host: '127.0.0.1' })
const port = (app.server.address() as AddressInfo).port
const origin = `http://127.0.0.1:${port}`
const browser = await launch()
t.teardown(async () => { await browser.close(); await app.close(); await redis.stop() })

// Today's activity: 5 requests and 3 interactions, two users on two browsers, a page with a hostile name.
for (let i = 0; i < 3; i++) {
  await app.inject({ url: `/items/${i}`, headers: { ...asUser('carol'), 'user-agent': CHROME } })
}
for (let i = 0; i < 2; i++) await app.inject({ url: '/hello', headers: { ...asUser('dan'), 'user-agent': FIREFOX } })
app.userlog.record('carol', { kind: 'pageview', src: 'client', path: '/' + HOSTILE, sid: 'c1', ua: CHROME })
for (const event of ['click', 'click', 'submit']) {
  app.userlog.record('carol', { kind: 'interaction', src: 'client', event, sid: 'c1', ua: CHROME })
}
app.userlog.record('carol', { kind: 'session_end', src: 'client', sid: 'c1', duration: 150, ua: CHROME })
// Time on page: carol's view of the hostile path measured at 45.5 s (its three heartbeats covered);
// dan's heartbeats on a page whose view is not in the range count 15 s each.
for (let i = 0; i < 3; i++) app.userlog.record('carol', { kind: 'heartbeat', src: 'client', path: '/' + HOSTILE })
app.userlog.record('carol', {
  kind: 'session_end', src: 'client', sid: 'c1', path: '/' + HOSTILE, duration: 140, activeMs: 45_500, pageMs: 50_000
})
for (let i = 0; i < 2; i++) app.userlog.record('dan', { kind: 'heartbeat', src: 'client', path: '/docs' })
await app.userlog.flush()

async function adminPage () {
  const context = await browser.newContext()
  await context.addCookies([{ name: 'testuser', value: 'admin', url: origin }])
  const page = await context.newPage()
  const seen = watch(page, [`127.0.0.1:${port}`])
  await page.goto(`${origin}/userlog/`)
  return { context, page, seen }
}

t.test('the Report tab draws its charts as inline SVG, one bar per day and series', async (t) => {
  const { context, page, seen } = await adminPage()
  await page.click('.tab[data-tab=report]')
  await page.waitForSelector('#view-report svg.chart.daily rect.bar', { state: 'attached' })
  t.equal(await page.$$eval('#view-report svg.chart.daily rect.bar.requests', (r) => r.length), 7, '7 request bars')
  t.equal(await page.$$eval('#view-report svg.chart.daily rect.bar.interactions', (r) => r.length), 7,
    '7 interaction bars')
  t.equal(await page.$$eval('#view-report svg.chart.sessions rect.bar', (r) => r.length), 7, '7 session-duration bars')
  const last = async (cls: string): Promise<string | null> =>
    await page.$$eval(`#view-report svg.chart.daily rect.bar.${cls}`,
      (r) => r[r.length - 1]?.getAttribute('data-value') ?? null)
  t.equal(await last('requests'), '5', "today's requests")
  t.equal(await last('interactions'), '3', "today's interactions")
  const heights = await page.$$eval('#view-report svg.chart.daily rect.bar.requests',
    (r) => r.map((b) => Number(b.getAttribute('height'))))
  t.ok((heights[6] as number) > 0 && heights.slice(0, 6).every((h) => h === 0), 'only today has a visible bar')
  t.equal(await page.$$eval('#view-report svg.chart.sessions rect.bar',
    (r) => r[r.length - 1]?.getAttribute('data-value')), '150')

  // Summary strip.
  const stats = await page.$$eval('#view-report .stat', (els) => els.map((e) => [
    e.querySelector('.stat-label')?.textContent, e.querySelector('.stat-value')?.textContent
  ]))
  t.match(Object.fromEntries(stats), {
    Requests: '5',
    'Page views': '1',
    Interactions: '3',
    'Distinct users': '2',
    'Distinct sessions': '1',
    'Avg session': '2 min 30 s'
  })

  // Top pages and routes; the hostile path is text.
  t.same(await page.$$eval('#view-report svg.chart.pages text.label', (els) => els.map((e) => e.textContent)),
    ['/' + HOSTILE])
  t.same(await page.$$eval('#view-report svg.chart.routes text.label', (els) => els.map((e) => e.textContent)),
    ['/items/:id', '/hello'])
  t.equal(await page.$$eval('#view-report img, #view-report script', (n) => n.length), 0, 'no element made from data')

  // Browser share: two families, 100 % in all.
  const shares = await page.$$eval('#view-report svg.chart.browsers rect.share',
    (r) => r.map((b) => [b.getAttribute('data-name'), Number(b.getAttribute('data-percent'))]))
  t.same(shares.map((s) => s[0]).sort(), ['Chrome', 'Firefox'])
  t.ok(Math.abs(shares.reduce((a, s) => a + (s[1] as number), 0) - 100) <= 0.01)
  // Every axis label of the daily charts is inside its chart (durations such as "1 min 40 s" are long).
  const ticks = await page.$$eval('#view-report svg.chart text.tick',
    (els) => els.map((e) => [e.textContent, (e as SVGTextElement).getBBox().x]))
  t.ok(ticks.some(([label]) => String(label).includes('min')), 'a duration axis is shown')
  t.same(ticks.filter(([, x]) => (x as number) < 0), [], 'no axis label starts left of its chart')
  await page.screenshot({ path: `${ARTIFACTS}report-tab.png`, fullPage: true })

  // The range selector.
  for (const days of [14, 31]) {
    await page.click(`#view-report button[data-days="${days}"]`)
    await page.waitForFunction(
      (n) => document.querySelectorAll('#view-report svg.chart.daily rect.bar.requests').length === n, days)
    t.equal(await page.$$eval('#view-report svg.chart.daily rect.bar', (r) => r.length), days * 2,
      `${days} days: ${days * 2} bars`)
  }
  await page.screenshot({ path: `${ARTIFACTS}report-tab-31.png`, fullPage: true })
  // All-users export links.
  t.same(await page.$$eval('#view-report .report-exports a.export', (as) => as.map((a) => a.textContent)),
    ['CSV', 'NDJSON', 'Anonymized CSV'])

  t.same(seen.errors, [], 'no script error')
  t.same(seen.foreign, [], 'no request left the origin')
  t.same(seen.dialogs, [])
  await context.close()
})

t.test('Active now lists a user who just made a request', async (t) => {
  await app.inject({ url: '/hello', headers: asUser('erik') })
  await app.userlog.flush()
  const { context, page, seen } = await adminPage()
  await page.click('.tab[data-tab=active]')
  await page.waitForFunction(() =>
    [...document.querySelectorAll('#active tbody td:first-child')].some((td) => td.textContent === 'erik'))
  const row = await page.$$eval('#active tbody tr', (trs) => trs
    .map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent))
    .find((r) => r[0] === 'erik'))
  t.equal(row?.[3], '/hello')
  t.same(seen.errors, [])
  await context.close()
})

t.test('export links on a user\'s log download; the Audit tab lists the view and the export', async (t) => {
  const { context, page, seen } = await adminPage()
  await page.fill('#username', 'carol')
  await page.click('#search button[type=submit]')
  await page.waitForSelector('#toolbar a.export')
  const links = await page.$$eval('#toolbar a.export',
    (as) => as.map((a) => [a.textContent, a.getAttribute('href'), a.hasAttribute('download')]))
  t.same(links.map((l) => l[0]), ['CSV', 'NDJSON', 'Anonymized CSV'])
  t.ok(links.every((l) => l[2] === true), 'download links')
  t.match(links[0]?.[1], /\/userlog\/api\/logs\/carol\/export\?format=csv$/)
  const download = await page.evaluate(async (href) => {
    const res = await fetch(href as string)
    return { status: res.status, disposition: res.headers.get('content-disposition'), text: await res.text() }
  }, links[2]?.[1])
  t.equal(download.status, 200)
  t.match(download.disposition, /^attachment; filename="userlog-u_[0-9a-f]{32}-.*-anonymized\.csv"$/)
  t.notOk(download.text.includes('carol'), 'the anonymized download does not name the user')

  await page.click('.tab[data-tab=audit]')
  await page.waitForSelector('#audit tbody tr')
  const rows = await page.$$eval('#audit tbody tr',
    (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(1).map((td) => td.textContent)))
  t.same(rows.slice(0, 2), [['admin', 'Exported', 'carol', ''], ['admin', 'Viewed the log of', 'carol', '']],
    'newest first')
  await page.screenshot({ path: `${ARTIFACTS}audit-tab.png`, fullPage: true })
  t.same(seen.errors, [])
  await context.close()
})

t.test('time on page: a chart, a table and its CSV file in one click, with the same numbers', async (t) => {
  const { context, page, seen } = await adminPage()
  await page.click('.tab[data-tab=report]')
  await page.waitForSelector('#view-report table.time-on-page-table tbody tr')
  const cells = async (section: string): Promise<string[][]> =>
    await page.$$eval(`#view-report table.time-on-page-table ${section} tr`,
      (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent ?? '')))
  t.same(await cells('thead'), [['Page', 'Views', 'Measured leaves', 'Active (s)', 'Average per view (s)']])
  const body = await cells('tbody')
  t.same(body, [['/' + HOSTILE, '1', '1', '45.5', '45.5'], ['/docs', '0', '0', '30.0', '0.0']])
  const foot = await cells('tfoot')
  t.same(foot, [['(all pages)', '1', '1', '75.5', '75.5']])
  t.same(await page.$$eval('#view-report svg.chart.time-on-page text.label', (els) => els.map((e) => e.textContent)),
    ['/' + HOSTILE, '/docs'], 'the chart ranks the same paths, as text')
  t.equal(await page.$$eval('#view-report svg.chart.active-daily rect.bar',
    (r) => r[r.length - 1]?.getAttribute('data-value')), '76', "today's average active seconds per view")
  t.equal(await page.$$eval('#view-report img, #view-report script', (n) => n.length), 0, 'no element made from data')

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#view-report a.time-on-page-csv')])
  t.match(download.suggestedFilename(), /^userlog-time-on-page-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv$/)
  const path = await download.path()
  const csv = readFileSync(path, 'utf8')
  const lines = csv.split('\r\n')
  t.equal(lines.pop(), '', 'CRLF after every line')
  t.equal(lines[0], 'path,views,measuredViews,activeSeconds,avgActiveSeconds')
  // A path with a quote or comma would be quoted; these are not.
  t.same(lines.slice(1).map((l) => l.split(',')), [...body, ...foot], 'the file holds the table')

  await page.click('#view-report button[data-days="14"]')
  await page.waitForFunction(() => document.querySelector('#view-report a.time-on-page-csv')
    ?.getAttribute('href')?.endsWith('days=14'))
  t.same(seen.errors, [])
  t.same(seen.foreign, [])
  await context.close()
})
