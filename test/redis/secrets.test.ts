// Secrets in a request never reach Redis, the exports or the plugin's own log lines: query values
// named in redactQuery (in server paths and in client paths and referrers), the Authorization
// header and cookies.
import t from 'tap'
import { RedisServer } from '../helpers/redis.js'
import { buildApp, asUser, asAdmin } from '../helpers/app.js'

const SECRETS = [
  'hunter2', 'tok123secret', 'accessXYZ987', 'apikeyQQQ555', 'bearerS3cr3t', 'cookieSess777', 'refPass444'
]

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })

/** Every value stored in Redis, as text. */
async function everything (): Promise<string> {
  const out: string[] = []
  for (const key of await db.keys('*')) {
    out.push(key)
    const type = await db.type(key)
    if (type === 'string') out.push(String(await db.get(key)))
    else if (type === 'list') out.push(...await db.lrange(key, 0, -1))
    else if (type === 'hash') out.push(JSON.stringify(await db.hgetall(key)))
    else if (type === 'zset') out.push(...await db.zrange(key, '0', '-1'))
    else if (type === 'set') out.push(...await db.smembers(key))
  }
  return out.join('\n')
}

t.test('no secret in Redis, in exports or in the plugin logs', async (t) => {
  const { app, logs } = await buildApp({ redis: redis.url, anonymizeSecret: 'a secret for the test, long enough' })
  t.teardown(() => app.close())
  const res = await app.inject({
    url: `/items/1?password=${SECRETS[0]}&token=${SECRETS[1]}&access_token=${SECRETS[2]}&api_key=${SECRETS[3]}&page=2`,
    headers: { ...asUser('sam'), authorization: `Bearer ${SECRETS[4]}`, cookie: `session=${SECRETS[5]}` }
  })
  t.equal(res.statusCode, 200)
  const event = await app.inject({
    method: 'POST',
    url: '/userlog/events',
    headers: { ...asUser('sam'), 'content-type': 'application/json', authorization: `Bearer ${SECRETS[4]}` },
    payload: [{
      type: 'pageview', path: `/reset?token=${SECRETS[1]}&step=1`, referrer: `/login?password=${SECRETS[6]}`
    }]
  })
  t.equal(event.statusCode, 204)
  await app.userlog.flush()

  const stored = await everything()
  t.match(stored, /\/items\/1\?password=REDACTED&token=REDACTED&access_token=REDACTED&api_key=REDACTED&page=2/, 'the request is stored, redacted')
  t.match(stored, /\/reset\?token=REDACTED&step=1/, 'the client path is stored, redacted')
  const exports: string[] = []
  for (const url of ['/userlog/api/logs/sam/export?format=csv', '/userlog/api/logs/sam/export?format=ndjson',
    '/userlog/api/logs/sam/export?format=csv&anonymize=true', '/userlog/api/export?format=ndjson']) {
    const r = await app.inject({ url, headers: asAdmin })
    t.equal(r.statusCode, 200, url)
    exports.push(r.body)
  }
  t.match(exports[1], /REDACTED/, 'the export carries the redacted entries')
  // The plugin's own lines (Fastify's request logging is the host's, and logs req.url as it came).
  const own = logs.filter((l) => String(l.msg).startsWith('fastify-userlog') || 'userlog' in l)
  t.ok(own.length > 0, 'the plugin logged something (the audit of the exports)')
  const logText = JSON.stringify(own)
  for (const secret of SECRETS) {
    t.notOk(stored.includes(secret), `${secret} is not in Redis`)
    t.notOk(exports.some((e) => e.includes(secret)), `${secret} is not in an export`)
    t.notOk(logText.includes(secret), `${secret} is not in the plugin's log lines`)
  }
})
