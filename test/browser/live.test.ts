// The live view in real headless Chromium: the admin page, the plugin and the realtime server,
// each a real server on loopback.
import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import { RedisServer, freePort } from '../helpers/redis.js'
import { buildApp, rawVisit } from '../helpers/app.js'
import type { BrowserContext, Page } from 'playwright-core'
import { launch, watch, ARTIFACTS } from '../helpers/browser.js'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { userlogRealtime } from '../../src/realtime/index.js'
import { spawnSource } from '../helpers/spawn-source.js'

const redis = await RedisServer.start()
const rtPort = await freePort()
const { app } = await buildApp({ redis: redis.url, realtimeUrl: `ws://127.0.0.1:${rtPort}/live` }, (app) => {
  app.get('/*', async () => 'page')
})
await app.listen({ port: 0, host: '127.0.0.1' })
const port = (app.server.address() as AddressInfo).port
const origin = `http://127.0.0.1:${port}`

async function startRealtime (): Promise<FastifyInstance> {
  const rt = Fastify()
  await rt.register(userlogRealtime, { redis: redis.url, origins: [origin] })
  await rt.listen({ port: rtPort, host: '127.0.0.1' })
  return rt
}
let realtime = await startRealtime()
const browser = await launch()
t.teardown(async () => { await browser.close(); await realtime.close(); await app.close(); await redis.stop() })

const visit = async (user: string, path: string, ua?: string): Promise<void> => await rawVisit(port, user, path, ua)

/** A fresh browser context signed in as the admin, its page watched for dialogs, errors and foreign requests. */
async function adminPage (): Promise<{ context: BrowserContext, page: Page, seen: ReturnType<typeof watch> }> {
  const context = await browser.newContext()
  await context.addCookies([{ name: 'testuser', value: 'admin', url: origin }])
  const page = await context.newPage()
  return { context, page, seen: watch(page, [`127.0.0.1:${port}`, `127.0.0.1:${rtPort}`]) }
}

const XSS_PATH = '/<img/src=x/onerror=alert(1)>'
const XSS_UA = '<script>alert(2)</script>'

t.test('live rows, pause and resume, hostile text, and a reconnect after the server restarts', async (t) => {
  await visit('alice', '/before')
  await app.userlog.flush()
  const { context, page, seen } = await adminPage()
  await page.goto(`${origin}/userlog/#user=alice`)
  await page.waitForSelector('#log tbody tr.entry')
  await page.check('.live-switch')
  await page.waitForFunction(() => document.querySelector('#message')?.textContent === 'Live')

  const topPath = async (): Promise<string | null> =>
    await page.$eval('#log tbody tr.entry', (tr) => tr.querySelector('td.url')?.textContent ?? null)
  const rowCount = async (): Promise<number> => await page.$$eval('#log tbody tr.entry', (trs) => trs.length)
  t.equal(await rowCount(), 1, 'the backlog adds nothing already shown')

  await visit('alice', '/live-1')
  await page.waitForFunction(() => document.querySelector('#log tbody tr.entry td.url')?.textContent === '/live-1')
  t.equal(await rowCount(), 2)

  // Pause: entries are held, then shown on resume with a count.
  await page.click('button.pause')
  await visit('alice', '/held-1')
  await visit('alice', '/held-2')
  await page.waitForFunction(() => document.querySelector('#message')?.textContent === 'Paused — 2 new entries waiting')
  t.equal(await topPath(), '/live-1', 'nothing added while paused')
  await page.click('button.pause')
  await page.waitForFunction(() => document.querySelector('#log tbody tr.entry td.url')?.textContent === '/held-2')
  t.equal(await page.textContent('#message'), 'Live — 2 entries added on resume')
  t.equal(await rowCount(), 4)

  // Hostile path and user agent arriving live.
  await visit('alice', XSS_PATH, XSS_UA)
  await page.waitForFunction((p) => document.querySelector('#log tbody tr.entry td.url')?.textContent === p, XSS_PATH)
  await page.click('#log tbody tr.entry >> nth=0')
  const details = await page.$$eval('#log tr.detail dd', (dds) => dds.map((dd) => dd.textContent))
  t.ok(details.includes(XSS_UA), 'the user agent is shown as text')
  t.equal(await page.$$eval('#log img, #log script', (n) => n.length), 0)

  // The realtime server goes away: a banner, then a reconnect with a fresh token.
  await realtime.close()
  await page.waitForSelector('#banner:not([hidden])')
  t.equal(await page.textContent("#banner"), "Connection lost — reconnecting…")
  t.match(await page.textContent("#message"), /^Reconnecting: /)
  await page.screenshot({ path: `${ARTIFACTS}live-reconnecting.png` })
  realtime = await startRealtime()
  await page.waitForSelector('#banner', { state: 'hidden', timeout: 30_000 })
  await visit('alice', '/after-restart')
  await page.waitForFunction(() =>
    document.querySelector('#log tbody tr.entry td.url')?.textContent === '/after-restart')
  const paths = await page.$$eval('#log tbody tr.entry td.url', (tds) => tds.map((td) => td.textContent))
  t.equal(paths.filter((p) => p === '/live-1').length, 1, 'entries re-sent after the reconnect are not shown twice')
  await page.screenshot({ path: `${ARTIFACTS}live.png` })

  t.same(seen.dialogs, [])
  t.same(seen.foreign, [])
  t.same(seen.errors, [])
  await context.close()
})

