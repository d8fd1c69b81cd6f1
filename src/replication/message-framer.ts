import { ReplicationProtocolError } from "../core/errors.js";

/** One backend protocol message: its type byte as a character and its body. */
export interface BackendMessage {
  /** The type byte as a one-character string, e.g. `"d"` for CopyData. */
  readonly type: string;
  /** The bytes after the length word; a view of a pushed chunk when the message fit in one. */
  readonly body: Uint8Array;
}

// A length word counts itself, so 4 is an empty body. The server never sends a message of a
// gigabyte or more (its own allocations stop just short of one), so a larger length means the
// stream is out of step, not that a huge message is coming.
const headerLength = 5;
const maxLength = 1024 * 1024 * 1024;

/**
 * Cuts a raw backend protocol byte stream (type byte, int32 length including itself, body)
 * into messages, however the stream was split into chunks. Feed it every chunk in order.
 *
 * A message inside one chunk is returned as a view of that chunk, without copying; one that
 * spans chunks is copied once into a buffer of its exact size, so a large message costs the
 * same whatever the chunk size. Chunks are never changed or kept beyond the returned views.
 *
 * A bad length throws a `ReplicationProtocolError`; the stream cannot be resynchronised after
 * that, so the framer then refuses every further chunk.
 *
 * @example
 * const framer = new MessageFramer();
 * socket.on("data", (chunk) => {
 *   for (const message of framer.push(chunk)) handle(message.type, message.body);
 * });
 */
export class MessageFramer {
  // A header split across chunks collects here first.
  readonly #header = new Uint8Array(headerLength);
  #headerFilled = 0;
  // The message being completed from several chunks.
  #type = "";
  #body: Uint8Array | undefined;
  #bodyFilled = 0;
  #streamOffset = 0;
  #failure: ReplicationProtocolError | undefined;

  /** Bytes of an incomplete message held back for the next chunk. */
  get bufferedBytes(): number {
    return this.#body ? headerLength + this.#bodyFilled : this.#headerFilled;
  }

  /** Takes the next chunk; returns the messages it completes, in order (often none). */
  push(chunk: Uint8Array): BackendMessage[] {
    if (this.#failure) throw this.#failure;
    const messages: BackendMessage[] = [];
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#body) {
        offset += this.#fillBody(chunk, offset, messages);
      } else if (this.#headerFilled > 0 || chunk.length - offset < headerLength) {
        const take = Math.min(headerLength - this.#headerFilled, chunk.length - offset);
        this.#header.set(chunk.subarray(offset, offset + take), this.#headerFilled);
        this.#headerFilled += take;
        offset += take;
        if (this.#headerFilled === headerLength) {
          this.#headerFilled = 0;
          const header = new DataView(this.#header.buffer);
          this.#begin(header.getUint8(0), header.getUint32(1), messages);
          this.#streamOffset += headerLength;
        }
      } else {
        // The common case: the header is here whole, and often the body too.
        const type = view.getUint8(offset);
        const length = view.getUint32(offset + 1);
        this.#check(type, length);
        const end = offset + 1 + length;
        if (end <= chunk.length) {
          messages.push({ type: String.fromCharCode(type), body: chunk.subarray(offset + headerLength, end) });
          this.#streamOffset += end - offset;
          offset = end;
        } else {
          this.#begin(type, length, messages);
          this.#streamOffset += headerLength;
          offset += headerLength;
        }
      }
    }
    return messages;
  }

  #begin(type: number, length: number, messages: BackendMessage[]): void {
    this.#check(type, length);
    if (length === 4) {
      messages.push({ type: String.fromCharCode(type), body: new Uint8Array(0) });
      return;
    }
    this.#type = String.fromCharCode(type);
    this.#body = new Uint8Array(length - 4);
    this.#bodyFilled = 0;
  }

  /** Copies what the chunk has of the pending body; returns the bytes taken. */
  #fillBody(chunk: Uint8Array, offset: number, messages: BackendMessage[]): number {
    const body = this.#body as Uint8Array;
    const take = Math.min(body.length - this.#bodyFilled, chunk.length - offset);
    body.set(chunk.subarray(offset, offset + take), this.#bodyFilled);
    this.#bodyFilled += take;
    this.#streamOffset += take;
    if (this.#bodyFilled === body.length) {
      messages.push({ type: this.#type, body });
      this.#body = undefined;
    }
    return take;
  }

  #check(type: number, length: number): void {
    if (length >= 4 && length <= maxLength) return;
    this.#failure = new ReplicationProtocolError(
      `Backend message at stream offset ${this.#streamOffset}: type 0x${type.toString(16)} has length ${length}, ` +
        `outside 4 to ${maxLength}: the stream is out of step`,
    );
    throw this.#failure;
  }
}
