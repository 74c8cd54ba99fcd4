// The user card on the admin page, in real headless Chromium: the parsed browser, the host's
// describeUser fields, and hostile field text rendered as text.
import t from 'tap'
import type { AddressInfo } from 'node:net'
import { RedisServer } from '../helpers/redis.js'
import { buildApp, asUser } from '../helpers/app.js'
import { launch, watch } from '../helpers/browser.js'

const HOSTILE = '<img src=x onerror=alert(1)>'
const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
  'Chrome/124.0.0.0 Safari/537.36'

const redis = await RedisServer.start()
const { app } = await buildApp({
  redis: redis.url,
  describeUser: () => ({ plan: 'pro', seats: 3, note: HOSTILE, [HOSTILE.slice(0, 20)]: 'key' })
})
await app.listen({ port: 0, host: '127.0.0.1' })
const port = (app.server.address() as AddressInfo).port
const origin = `http://127.0.0.1:${port}`
const browser = await launch()
t.teardown(async () => { await browser.close(); await app.close(); await redis.stop() })

t.test('the card shows the parsed browser and the describeUser fields, hostile text as text', async (t) => {
  const posted = await app.inject({
    method: 'POST',
    url: '/userlog/events',
    headers: {
      host: `127.0.0.1:${port}`, origin, 'content-type': 'application/json', 'user-agent': CHROME_WINDOWS,
      ...asUser('alice')
    },
    payload: JSON.stringify({ type: 'pageview', path: '/home' })
  })
  t.equal(posted.statusCode, 204)
  await app.userlog.flush()

  const context = await browser.newContext()
  t.teardown(() => context.close())
  await context.addCookies([{ name: 'testuser', value: 'admin', url: origin }])
  const page = await context.newPage()
  const seen = watch(page, [`127.0.0.1:${port}`])
  await page.goto(`${origin}/userlog/#user=alice`)
  await page.waitForSelector('#user-card:not([hidden]) .card-browser')

  const text = async (selector: string): Promise<string | null> =>
    await page.$eval(selector, (node) => node.textContent)
  t.equal(await text('#user-card h2'), 'alice')
  t.equal(await text('#user-card .card-browser'), 'Chrome 124.0.0.0')
  t.equal(await text('#user-card .card-os'), 'Windows 10')
  t.equal(await text('#user-card .card-device'), 'Desktop')
  t.equal(await text('#user-card .card-sessions'), '1')
  t.match(await text('#user-card .card-last-seen'), /\d/, 'a time')
  const fields = await page.$$eval('#user-card dl.card-fields > *', (nodes) => nodes.map((n) => n.textContent))
  t.same(fields, ['plan', 'pro', 'seats', '3', 'note', HOSTILE, HOSTILE.slice(0, 20), 'key'])
  t.equal(await page.$$eval('#user-card img, #user-card b', (nodes) => nodes.length), 0, 'no element from a field')
  t.same(seen.dialogs, [], 'no alert ran')
  t.same(seen.errors, [])
  t.ok(await page.$eval('#user-card', (card) => card.nextElementSibling?.id === 'sessions'), 'above the sessions')

  // Another user without anything retained: the card goes away.
  await page.fill('#username', 'nobody')
  await page.click('#search button[type=submit]')
  await page.waitForSelector('#user-card', { state: 'hidden' })
  t.equal(await page.$$eval('#user-card > *', (nodes) => nodes.length), 0, 'nothing of alice is left')
})
