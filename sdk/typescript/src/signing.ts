/**
 * Signed requests, for keys that require them (docs/api-keys.md, "Signed requests"): the canonical request
 * of src/membank/auth/request_signing.py, HMAC-SHA256 through the platform's Web Crypto.
 */

const encoder = new TextEncoder();

/** SHA-256 hex of the text's UTF-8 bytes (what fetch sends for a string body). */
async function sha256Hex(text: string): Promise<string> {
  return hex(await globalThis.crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

function hex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Python's `urllib.parse.quote(text, safe="")`: only letters, digits and `_.-~` stay as they are. */
function quote(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The query's pairs sorted and encoded again, as the server does whatever encoding the client used. */
function canonicalQuery(search: URLSearchParams): string {
  return [...search]
    .sort(([nameA, valueA], [nameB, valueB]) => (nameA === nameB ? compare(valueA, valueB) : compare(nameA, nameB)))
    .map(([name, value]) => `${quote(name)}=${quote(value)}`)
    .join("&");
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The headers that sign one request with `apiKey` (`mbk_<prefix>_<secret>`). `url` is the full URL and `body`
 * exactly what is sent. A signed request can be sent once: each attempt needs its own signature.
 */
export async function signRequest(
  apiKey: string,
  method: string,
  url: string,
  body: string = "",
  { timestamp, nonce }: { timestamp?: number; nonce?: string } = {},
): Promise<Record<string, string>> {
  const parsed = new URL(url);
  const stamp = String(timestamp ?? Math.floor(Date.now() / 1000));
  const once = nonce ?? hex(globalThis.crypto.getRandomValues(new Uint8Array(16)).buffer);
  const canonical = [
    method.toUpperCase(),
    // The server signs the decoded path (what its router sees).
    decodeURIComponent(parsed.pathname) || "/",
    canonicalQuery(parsed.searchParams),
    stamp,
    once,
    await sha256Hex(body),
  ].join("\n");
  const parts = apiKey.split("_");
  const secret = apiKey.startsWith("mbk_") && parts.length === 3 ? (parts[2] as string) : apiKey;
  const key = await globalThis.crypto.subtle.importKey(
    "raw",
    encoder.encode(await sha256Hex(secret)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const digest = hex(await globalThis.crypto.subtle.sign("HMAC", key, encoder.encode(canonical)));
  return { "X-MemBank-Timestamp": stamp, "X-MemBank-Nonce": once, "X-MemBank-Signature": `v1=${digest}` };
}
