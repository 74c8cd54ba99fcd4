// The admin page in real headless Chromium: search, rows, details, and hostile text rendered as text.
import t from 'tap'
import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { RedisServer } from '../helpers/redis.js'
import { buildApp, asUser } from '../helpers/app.js'
import { launch, watch, ARTIFACTS } from '../helpers/browser.js'

const XSS_USER = '<img src=x onerror=alert(1)>'
const XSS_PATH = '/<script>alert(1)</script>'

/** Sends a request with a raw, unencoded path, as a hostile client could. */
async function rawGet (port: number, path: string, user: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const req = request({ port, path, headers: asUser(user), insecureHTTPParser: true }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.end()
  })
}

const redis = await RedisServer.start()
const { app } = await buildApp({ redis: redis.url }, (app) => {
  app.get('/<script>alert(1)</script>', async () => 'ok')
})
await app.listen({ port: 0, host: '127.0.0.1' })
const port = (app.server.address() as AddressInfo).port
const origin = `http://127.0.0.1:${port}`
const browser = await launch()
t.teardown(async () => { await browser.close(); await app.close(); await redis.stop() })

t.test('an admin searches a user and sees the rows; hostile text stays text', async (t) => {
  for (let i = 0; i < 3; i++) await app.inject({ url: `/items/${i}?q=${i}`, headers: asUser('alice') })
  await app.inject({ method: 'POST', url: '/items', headers: asUser('alice'), payload: { a: 1 } })
  await app.inject({ url: '/missing', headers: asUser('alice') })
  t.equal(await rawGet(port, XSS_PATH, XSS_USER), 200)
  await app.userlog.flush()

  const context = await browser.newContext()
  await context.addCookies([{ name: 'testuser', value: 'admin', url: origin }])
  const page = await context.newPage()
  const seen = watch(page, [`127.0.0.1:${port}`])
  await page.goto(`${origin}/userlog/`)

  // Autocomplete offers users by prefix.
  await page.fill('#username', 'ali')
  await page.waitForFunction(() => document.querySelectorAll('#user-suggestions option').length > 0)
  t.same(await page.$$eval('#user-suggestions option', (os) => os.map((o) => (o as HTMLOptionElement).value)),
    ['alice'])

  await page.fill('#username', 'alice')
  await page.click('#search button[type=submit]')
  await page.waitForSelector('#log tbody tr.entry')
  const rows = await page.$$eval('#log tbody tr.entry',
    (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)))
  t.equal(rows.length, 5)
  t.same(await page.$$eval('#log thead th', (ths) => ths.map((th) => th.textContent)),
    ['Time', 'Kind', 'Method', 'URL', 'Status', 'ms', 'Link'])
  t.same(rows[0]?.slice(1, 5), ['Request', 'GET', '/missing', 'Client error (404)'], 'newest first')
  t.same(rows[1]?.slice(1, 5), ['Request', 'POST', '/items', 'Success (200)'])
  t.equal(await page.$$eval('#log tbody tr.entry td.url a', (as) => as.length), 4,
    'GET paths are links, the POST is not')
  t.equal(await page.$eval('#log tbody tr.entry:nth-child(1) .status', (s: HTMLElement) => s.className),
    'status client-error')

  // A click shows every field of the entry.
  await page.click('#log tbody tr.entry >> nth=0')
  const fields = await page.$$eval('#log tr.detail dt', (dts) => dts.map((dt) => dt.textContent))
  t.match(fields, ['id', 't', 'user', 'kind', 'method', 'path', 'route', 'status', 'ms', 'ip', 'ua', 'reqId'])

  // The hostile user and path.
  await page.fill('#username', XSS_USER)
  await page.click('#search button[type=submit]')
  await page.waitForFunction(() => document.querySelector('#log td.url')?.textContent?.includes('script'))
  t.equal(await page.$eval('#log tbody tr.entry td.url', (td) => td.textContent), XSS_PATH)
  await page.click('#log tbody tr.entry >> nth=0')
  const userField = await page.$$eval('#log tr.detail dd', (dds) => dds.map((dd) => dd.textContent))
  t.ok(userField.includes(XSS_USER), 'the user name is shown as literal text')
  t.equal(await page.$$eval('#log img, #log script', (n) => n.length), 0, 'no element was created from the data')
  await page.screenshot({ path: `${ARTIFACTS}admin-xss.png`, fullPage: true })

  // "No logs for X"
  await page.fill('#username', 'nobody')
  await page.click('#search button[type=submit]')
  await page.waitForFunction(() => document.querySelector('#message')?.textContent === 'No logs for nobody')
  t.equal(await page.$eval('#log', (table) => (table as HTMLElement).hidden), true)

  t.same(seen.dialogs, [], 'no dialog fired')
  t.same(seen.foreign, [], 'no request left the origin')
  t.same(seen.errors, [], 'no script error')
  await context.close()
})

t.test('a non-admin gets the 403 page', async (t) => {
  const context = await browser.newContext()
  await context.addCookies([{ name: 'testuser', value: 'bob', url: origin }])
  const page = await context.newPage()
  const res = await page.goto(`${origin}/userlog/`)
  t.equal(res?.status(), 403)
  t.match(await page.textContent('body'), /only administrators/)
  await context.close()
})
