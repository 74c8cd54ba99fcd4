// whenReady: many callers waiting for one client's reconnection share one pair of listeners
// (an outage makes every pending command wait), each with its own deadline.
import t from 'tap'
import { EventEmitter } from 'node:events'
import { whenReady } from '../../src/shared/redis.js'

class FakeClient extends EventEmitter { status = 'reconnecting' }

t.test('fifty waiters add one listener pair, all resolve on ready, none are left', async (t) => {
  const client = new FakeClient()
  const warnings: Error[] = []
  const onWarning = (w: Error): void => { warnings.push(w) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  const waits = Array.from({ length: 50 }, async () => await whenReady(client, 5000))
  t.equal(client.listenerCount('ready'), 1)
  t.equal(client.listenerCount('end'), 1)
  client.status = 'ready'
  client.emit('ready')
  t.same(await Promise.all(waits), Array(50).fill(true))
  t.equal(client.listenerCount('ready') + client.listenerCount('end'), 0, 'listeners removed')
  await new Promise((resolve) => setImmediate(resolve))
  t.same(warnings.filter((w) => w.name === 'MaxListenersExceededWarning'), [])
})

t.test('each waiter keeps its own deadline; an end resolves the rest false; a later wait starts afresh', async (t) => {
  const client = new FakeClient()
  const short = whenReady(client, 20)
  const long = whenReady(client, 5000)
  t.equal(await short, false, 'timed out on its own')
  client.emit('end')
  t.equal(await long, false)
  t.equal(client.listenerCount('ready') + client.listenerCount('end'), 0)
  const again = whenReady(client, 5000)
  t.equal(client.listenerCount('ready'), 1)
  client.emit('ready')
  t.equal(await again, true)
  client.status = 'ready'
  t.equal(await whenReady(client, 1), true, 'a ready client answers at once')
})
