import { createHash, timingSafeEqual } from "node:crypto";

// What every answer of the dashboard shares: the security headers, JSON bodies, and the error
// that becomes a `{ error }` answer with its status.

/** Sent on every response, whatever its status. No CORS header is ever set. */
export const securityHeaders: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; " +
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

/** A request the dashboard refuses: answered `{ error: message }` with this status. */
export class HttpError extends Error {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, message: string, headers: Readonly<Record<string, string>> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

/** A JSON answer: the body is data, never HTML. */
export function json(body: unknown, status = 200, headers: Readonly<Record<string, string>> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers },
  });
}

/** The same response with the security headers added (a Response's headers may be immutable: copied). */
export function secured(response: Response): Response {
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(securityHeaders)) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/** Compares two secrets in constant time: their SHA-256 digests, which always have the same length. */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given, "utf8").digest();
  const b = createHash("sha256").update(expected, "utf8").digest();
  return timingSafeEqual(a, b);
}

const maxJobId = 9_223_372_036_854_775_807n;

/** A job id as the API takes it: a positive 64-bit integer in decimal, or undefined when it is not one. */
export function parseJobId(text: unknown): bigint | undefined {
  if (typeof text !== "string" || !/^[1-9]\d{0,18}$/.test(text)) return undefined;
  const id = BigInt(text);
  return id > maxJobId ? undefined : id;
}

/** An ISO 8601 time (a date, or a date and time), or undefined. */
export function parseTime(text: unknown): Date | undefined {
  if (
    typeof text !== "string" ||
    !/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)
  )
    return undefined;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
