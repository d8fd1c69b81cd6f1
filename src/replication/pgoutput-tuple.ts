import { type ByteReader, describeByte } from "./byte-reader.js";
import type { TupleData, TupleValue } from "./pgoutput-messages.js";

/** Which row of a change a tuple is, as errors name it. */
export type TupleRole = "new" | "old" | "key";

// Field names per role, built once: tuples are the hot path, and the names are only needed
// when something is wrong.
interface TupleFields {
  readonly count: string;
  readonly kind: string;
  readonly length: string;
  readonly value: string;
}

function tupleFields(role: TupleRole): TupleFields {
  const column = `${role} tuple column`;
  return { count: `${column} count`, kind: `${column} kind`, length: `${column} length`, value: `${column} value` };
}

const fieldsByRole: Readonly<Record<TupleRole, TupleFields>> = {
  new: tupleFields("new"),
  old: tupleFields("old"),
  key: tupleFields("key"),
};

// Shared, frozen values for the kinds that carry nothing, so a wide row of NULLs allocates
// only its array.
const nullValue: TupleValue = Object.freeze({ kind: "null" });
const unchangedToastValue: TupleValue = Object.freeze({ kind: "unchanged-toast" });

/**
 * Reads a TupleData (Int16 column count, then per column a kind byte and, for text and binary,
 * an Int32 length and the bytes). Text is decoded to a string at once; binary is copied so a
 * kept row does not pin or follow the input buffer (`new Uint8Array(view)` copies,
 * `Buffer#slice` would not).
 */
export function readTupleData(reader: ByteReader, role: TupleRole): TupleData {
  const fields = fieldsByRole[role];
  // Each column takes at least its kind byte, which bounds a corrupt count before allocating.
  const count = reader.count(fields.count, 2, 1);
  const values: TupleValue[] = new Array(count);
  for (let index = 0; index < count; index++) {
    const at = reader.offset;
    const kind = reader.uint8(fields.kind);
    switch (kind) {
      case 0x6e: // 'n'
        values[index] = nullValue;
        break;
      case 0x75: // 'u'
        values[index] = unchangedToastValue;
        break;
      case 0x74: // 't'
        values[index] = { kind: "text", value: reader.utf8(fields.value, reader.int32(fields.length)) };
        break;
      case 0x62: // 'b'
        values[index] = {
          kind: "binary",
          value: new Uint8Array(reader.bytes(fields.value, reader.int32(fields.length))),
        };
        break;
      default:
        reader.fail(fields.kind, `unknown column kind ${describeByte(kind)}`, at);
    }
  }
  return values;
}