t.test('the all-users tab streams everyone with a user column', async (t) => {
  const { context, page, seen } = await adminPage()
  await page.goto(`${origin}/userlog/`)
  await page.click('button[data-tab=all]')
  await page.waitForFunction(() => document.querySelector('#all-message')?.textContent === 'Live: all users')
  await visit('<b>bob</b>', '/from-bob')
  await visit('carol', '/from-carol')
  await page.waitForFunction(() => document.querySelectorAll('#all-log tbody tr.entry').length === 2)
  t.same(await page.$$eval('#all-log thead th', (ths) => ths.map((th) => th.textContent)),
    ['Time', 'User', 'Kind', 'Method', 'URL', 'Status', 'ms'])
  const rows = await page.$$eval('#all-log tbody tr.entry', (trs) => trs.map((tr) => [
    tr.querySelector('td.user')?.textContent, tr.querySelector('td.url')?.textContent
  ]))
  t.same(rows.sort(), [['<b>bob</b>', '/from-bob'], ['carol', '/from-carol']].sort())
  t.equal(await page.$$eval('#all-log b', (n) => n.length), 0)
  // Leaving the tab stops the stream (the viewer is gone from the server).
  await page.click('button[data-tab=logs]')
  await page.waitForFunction(async () => true)
  const metrics = async (): Promise<string> => await (await fetch(`http://127.0.0.1:${rtPort}/metrics`)).text()
  for (let i = 0; i < 100 && !/userlog_realtime_viewers 0\b/.test(await metrics()); i++) await new Promise((resolve) => setTimeout(resolve, 50))
  t.match(await metrics(), /userlog_realtime_viewers 0\b/)
  t.same(seen.dialogs, [])
  await context.close()
})

/** The realtime server in a process of its own on rtPort, so that it can be killed outright. */
async function spawnRealtime (): Promise<ChildProcess> {
  const fixture = fileURLToPath(new URL('../fixtures/realtime-server.ts', import.meta.url))
  const child = spawnSource(fixture, [redis.url, '30000', String(rtPort), origin])
  await once(child, 'message')
  return child
}

t.test('the realtime process is killed (SIGKILL) under an open live view: ' +
  'the page reconnects to its successor', async (t) => {
  await realtime.close()
  let child = await spawnRealtime()
  t.teardown(() => { child.kill('SIGKILL') })
  const { context, page, seen } = await adminPage()
  await page.goto(`${origin}/userlog/#user=dora`)
  await page.check('.live-switch')
  await page.waitForFunction(() => document.querySelector('#message')?.textContent === 'Live')
  await visit('dora', '/before-kill')
  await page.waitForFunction(() => document.querySelector('#log tbody tr.entry td.url')?.textContent === '/before-kill')

  // No close frame, no graceful shutdown: the socket just drops.
  child.kill('SIGKILL')
  await once(child, 'exit')
  await page.waitForSelector('#banner:not([hidden])')
  await visit('dora', '/while-down')
  child = await spawnRealtime()
  await page.waitForSelector('#banner', { state: 'hidden', timeout: 30_000 })
  await visit('dora', '/after-kill')
  await page.waitForFunction(() => document.querySelector('#log tbody tr.entry td.url')?.textContent === '/after-kill')
  const paths = await page.$$eval('#log tbody tr.entry td.url', (tds) => tds.map((td) => td.textContent))
  t.ok(paths.includes('/while-down'), 'the entry written while the server was down arrives with the new backlog')
  t.equal(paths.filter((p) => p === '/before-kill').length, 1, 'nothing shown twice')
  t.same(seen.dialogs, [])
  t.same(seen.errors, [])
  await context.close()
  child.kill('SIGTERM')
  await once(child, 'exit')
  realtime = await startRealtime()
})
