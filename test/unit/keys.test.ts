import t from 'tap'
import { encodeUser, decodeUser, Keys } from '../../src/shared/keys.js'

t.test('encodeUser leaves safe names alone and percent-encodes every other byte', async (t) => {
  t.equal(encodeUser('alice_01.x-y'), 'alice_01.x-y')
  t.equal(encodeUser('a:b*c{d}?[e] f'), 'a%3Ab%2Ac%7Bd%7D%3F%5Be%5D%20f')
  t.equal(encodeUser("!'()~"), '%21%27%28%29%7E')
  t.equal(encodeUser('é'), '%C3%A9')
  t.equal(encodeUser('\uD800x'), '%EF%BF%BDx', 'a lone surrogate does not throw')
  for (const name of ['a:b*c{d}?[e] f', 'élodie', '*', '%41', '<img src=x onerror=alert(1)>']) {
    t.equal(decodeUser(encodeUser(name)), name)
    t.match(encodeUser(name), /^[A-Za-z0-9_.%-]*$/)
  }
})

t.test('every key of a user shares one hash tag and no raw user text', async (t) => {
  const k = new Keys('userlog')
  const user = 'a:b*c{d}?[e] f'
  const tag = `{${encodeUser(user)}}`
  for (const key of [k.log(user), k.sessions(user), k.userChannel(user)]) {
    t.ok(key.includes(tag), key)
    t.notOk(key.includes(user), key)
    t.equal(key.indexOf('{'), key.lastIndexOf('{'), 'exactly one hash tag')
  }
  t.equal(k.allChannel, 'userlog:live:*all')
  t.not(k.userChannel('*all'), k.allChannel, 'a user named *all cannot collide with the all-users channel')
})
