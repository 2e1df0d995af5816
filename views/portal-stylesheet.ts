import { createHash } from 'node:crypto'

// The portal's only stylesheet, served from /portal/static/portal.css (no CDN, no inline styles,
// so the content security policy can forbid both). Mobile first: the keys table becomes one card
// per key below 40rem.
export const PORTAL_CSS = `
:root { color-scheme: light; --ink: #1d2430; --muted: #566072; --line: #d5dae2; --bg: #f5f7fa; --card: #fff;
  --brand: #0b5cad; --brand-dark: #084683; --ok: #136c2e; --ok-bg: #e3f4e8; --bad: #a01c1c; --bad-bg: #fbe6e6;
  --warn: #7a4b00; --warn-bg: #fdf0d5; --focus: #ffbf47; }
*, *::before, *::after { box-sizing: border-box; }
html { font-size: 100%; -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: var(--ink); background: var(--bg); }
a { color: var(--brand); }
a:focus-visible, button:focus-visible, input:focus-visible, [tabindex]:focus-visible {
  outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--card); padding: .5rem 1rem; }
.skip:focus { left: .5rem; z-index: 10; }
.site-header { background: var(--ink); color: #fff; }
.site-header .inner { max-width: 72rem; margin: 0 auto; padding: .75rem 1rem; display: flex; flex-wrap: wrap;
  gap: .5rem 1rem; align-items: center; justify-content: space-between; }
.brand { font-weight: 700; font-size: 1.125rem; color: #fff; text-decoration: none; }
.who { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; font-size: .9375rem; }
.who form { margin: 0; }
.site-header .muted { color: #c3cad6; }
main { max-width: 72rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
h1 { font-size: 1.75rem; line-height: 1.2; margin: .25rem 0 1rem; }
.breadcrumb ol { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; color: var(--muted); font-size: .9375rem; }
.breadcrumb li + li::before { content: "\\203A"; padding: 0 .5rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: .5rem; padding: 1.25rem; }
.narrow { max-width: 26rem; margin: 2rem auto; }
.notice { background: #e8f1fb; border-left: 4px solid var(--brand); padding: .75rem 1rem; margin: 0 0 1.25rem; }
.alert { background: var(--bad-bg); color: var(--bad); border-left: 4px solid var(--bad); padding: .75rem 1rem; margin: 0 0 1rem; }
.info { background: var(--ok-bg); color: var(--ok); border-left: 4px solid var(--ok); padding: .75rem 1rem; margin: 0 0 1rem; }
label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
input[type=email], input[type=password] { width: 100%; font: inherit; padding: .625rem .75rem; border: 1px solid #8a94a6;
  border-radius: .375rem; background: #fff; color: var(--ink); }
button { font: inherit; font-weight: 600; cursor: pointer; border-radius: .375rem; padding: .625rem 1.25rem;
  border: 1px solid var(--brand); background: var(--brand); color: #fff; }
button:hover { background: var(--brand-dark); }
.actions { margin-top: 1.5rem; }
.link-button { background: transparent; border: 1px solid #fff; color: #fff; padding: .375rem .875rem; }
.link-button:hover { background: rgba(255,255,255,.15); }
.muted { color: var(--muted); }
.table-wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; background: var(--card); }
caption { text-align: left; font-weight: 600; padding: .5rem 0; }
th, td { text-align: left; vertical-align: top; padding: .625rem .75rem; border-bottom: 1px solid var(--line); }
thead th { background: #eef1f5; font-size: .875rem; text-transform: uppercase; letter-spacing: .02em; color: var(--muted); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9375rem; }
.prefix { white-space: nowrap; }
.status { display: inline-block; font-size: .875rem; font-weight: 600; padding: .125rem .5rem; border-radius: 1rem; }
.status-active { background: var(--ok-bg); color: var(--ok); }
.status-revoked { background: var(--bad-bg); color: var(--bad); }
.status-expired { background: var(--warn-bg); color: var(--warn); }
.scopes { margin: 0; padding: 0; list-style: none; display: flex; flex-wrap: wrap; gap: .25rem; }
.scopes li { background: #eef1f5; border-radius: .25rem; padding: 0 .375rem; }
@media (max-width: 40rem) {
  h1 { font-size: 1.5rem; }
  table, caption, thead, tbody, tr, th, td { display: block; }
  table { background: transparent; }
  thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  tr { border: 1px solid var(--line); border-radius: .5rem; margin-bottom: .75rem; background: var(--card); }
  tbody th, td { border: 0; padding: .375rem .75rem; }
  tbody th { font-size: 1.0625rem; padding-top: .75rem; }
  td::before { content: attr(data-label); display: block; font-size: .8125rem; font-weight: 600; color: var(--muted); }
}
`.trimStart()

/** Strong validator for conditional requests; the content only changes with a deploy. */
export const PORTAL_CSS_ETAG = '"' + createHash('sha256').update(PORTAL_CSS).digest('base64url').slice(0, 22) + '"'

/** A small clock icon, so browsers do not go looking for /favicon.ico. */
export const PORTAL_FAVICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">' +
  '<circle cx="16" cy="16" r="14" fill="#0b5cad"/><path d="M16 8v8l6 4" stroke="#fff" stroke-width="3" fill="none" stroke-linecap="round"/></svg>'
export const PORTAL_FAVICON_ETAG = '"' + createHash('sha256').update(PORTAL_FAVICON).digest('base64url').slice(0, 22) + '"'
