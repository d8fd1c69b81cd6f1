/**
 * The NOTIFY channel on which clients created with `notify: true` announce new jobs of a
 * schema, for consumers created with `listen: true`. The schema name is already validated
 * as a plain identifier, so the channel needs no escaping beyond the double quotes.
 */
export function wakeChannel(schema: string): string {
  return `poutbox.${schema}`;
}
