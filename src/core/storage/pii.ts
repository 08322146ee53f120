/**
 * The PII codec (issue #16, docs/identity.md "Encryption at rest"): names, addresses, phone numbers
 * and message texts are stored as `pii1:<keyId>:<base64url(iv | tag | ciphertext)>`, AES-256-GCM
 * with a random 96-bit IV and the prefix as additional data. Any configured key decrypts (by its
 * id); the first one encrypts. A value without the prefix is plaintext (a row written before
 * encryption was on) and reads as is. Lookups use a keyed hash (HMAC-SHA256) under a key derived
 * with HKDF from a dedicated hash secret, so rotating the encryption keys never moves a lookup.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, randomFillSync, type KeyObject, createSecretKey } from 'node:crypto';
import { HubError } from '../errors.js';

const PREFIX = 'pii1:';
/** A plaintext value that would read as sealed (it starts with `pii0:`/`pii1:`) is stored escaped. */
const ESCAPE = 'pii0:';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

export interface PiiKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

export interface PiiConfig {
  /** The first encrypts; all decrypt. */
  keys: readonly PiiKey[];
  /** The secret lookup hashes are derived from (at least 32 bytes). */
  hashSecret: Buffer;
}

/**
 * What repositories use. Without encryption (`PLAINTEXT`) values are stored as given, lookups are
 * by the plain column, and an encrypted value is refused with a clear error.
 */
export interface PiiCodec {
  readonly enabled: boolean;
  /** The key new values are sealed under (undefined: plaintext). */
  readonly currentKeyId: string | undefined;
  /** Fingerprint of the lookup key (undefined: plaintext), recorded in the database at open. */
  readonly hashKeyId: string | undefined;
  /** Fingerprint of each configured key by id (a key id reused for another key is refused at open). */
  readonly keyFingerprints: Readonly<Record<string, string>>;
  seal(plain: string): string;
  /** `what` names the column in the error (never the value). */
  open(stored: string, what?: string): string;
  /** Keyed hash of `value` for `kind` (`identity:email`, `email-code`); undefined without a codec. */
  lookup(kind: string, value: string): string | undefined;
  /** true when `stored` is sealed under the current key (rotation skips it). */
  isCurrent(stored: string): boolean;
}

/** IVs come from a pool refilled from the CSPRNG (one call per 256 IVs: a call per IV was most of a seal's cost). */
const ivPool = Buffer.alloc(IV_BYTES * 256);
let ivOffset = ivPool.length;
function nextIv(): Buffer {
  if (ivOffset >= ivPool.length) {
    randomFillSync(ivPool);
    ivOffset = 0;
  }
  // A copy: the pool is overwritten on the next refill.
  const iv = Buffer.from(ivPool.subarray(ivOffset, ivOffset + IV_BYTES));
  ivOffset += IV_BYTES;
  return iv;
}

export function isSealed(stored: string): boolean {
  return stored.startsWith(PREFIX);
}

/** The key id of a sealed value (undefined: plaintext). */
export function sealedKeyId(stored: string): string | undefined {
  if (!stored.startsWith(PREFIX)) return undefined;
  const end = stored.indexOf(':', PREFIX.length);
  return end < 0 ? '' : stored.slice(PREFIX.length, end);
}

function fingerprint(key: Buffer, label: string): string {
  return createHmac('sha256', key).update(`switchboard-pii-fingerprint:${label}`).digest('hex').slice(0, 16);
}

class PlaintextCodec implements PiiCodec {
  readonly enabled = false;
  readonly currentKeyId = undefined;
  readonly hashKeyId = undefined;
  readonly keyFingerprints = {};
  seal(plain: string): string {
    return plain.startsWith(PREFIX) || plain.startsWith(ESCAPE) ? ESCAPE + plain : plain;
  }
  open(stored: string, what = 'a value'): string {
    if (!stored.startsWith('pii')) return stored;
    if (stored.startsWith(ESCAPE)) return stored.slice(ESCAPE.length);
    if (!stored.startsWith(PREFIX)) return stored;
    throw new HubError('CONFIG_MISSING_ENV', `${what} is encrypted under PII key "${sealedKeyId(stored)}" but this process has no PII keys: set SWITCHBOARD_PII_KEYS (docs/identity.md)`);
  }
  lookup(): undefined {
    return undefined;
  }
  isCurrent(): boolean {
    return true;
  }
}

