/**
 * LID addressing across Evolution versions (reference §2.8). The raw Baileys 7 key is built once;
 * the convention then decides what is stored (Message.key) and what the MESSAGES_UPSERT event
 * carries. Keeping both derivations here is what lets a test check the event key AND the stored
 * key of the same message.
 */
import type { LidConvention, MessageKey } from './types.js';

export interface Party {
  /** Phone JID (…@s.whatsapp.net), when known. */
  pn: string | null;
  /** LID JID (…@lid), when known. */
  lid: string | null;
}

export interface KeyInput {
  id: string;
  fromMe: boolean;
  /** 1:1 chats: the contact; groups: the group JID in `groupJid`. */
  contact?: Party;
  /** Does WhatsApp address this 1:1 chat by LID? */
  lidAddressed?: boolean;
  groupJid?: string;
  /** Group sender (the instance itself for fromMe). */
  sender?: Party;
  /** Group addressing mode. */
  groupMode?: 'lid' | 'pn';
  /** Issue #1764: the alternate JID missing from the stanza. */
  missingAlt?: boolean;
}

function pick(a: string | null, b: string | null): string {
  const v = a ?? b;
  if (!v) throw new Error('party without any JID');
  return v;
}

/** The key Baileys 7 (rc.5+) builds from the stanza: remoteJid, remoteJidAlt, fromMe, id, participant, participantAlt, addressingMode. */
export function baileysKey(k: KeyInput): MessageKey {
  if (k.groupJid) {
    const s = k.sender ?? { pn: null, lid: null };
    const lidMode = k.groupMode === 'lid' && s.lid !== null;
    const participant = lidMode ? pick(s.lid, s.pn) : pick(s.pn, s.lid);
    const alt = k.missingAlt ? null : lidMode ? s.pn : s.lid;
    const key: MessageKey = { remoteJid: k.groupJid, fromMe: k.fromMe, id: k.id, participant };
    if (alt) key.participantAlt = alt;
    key.addressingMode = lidMode ? 'lid' : 'pn';
    return key;
  }
  const c = k.contact ?? { pn: null, lid: null };
  const lidMode = k.lidAddressed === true && c.lid !== null;
  const remoteJid = lidMode ? pick(c.lid, c.pn) : pick(c.pn, c.lid);
  const alt = k.missingAlt ? null : lidMode ? c.pn : c.lid;
  const key = { remoteJid } as MessageKey;
  if (alt) key.remoteJidAlt = alt;
  key.fromMe = k.fromMe;
  key.id = k.id;
  key.addressingMode = lidMode ? 'lid' : 'pn';
  return key;
}

/**
 * The 2.3.2–2.3.4 shape (Baileys 7 rc.3 named the alternate `senderPn`): Evolution rewrote an @lid
 * remoteJid to senderPn before storing and kept the LID in previousRemoteJid.
 */
function legacyKey(k: KeyInput): MessageKey {
  if (k.groupJid) {
    const s = k.sender ?? { pn: null, lid: null };
    const lidMode = k.groupMode === 'lid' && s.lid !== null;
    const key: MessageKey = {
      remoteJid: k.groupJid,
      fromMe: k.fromMe,
      id: k.id,
      participant: lidMode ? pick(s.lid, s.pn) : pick(s.pn, s.lid),
    };
    if (lidMode && !k.missingAlt && s.pn) key.participantPn = s.pn;
    return key;
  }
  const c = k.contact ?? { pn: null, lid: null };
  const lidMode = k.lidAddressed === true && c.lid !== null;
  if (!lidMode) return { remoteJid: pick(c.pn, c.lid), fromMe: k.fromMe, id: k.id };
  if (k.missingAlt || !c.pn) return { remoteJid: pick(c.lid, c.pn), fromMe: k.fromMe, id: k.id };
  return { remoteJid: c.pn, fromMe: k.fromMe, id: k.id, senderPn: c.pn, previousRemoteJid: pick(c.lid, null) };
}

/** Message.key as the given Evolution version stores it. */
export function storedKey(k: KeyInput, convention: LidConvention): MessageKey {
  return convention === '2.3.4' ? legacyKey(k) : baileysKey(k);
}

/**
 * The key MESSAGES_UPSERT carries for a stored key. Only the '2.3.7' convention differs: an @lid
 * remoteJid with a known alternate is swapped and the mode flipped to 'pn' (2.4.0-rc2 code;
 * the 2.3.7 tag itself only overwrote remoteJid, see the report). Key order is preserved.
 */
export function eventKey(stored: MessageKey, convention: LidConvention): MessageKey {
  if (convention !== '2.3.7') return stored;
  if (!stored.remoteJid.endsWith('@lid') || !stored.remoteJidAlt) return stored;
  const lid = stored.remoteJid;
  const pn = stored.remoteJidAlt;
  const out = {} as Record<string, unknown>;
  for (const [k, v] of Object.entries(stored)) {
    out[k] = k === 'remoteJid' ? pn : k === 'remoteJidAlt' ? lid : k === 'addressingMode' ? 'pn' : v;
  }
  if (!('addressingMode' in out)) out['addressingMode'] = 'pn';
  return out as unknown as MessageKey;
}

/** Which key field findMessages ORs with remoteJid in this version (2.3.4: senderPn). */
export function altFilterField(convention: LidConvention): 'senderPn' | 'remoteJidAlt' {
  return convention === '2.3.4' ? 'senderPn' : 'remoteJidAlt';
}
