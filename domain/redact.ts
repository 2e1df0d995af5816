/** Anything shaped like an API key, wherever it turns up in text (a URL, a message). */
const KEY_LIKE = /tc_live_[^\s&/?#"'\\]*/gi

/**
 * Masks key-shaped strings. Keys belong in the Authorization header (already redacted in logs),
 * but a client may paste one into a URL by mistake, and URLs are logged on every request.
 */
export function redactKeys (text: string): string {
  return /tc_live_/i.test(text) ? text.replace(KEY_LIKE, 'tc_live_[redacted]') : text
}
