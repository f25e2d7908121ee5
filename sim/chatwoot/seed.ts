/**
 * Initial installation state: the relay's account with an administrator, an agent (member of
 * the WhatsApp inbox only) and an agent bot; the API-channel "WhatsApp" inbox; a website inbox
 * (so non-API rules — incoming refused, status PATCH 403, agent policy denials — are
 * reachable); and a second account nobody here belongs to (for the "not authorized to access
 * this account" 401).
 */
import type { IdSource } from './coerce.js';
import type { AgentBot, Inbox, User } from './model.js';
import type { Store } from './store.js';

export interface SeedResult {
  admin: User;
  agent: User;
  bot: AgentBot;
  apiInbox: Inbox;
  webInbox: Inbox;
}

export function seedStore(
  store: Store,
  ids: IdSource,
  opts: { accountId: number; secret: string | null; now: number },
): SeedResult {
  const { accountId, now } = opts;
  store.accounts.set(accountId, { id: accountId, name: 'Evosync Test' });
  store.accounts.set(accountId + 1, { id: accountId + 1, name: 'Other Account' });

  const admin: User = {
    id: 1,
    name: 'Admin',
    email: 'admin@chatwoot.test',
    roles: new Map([[accountId, 'administrator']]),
    token: ids.token(),
  };
  const agent: User = {
    id: 2,
    name: 'Agent',
    email: 'agent@chatwoot.test',
    roles: new Map([[accountId, 'agent']]),
    token: ids.token(),
  };
  const bot: AgentBot = { id: 1, name: 'Bot', accountId, token: ids.token() };
  store.addUser(admin);
  store.addUser(agent);
  store.addBot(bot);

  const apiInbox: Inbox = {
    id: 1,
    accountId,
    name: 'WhatsApp',
    channelId: 1,
    channelType: 'Channel::Api',
    webhookUrl: null,
    secret: opts.secret,
    hmacToken: ids.token(),
    identifier: ids.token(),
    hmacMandatory: false,
    additionalAttributes: {},
    lockToSingleConversation: false,
    websiteUrl: null,
    memberIds: new Set([admin.id, agent.id]),
    createdAt: now,
    updatedAt: now,
  };
  const webInbox: Inbox = {
    ...apiInbox,
    id: 2,
    name: 'Website',
    channelId: 1,
    channelType: 'Channel::WebWidget',
    secret: null,
    hmacToken: ids.token(),
    identifier: ids.token(),
    additionalAttributes: {},
    websiteUrl: 'https://www.example.com',
    memberIds: new Set([admin.id]),
  };
  store.inboxes.set(apiInbox.id, apiInbox);
  store.inboxes.set(webInbox.id, webInbox);
  return { admin, agent, bot, apiInbox, webInbox };
}
