import { type Html, html } from '../html.js';

export function loginView(error: string | null): Html {
  return html`<form class="login" method="post" action="/login"><h1>evosync</h1>
<label for="user">User</label><input id="user" name="user" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button class="primary" type="submit">Log in</button>${error ? html`<p class="error" role="alert">${error}</p>` : ''}</form>`;
}

export function dashboardOffView(): Html {
  return html`<div class="login"><h1>evosync</h1><p>The dashboard is off.</p>
<p class="muted">Set <code>EVOSYNC_DASHBOARD_USER</code> and <code>EVOSYNC_DASHBOARD_PASSWORD</code> (at least 12 characters) and restart evosync to turn it on.</p></div>`;
}
