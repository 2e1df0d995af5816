import t from 'tap'
import { DEFAULT_SCRYPT, DUMMY_PASSWORD_HASH, generatePassword, hashPassword, passwordProblem, verifyPassword } from '../domain/passwords.js'

t.test('scrypt hashes carry their parameters and a per-user salt', async (t) => {
  const a = await hashPassword('correct horse battery staple')
  const b = await hashPassword('correct horse battery staple')
  t.match(a, /^\$scrypt\$ln=15,r=8,p=3\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
  t.not(a, b, 'a fresh salt every time')
  t.equal(await verifyPassword('correct horse battery staple', a), true)
  t.equal(await verifyPassword('correct horse battery staple', b), true)
  t.equal(await verifyPassword('correct horse battery stapl', a), false)
  t.equal(await verifyPassword('', a), false)

  // a cheaper (older) hash still verifies: the cost is read from the stored string
  const light = await hashPassword('an older password', { ln: 10, r: 8, p: 1 })
  t.match(light, /^\$scrypt\$ln=10,r=8,p=1\$/)
  t.equal(await verifyPassword('an older password', light), true)

  // the same text typed as composed or decomposed Unicode is the same password
  const composed = await hashPassword('caf\u00e9 au lait 1234')
  t.equal(await verifyPassword('cafe\u0301 au lait 1234', composed), true)

  for (const bad of ['', 'plain', '$scrypt$ln=15,r=8,p=3$salt', '$scrypt$ln=40,r=8,p=1$c2FsdA$aGFzaA', '$argon2id$v=19$x$y']) {
    t.equal(await verifyPassword('anything', bad), false, `malformed: ${bad}`)
  }
})

t.test('the dummy hash costs what a real one costs', async (t) => {
  t.match(DUMMY_PASSWORD_HASH, `$scrypt$ln=${DEFAULT_SCRYPT.ln},r=${DEFAULT_SCRYPT.r},p=${DEFAULT_SCRYPT.p}$`)
  t.equal(await verifyPassword('', DUMMY_PASSWORD_HASH), false)
})

t.test('generated one-time passwords and the password rule', async (t) => {
  const seen = new Set<string>()
  for (let i = 0; i < 200; i++) {
    const p = generatePassword()
    t.match(p, /^[A-HJ-NP-Za-km-z2-9]{20}$/)
    seen.add(p)
  }
  t.equal(seen.size, 200)
  t.equal(generatePassword(32).length, 32)
  t.equal(passwordProblem(generatePassword()), null)
  t.equal(passwordProblem('short'), 'password must be at least 12 characters')
  t.equal(passwordProblem('x'.repeat(1025)), 'password must be at most 1024 characters')
})
