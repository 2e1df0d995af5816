import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

/**
 * Portal passwords: scrypt (node:crypto) with a per-user random salt. The stored string carries its
 * own parameters, PHC-style: `$scrypt$ln=15,r=8,p=3$<salt>$<hash>` (unpadded base64), so the cost
 * can be raised later without invalidating existing hashes.
 *
 * N=2^15, r=8, p=3 is one of OWASP's equivalent minimum scrypt settings (32 MiB, ~0.2 s on one core);
 * scrypt runs on the libuv thread pool, so a sign-in does not block the event loop.
 */
export interface ScryptParams { ln: number, r: number, p: number }

export const DEFAULT_SCRYPT: Readonly<ScryptParams> = { ln: 15, r: 8, p: 3 }
export const PASSWORD_MIN_LENGTH = 12
export const PASSWORD_MAX_LENGTH = 1024

const SALT_BYTES = 16
const HASH_BYTES = 32
const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/

function derive (password: string, salt: Buffer, params: ScryptParams, length: number): Promise<Buffer> {
  const N = 2 ** params.ln
  const options: ScryptOptions = { N, r: params.r, p: params.p, maxmem: 256 * N * params.r }
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, options, (err, key) => { err === null ? resolve(key) : reject(err) })
  })
}

const b64 = (buffer: Buffer): string => buffer.toString('base64').replace(/=+$/, '')

/**
 * The parameters new hashes get. Only tests change them (`useScryptCostForTests`); the server and
 * the CLI always hash with DEFAULT_SCRYPT.
 */
let hashParams: Readonly<ScryptParams> = DEFAULT_SCRYPT

export async function hashPassword (password: string, params: ScryptParams = hashParams): Promise<string> {
  const salt = randomBytes(SALT_BYTES)
  const hash = await derive(password, salt, params, HASH_BYTES)
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(hash)}`
}

/** Constant-time check of a password against a stored hash; false for a malformed hash. */
export async function verifyPassword (password: string, stored: string): Promise<boolean> {
  const match = PHC.exec(stored)
  if (match === null) return false
  const params = { ln: Number(match[1]), r: Number(match[2]), p: Number(match[3]) }
  if (params.ln < 10 || params.ln > 20 || params.r < 1 || params.p < 1) return false
  const expected = Buffer.from(match[5]!, 'base64')
  const actual = await derive(password, Buffer.from(match[4]!, 'base64'), params, expected.length)
  return timingSafeEqual(actual, expected)
}

/**
 * The hash of a random password nobody kept, with the default parameters. Signing in with an
 * unknown email verifies against it, so that answer costs what a wrong password for a real user
 * costs. A constant (not computed at start) so the first unknown email is not slower than the rest;
 * a test keeps its parameters equal to DEFAULT_SCRYPT. `useScryptCostForTests` replaces it (a live
 * binding) so that under a test cost an unknown email still costs what a real user costs.
 */
export const PRODUCTION_DUMMY_PASSWORD_HASH = '$scrypt$ln=15,r=8,p=3$59oMWFmPyy/axuYtbB47VA$T+J+6YVjEeCeQZ3BdRtt6GZsPcrXnNcmSXh6cS+dC6I'
export let DUMMY_PASSWORD_HASH = PRODUCTION_DUMMY_PASSWORD_HASH

/**
 * Test-only injection point: new hashes (and the dummy hash) use `params` instead of DEFAULT_SCRYPT
 * until called again with DEFAULT_SCRYPT. A production scrypt costs 0.2-0.4 s and the portal tests
 * sign in dozens of times; verification reads the parameters from each hash, so it needs no switch.
 * The tests that check the production parameters run without it (see docs/development.md).
 */
export async function useScryptCostForTests (params: Readonly<ScryptParams>): Promise<void> {
  hashParams = params
  DUMMY_PASSWORD_HASH = params === DEFAULT_SCRYPT
    ? PRODUCTION_DUMMY_PASSWORD_HASH
    : await hashPassword(generatePassword(), params)
}

/** A one-time password for `users create`: 20 characters, ~119 bits, no look-alike characters. */
export function generatePassword (length = 20): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789'
  let out = ''
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // rejection sampling keeps every character equally likely
      if (byte < 256 - (256 % alphabet.length) && out.length < length) out += alphabet[byte % alphabet.length]
    }
  }
  return out
}

/** Why a chosen password is not acceptable, or null when it is. */
export function passwordProblem (password: string): string | null {
  if (password.length < PASSWORD_MIN_LENGTH) return `password must be at least ${PASSWORD_MIN_LENGTH} characters`
  if (password.length > PASSWORD_MAX_LENGTH) return `password must be at most ${PASSWORD_MAX_LENGTH} characters`
  return null
}