/** Storage without encryption (most unit tests; a storage opened without `{ pii }`). */
export const PLAINTEXT: PiiCodec = new PlaintextCodec();

/**
 * Recently sealed or opened values by their sealed text (bounded, least recently used out): the
 * pipeline reads the same values again and again (the identity on every message, the last turns of
 * a conversation on every turn), and a decryption costs a cipher context each. Values longer than
 * `CACHE_MAX_CHARS` are not kept. A plaintext copy in this process's memory, as while it is used.
 */
const CACHE_ENTRIES = 4096;
const CACHE_MAX_CHARS = 2048;

class PlainCache {
  private readonly map = new Map<string, string>();
  get(sealed: string): string | undefined {
    const v = this.map.get(sealed);
    if (v !== undefined) {
      this.map.delete(sealed);
      this.map.set(sealed, v);
    }
    return v;
  }
  set(sealed: string, plain: string): void {
    if (sealed.length > CACHE_MAX_CHARS) return;
    if (this.map.size >= CACHE_ENTRIES) this.map.delete(this.map.keys().next().value as string);
    this.map.set(sealed, plain);
  }
}

class AesGcmCodec implements PiiCodec {
  readonly enabled = true;
  readonly currentKeyId: string;
  readonly hashKeyId: string;
  readonly keyFingerprints: Record<string, string> = {};
  private readonly keys = new Map<string, KeyObject>();
  private readonly aads = new Map<string, Buffer>();
  private readonly current: KeyObject;
  private readonly currentPrefix: string;
  private readonly currentAad: Buffer;
  private readonly hashKey: Buffer;
  private readonly plain = new PlainCache();
  private readonly hashes = new PlainCache();

  constructor(cfg: PiiConfig) {
    if (cfg.keys.length === 0) throw new HubError('CONFIG_INVALID', 'SWITCHBOARD_PII_KEYS: no key given');
    for (const k of cfg.keys) {
      if (!KEY_ID.test(k.id)) throw new HubError('CONFIG_INVALID', `SWITCHBOARD_PII_KEYS: key id "${k.id}" must be 1-32 letters, digits, - or _`);
      if (k.key.length !== 32) throw new HubError('CONFIG_INVALID', `SWITCHBOARD_PII_KEYS: key "${k.id}" is ${k.key.length} bytes; AES-256 needs 32 (base64 of 32 random bytes)`);
      if (this.keys.has(k.id)) throw new HubError('CONFIG_INVALID', `SWITCHBOARD_PII_KEYS: key id "${k.id}" is given twice`);
      this.keys.set(k.id, createSecretKey(k.key));
      this.aads.set(k.id, Buffer.from(`${PREFIX}${k.id}`));
      this.keyFingerprints[k.id] = fingerprint(k.key, 'aes');
    }
    if (cfg.hashSecret.length < 32) throw new HubError('CONFIG_INVALID', `SWITCHBOARD_PII_HASH_KEY: ${cfg.hashSecret.length} bytes; give at least 32 (base64 of 32 random bytes)`);
    const first = cfg.keys[0] as PiiKey;
    this.currentKeyId = first.id;
    this.current = this.keys.get(first.id) as KeyObject;
    this.currentPrefix = `${PREFIX}${first.id}:`;
    this.currentAad = Buffer.from(`${PREFIX}${first.id}`);
    // Derived once: lookups never depend on the rotating encryption keys.
    this.hashKey = Buffer.from(hkdfSync('sha256', cfg.hashSecret, 'switchboard-pii', 'lookup-hash-v1', 32));
    this.hashKeyId = fingerprint(this.hashKey, 'hash');
  }

