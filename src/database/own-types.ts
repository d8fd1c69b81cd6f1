import type { CustomTypesConfig } from "pg";

/**
 * pg's type parsers (`getTypeParser(oid, format)`) for the library's own statements.
 *
 * An application may change how pg parses values, for every connection
 * (`pg.types.setTypeParser`) or for one pool (its `types` option): json left as text, int8 as
 * BigInt, timestamptz as strings or a date library's objects. The library's statements must
 * read the same values whatever it chose, so each of them carries this set: booleans, small
 * integers and json are parsed, everything else stays text and is converted by the caller.
 * Times are never read as timestamptz text (its form depends on the session's DateStyle and
 * TimeZone): the SQL selects them as epoch milliseconds (see `epochMs`).
 */
export const ownTypes: CustomTypesConfig = {
  getTypeParser(oid: number, format?: string): (value: string) => unknown {
    if (format === "binary") return unsupportedBinary;
    switch (oid) {
      case 16: // bool
        return parseBool;
      case 21: // int2
      case 23: // int4
      case 26: // oid
        return Number;
      case 114: // json
      case 3802: // jsonb
        return JSON.parse;
      default:
        return keepText;
    }
  },
};

function parseBool(value: string): boolean {
  return value === "t";
}

function keepText(value: string): string {
  return value;
}

function unsupportedBinary(): never {
  throw new Error("poutbox statements read text results only");
}
