/** Anything shaped like an API key, wherever it turns up in text (a URL, a message). */
const KEY_LIKE = /tc_live_[^\s&/?#"'\\]*/gi
const KEY_PREFIX = /tc_live_/i
/** A run of URL text holding a percent escape: decoded, it may spell a key. */
const ENCODED_RUN = /[^\s&/?#="'\\]*%[^\s&/?#="'\\]*/g
const ESCAPE = /%([0-9a-f]{2})/gi
/** Escapes of escapes (`%255F`) are undone this many times over, which covers any real client. */
const MAX_DECODE_ROUNDS = 4

/** Percent-decoding that never throws on a malformed escape (it stays as it is). */
function percentDecode (text: string): string {
  let decoded = text
  for (let round = 0; round < MAX_DECODE_ROUNDS && decoded.includes('%'); round++) {
    const next = decoded.replace(ESCAPE, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    if (next === decoded) break
    decoded = next
  }
  return decoded
}

/**
 * Masks key-shaped strings, percent-encoded ones included (`tc%5Flive%5F…`, any case of hex).
 * Keys belong in the Authorization header (already redacted in logs), but a client may paste one
 * into a URL by mistake, and URLs are logged on every request.
 */
export function redactKeys (text: string): string {
  let redacted = KEY_PREFIX.test(text) ? text.replace(KEY_LIKE, 'tc_live_[redacted]') : text
  if (redacted.includes('%')) {
    redacted = redacted.replace(ENCODED_RUN, (run) => KEY_PREFIX.test(percentDecode(run)) ? 'tc_live_[redacted]' : run)
  }
  return redacted
}

/** Whether text holds something that could be a key or its secret part: it must not be echoed. */
export function looksLikeKey (text: string): boolean {
  return KEY_PREFIX.test(percentDecode(text)) || /[0-9a-f]{40}/i.test(text)
}