  seal(plain: string): string {
    const iv = nextIv();
    const c = createCipheriv('aes-256-gcm', this.current, iv);
    c.setAAD(this.currentAad);
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    const sealed = this.currentPrefix + Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url');
    this.plain.set(sealed, plain);
    return sealed;
  }

  open(stored: string, what = 'a value'): string {
    if (!stored.startsWith('pii')) return stored;
    if (stored.startsWith(ESCAPE)) return stored.slice(ESCAPE.length);
    if (!stored.startsWith(PREFIX)) return stored;
    const cached = this.plain.get(stored);
    if (cached !== undefined) return cached;
    const end = stored.indexOf(':', PREFIX.length);
    const keyId = end < 0 ? '' : stored.slice(PREFIX.length, end);
    const key = this.keys.get(keyId);
    if (!key) {
      throw new HubError('CONFIG_INVALID', `${what} is encrypted under PII key "${keyId}", which is not in SWITCHBOARD_PII_KEYS (configured: ${[...this.keys.keys()].join(', ')})`);
    }
    const raw = Buffer.from(stored.slice(end + 1), 'base64url');
    try {
      if (raw.length < IV_BYTES + TAG_BYTES) throw new Error('too short');
      const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
      d.setAAD(this.aads.get(keyId) as Buffer);
      d.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      const plain = Buffer.concat([d.update(raw.subarray(IV_BYTES + TAG_BYTES)), d.final()]).toString('utf8');
      this.plain.set(stored, plain);
      return plain;
    } catch (err) {
      throw new HubError('STORAGE', `${what} does not decrypt under PII key "${keyId}": the value was altered or the key with that id is not the one it was written with`, { cause: err });
    }
  }

  lookup(kind: string, value: string): string {
    const input = `${kind}\u0000${value}`;
    let h = this.hashes.get(input);
    if (h === undefined) {
      h = createHmac('sha256', this.hashKey).update(input).digest('base64url');
      this.hashes.set(input, h);
    }
    return h;
  }

  isCurrent(stored: string): boolean {
    return stored.startsWith(this.currentPrefix);
  }
}

export function createPiiCodec(cfg: PiiConfig): PiiCodec {
  return new AesGcmCodec(cfg);
}

/** `k2:<base64>,k1:<base64>` (first encrypts). Errors name the variable and the entry. */
export function parsePiiKeys(text: string, variable = 'SWITCHBOARD_PII_KEYS'): PiiKey[] {
  const out: PiiKey[] = [];
  for (const [i, part] of text.split(',').map((s) => s.trim()).filter(Boolean).entries()) {
    const colon = part.indexOf(':');
    if (colon < 1) throw new HubError('CONFIG_INVALID', `${variable}: entry ${i + 1} is not <keyId>:<base64 of 32 bytes>`);
    const id = part.slice(0, colon);
    const key = decodeSecret(part.slice(colon + 1));
    if (!KEY_ID.test(id)) throw new HubError('CONFIG_INVALID', `${variable}: key id "${id}" must be 1-32 letters, digits, - or _`);
    if (key.length !== 32) throw new HubError('CONFIG_INVALID', `${variable}: key "${id}" decodes to ${key.length} bytes; AES-256 needs 32 (e.g. \`openssl rand -base64 32\`)`);
    out.push({ id, key });
  }
  if (out.length === 0) throw new HubError('CONFIG_INVALID', `${variable}: no key given (expected <keyId>:<base64 of 32 bytes>[,...])`);
  return out;
}

/** Base64 or base64url (padding optional). */
export function decodeSecret(text: string): Buffer {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) return Buffer.alloc(0);
  return Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

/** A fresh key (base64 of 32 random bytes). */
export function newSecret(): string {
  return randomBytes(32).toString('base64');
}
