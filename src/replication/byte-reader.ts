import { ReplicationProtocolError } from "../core/errors.js";

// `fatal` turns invalid UTF-8 into an error instead of U+FFFD: a replaced character would
// silently change a job's payload, and invalid bytes mean the connection's encoding is wrong.
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A cursor over the bytes of one protocol message, reading big-endian integers, strings and
 * byte runs from the front. Every read checks the remaining length first and throws a
 * {@link ReplicationProtocolError} naming the message, the field and the offset, so a short or
 * corrupt message can never yield a partial value or an unrelated `RangeError`.
 *
 * @example
 * const reader = new ByteReader(bytes, "Begin");
 * reader.uint8("tag");
 * const finalLsn = reader.uint64("final LSN");
 */
export class ByteReader {
  /** What is being read (a message name), used in error messages; a decoder may rename it. */
  context: string;
  // Integers are assembled from the bytes by hand and ASCII text is read from a Buffer over
  // the same memory: a reader is made for every message of a replication stream, and a
  // DataView, or a view per text field, was a measurable share of decoding (docs/benchmarks.md).
  readonly #bytes: Buffer;
  #offset = 0;

  constructor(bytes: Uint8Array, context: string) {
    this.#bytes = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.context = context;
  }

  /** Bytes read so far, which is also the offset of the next read. */
  get offset(): number {
    return this.#offset;
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  uint8(field: string): number {
    const at = this.#take(field, 1, "uint8");
    return this.#bytes[at] as number;
  }

  int16(field: string): number {
    const at = this.#take(field, 2, "int16");
    const bytes = this.#bytes;
    // Shifted up to bit 31 and back, so the sign bit of the 16-bit value spreads.
    return ((((bytes[at] as number) << 8) | (bytes[at + 1] as number)) << 16) >> 16;
  }

  int32(field: string): number {
    return this.#int32At(this.#take(field, 4, "int32"));
  }

  uint32(field: string): number {
    return this.#int32At(this.#take(field, 4, "uint32")) >>> 0;
  }

  /**
   * An unsigned 64-bit integer such as an LSN. Built from the two 32-bit halves as a bigint:
   * a JavaScript number loses precision above 2^53 and strings of unpadded halves sort wrong.
   */
  uint64(field: string): bigint {
    const at = this.#take(field, 8, "uint64");
    return (BigInt(this.#int32At(at) >>> 0) << 32n) | BigInt(this.#int32At(at + 4) >>> 0);
  }

  /** A signed 64-bit integer such as a timestamp in microseconds, which can be negative. */
  int64(field: string): bigint {
    const at = this.#take(field, 8, "int64");
    return (BigInt(this.#int32At(at)) << 32n) | BigInt(this.#int32At(at + 4) >>> 0);
  }

  /** A NUL-terminated UTF-8 string (the protocol's `String`), without its terminator. */
  cString(field: string): string {
    const start = this.#offset;
    const end = this.#bytes.indexOf(0, start);
    if (end < 0) {
      throw this.#error(field, `no NUL terminator in the ${this.remaining} bytes left`, start);
    }
    this.#offset = end + 1;
    return this.#decode(field, start, end);
  }

  /** `length` bytes decoded as UTF-8. */
  utf8(field: string, length: number): string {
    const at = this.#take(field, length, `${length} bytes of UTF-8`);
    return this.#decode(field, at, at + length);
  }

  /** `length` bytes as a view of the input (no copy): it changes if the input does. */
  bytes(field: string, length: number): Uint8Array {
    const at = this.#take(field, length, `${length} bytes`);
    return this.#bytes.subarray(at, at + length);
  }

  /**
   * An item count (int16 or int32), checked against the bytes left: each item takes at least
   * `minBytes` after `fixedBytes` of other fields. A corrupt count fails here, before anything
   * is allocated for it.
   */
  count(field: string, width: 2 | 4, minBytes: number, fixedBytes = 0): number {
    const at = this.#offset;
    const count = width === 2 ? this.int16(field) : this.int32(field);
    if (count < 0) throw this.#error(field, `negative count ${count}`, at);
    if (count * minBytes + fixedBytes > this.remaining) {
      throw this.#error(field, `${count} items cannot fit in the ${this.remaining} bytes left`, at);
    }
    return count;
  }

  /** Everything not read yet, as a view of the input (no copy). */
  rest(): Uint8Array {
    const at = this.#offset;
    this.#offset = this.#bytes.length;
    return this.#bytes.subarray(at);
  }

  /** Throws unless every byte was read: trailing bytes mean the message was misread. */
  end(): void {
    if (this.remaining > 0) {
      throw this.#error("end of message", `${this.remaining} unexpected trailing bytes`, this.#offset);
    }
  }

  /** Fails with the context and offset, for checks a decoder makes on a value it read. */
  fail(field: string, problem: string, at = this.#offset): never {
    throw this.#error(field, problem, at);
  }

  #take(field: string, length: number, what: string): number {
    const at = this.#offset;
    if (!Number.isInteger(length) || length < 0) throw this.#error(field, `invalid length ${length}`, at);
    if (length > this.#bytes.length - at) {
      throw this.#error(field, `needs ${what} but only ${this.#bytes.length - at} bytes are left`, at);
    }
    this.#offset = at + length;
    return at;
  }

  /** The big-endian signed 32-bit integer at `at` (bounds already checked). */
  #int32At(at: number): number {
    const bytes = this.#bytes;
    return (
      ((bytes[at] as number) << 24) |
      ((bytes[at + 1] as number) << 16) |
      ((bytes[at + 2] as number) << 8) |
      (bytes[at + 3] as number)
    );
  }

  #decode(field: string, start: number, end: number): string {
    const bytes = this.#bytes;
    // ASCII reads the same in Latin-1 and UTF-8 and is always valid; Latin-1 decoding needs no
    // view and makes a compact one-byte string. Ids, numbers, times and most JSON are ASCII.
    let ascii = true;
    for (let index = start; index < end; index++) {
      if ((bytes[index] as number) > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) return bytes.toString("latin1", start, end);
    try {
      return utf8.decode(bytes.subarray(start, end));
    } catch (cause) {
      throw this.#error(field, "is not valid UTF-8", start, cause);
    }
  }

  #error(field: string, problem: string, at: number, cause?: unknown): ReplicationProtocolError {
    const message = `${this.context}: ${field} at offset ${at}: ${problem}`;
    return new ReplicationProtocolError(message, cause === undefined ? undefined : { cause });
  }
}

/** A byte for an error message: `'N' (0x4e)` when printable, else `0x0`. */
export function describeByte(byte: number): string {
  const hex = `0x${byte.toString(16)}`;
  return byte >= 0x20 && byte < 0x7f ? `'${String.fromCharCode(byte)}' (${hex})` : hex;
}
