// The host app's notion of a user in every benchmark: the `x-user` header, set on req.user by a
// callback-style hook (the cheapest kind), as an authentication plugin would.
export function userFromHeader (app) {
  app.decorateRequest('user', null)
  app.addHook('onRequest', (req, _reply, done) => {
    const name = req.headers['x-user']
    req.user = typeof name === 'string' ? { username: name } : null
    done()
  })
}
