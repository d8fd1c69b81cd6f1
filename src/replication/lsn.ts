import { ReplicationProtocolError } from "../core/errors.js";

// An LSN is a uint64 byte position in the WAL. PostgreSQL writes it as two 32-bit halves in
// upper-case hex without padding ("16/B374D848"), so LSN strings do not sort as LSNs: compare
// the bigints, never the text.
const maxLsn = (1n << 64n) - 1n;
const lsnText = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/**
 * Formats an LSN the way PostgreSQL does (`pg_lsn` output).
 *
 * @example
 * lsnToString(0x16_b374d848n); // "16/B374D848"
 */
export function lsnToString(lsn: bigint): string {
  if (lsn < 0n || lsn > maxLsn) throw new RangeError(`LSN ${lsn} is outside 0 to 2^64 - 1`);
  const high = (lsn >> 32n).toString(16).toUpperCase();
  const low = (lsn & 0xffff_ffffn).toString(16).toUpperCase();
  return `${high}/${low}`;
}

/**
 * Parses PostgreSQL's text form of an LSN (`pg_lsn` output, as in `pg_replication_slots` or
 * IDENTIFY_SYSTEM) into a bigint; throws a `ReplicationProtocolError` for anything else.
 *
 * @example
 * parseLsn("16/B374D848"); // 0x16_b374d848n
 */
export function parseLsn(text: string): bigint {
  const match = lsnText.exec(text);
  if (!match?.[1] || !match[2]) {
    throw new ReplicationProtocolError(
      `Invalid LSN ${JSON.stringify(text)}: expected two hex halves like "16/B374D848"`,
    );
  }
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}
