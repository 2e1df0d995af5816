import type { ApiKeyRecord } from '../db/api-keys.js'
import type { PortalSession } from '../db/portal-sessions.js'
import { html, type SafeHtml } from './html.js'

// The manage portal's pages, server-rendered. No script anywhere: the content security policy
// forbids it, and nothing here needs it.

export const PORTAL_STYLESHEET_PATH = '/portal/static/portal.css'
export const NEW_KEYS_LINE = 'To request new keys or revoke existing ones, contact TempClock.'

interface LayoutOptions {
  title: string
  /** the signed-in admin: shows the account and a sign-out button */
  session?: PortalSession | null
  body: SafeHtml
}

function layout ({ title, session, body }: LayoutOptions): string {
  const who = session === null || session === undefined
    ? ''
    : html`<div class="who">
        <span><span class="muted">Account:</span> ${session.accountName}</span>
        <span><span class="muted">Signed in as</span> ${session.email}</span>
        <form method="post" action="/portal/logout">
          <input type="hidden" name="_csrf" value="${session.csrfToken}">
          <button type="submit" class="link-button">Sign out</button>
        </form>
      </div>`
  return '<!doctype html>\n' + html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · TempClock Manage</title>
<link rel="stylesheet" href="${PORTAL_STYLESHEET_PATH}">
<link rel="icon" href="/portal/static/favicon.svg" type="image/svg+xml">
</head>
<body>
<a class="skip" href="#main">Skip to main content</a>
<header class="site-header"><div class="inner">
  <a class="brand" href="/portal">TempClock Manage</a>
  ${who}
</div></header>
<main id="main">
${body}
</main>
</body>
</html>
`.value
}

export interface LoginPageOptions {
  csrfToken: string
  email?: string
  /** why the last attempt failed (shown as an alert) */
  error?: string
  /** a neutral message, e.g. after signing out */
  info?: string
}

export function loginPage ({ csrfToken, email = '', error, info }: LoginPageOptions): string {
  return layout({
    title: 'Sign in',
    body: html`<div class="card narrow">
  <h1>Sign in</h1>
  <p class="muted">Account admins: sign in to see your account's API keys.</p>
  ${error !== undefined && html`<p class="alert" role="alert" id="login-error">${error}</p>`}
  ${info !== undefined && html`<p class="info" role="status">${info}</p>`}
  <form method="post" action="/portal/login">
    <input type="hidden" name="_csrf" value="${csrfToken}">
    <label for="email">Email</label>
    <input id="email" name="email" type="email" autocomplete="username" required maxlength="254" value="${email}"${error !== undefined ? html` aria-describedby="login-error"` : ''}>
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024">
    <div class="actions"><button type="submit">Sign in</button></div>
  </form>
</div>`
  })
}

const STATUS_LABEL = { active: 'Active', revoked: 'Revoked', expired: 'Expired' } as const

const formatters = new Map<string, Intl.DateTimeFormat>()
/** "28 Nov 2026, 17:47 GMT" in the account's time zone. */
export function readableDate (iso: string, timeZone: string): string {
  let formatter = formatters.get(timeZone)
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-GB', {
      day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false, timeZone, timeZoneName: 'short'
    })
    formatters.set(timeZone, formatter)
  }
  return formatter.format(new Date(iso))
}

function dateCell (label: string, iso: string | null, timeZone: string, none: string): SafeHtml {
  return iso === null
    ? html`<td data-label="${label}">${none}</td>`
    : html`<td data-label="${label}"><time datetime="${iso}">${readableDate(iso, timeZone)}</time></td>`
}

function keyRow (key: ApiKeyRecord, timeZone: string): SafeHtml {
  return html`<tr>
  <th scope="row">${key.name}</th>
  <td data-label="Key Prefix"><code class="prefix">${key.prefix}</code></td>
  <td data-label="Status"><span class="status status-${key.status}">${STATUS_LABEL[key.status]}</span></td>
  ${dateCell('Last Used', key.last_used_at, timeZone, 'Never')}
  <td data-label="Scopes">${key.full_access
    ? 'Full access'
    : key.scopes.length === 0
      ? 'None'
      : html`<ul class="scopes">${key.scopes.map((s) => html`<li><code>${s}</code></li>`)}</ul>`}</td>
  ${dateCell('Expires', key.expires_at, timeZone, 'Never')}
</tr>`
}

export function apiKeysPage (session: PortalSession, keys: ApiKeyRecord[]): string {
  const table = keys.length === 0
    ? html`<p>This account has no API keys yet.</p>`
    : html`<div class="table-wrap" role="region" aria-labelledby="keys-caption" tabindex="0">
<table>
  <caption id="keys-caption">API keys for ${session.accountName} (${keys.length})</caption>
  <thead><tr>
    <th scope="col">Name</th><th scope="col">Key Prefix</th><th scope="col">Status</th>
    <th scope="col">Last Used</th><th scope="col">Scopes</th><th scope="col">Expires</th>
  </tr></thead>
  <tbody>
${keys.map((k) => keyRow(k, session.accountTimezone))}
  </tbody>
</table>
</div>`
  return layout({
    title: 'API Keys',
    session,
    body: html`<nav class="breadcrumb" aria-label="Breadcrumb"><ol><li>Settings</li><li aria-current="page">API Keys</li></ol></nav>
<h1>API Keys</h1>
<p class="notice">${NEW_KEYS_LINE}</p>
<p class="muted">A key is shown in full only once, when TempClock issues it; here you see its prefix.
Times are in your account's time zone (${session.accountTimezone}).</p>
${table}`
  })
}

export function errorPage (status: number, title: string, message: string, session?: PortalSession | null): string {
  return layout({
    title,
    session,
    body: html`<div class="card narrow">
  <h1>${title}</h1>
  <p>${message}</p>
  <p><a href="/portal">Back to the portal</a></p>
  <p class="muted">Error ${status}</p>
</div>`
  })
}
