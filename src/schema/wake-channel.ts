import { createHash } from "node:crypto";

// NOTIFY refuses a channel name of NAMEDATALEN (64) bytes or more, and LISTEN truncates one.
const maxChannelLength = 63;

/**
 * The NOTIFY channel on which clients created with `notify: true` announce new jobs of a
 * schema, for consumers created with `listen: true`: `poutbox.<schema>`. The schema name is
 * already validated as a plain identifier, so the channel needs no escaping beyond the double
 * quotes. A schema name longer than 55 characters would make it too long, so then the name
 * is cut and a hash of the whole of it keeps channels of different schemas apart.
 */
export function wakeChannel(schema: string): string {
  const plain = `poutbox.${schema}`;
  if (plain.length <= maxChannelLength) return plain;
  const hash = createHash("sha256").update(schema).digest("hex").slice(0, 12);
  return `poutbox.${schema.slice(0, maxChannelLength - "poutbox.".length - hash.length - 1)}.${hash}`;
}
