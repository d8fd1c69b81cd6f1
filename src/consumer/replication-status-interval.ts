import type { ReplicationConnection } from "../replication/replication-connection.js";

/**
 * How often the stream sends its status. While the socket is paused for backpressure the
 * server's keepalive requests go unread, so only the status timer keeps the walsender alive:
 * it must fire well inside wal_sender_timeout.
 */
export async function statusInterval(connection: ReplicationConnection, configured: number): Promise<number> {
  const senderTimeout = parseDuration(
    String((await connection.command("SHOW wal_sender_timeout"))[0]?.wal_sender_timeout),
  );
  return senderTimeout > 0 ? Math.max(10, Math.min(configured, Math.floor(senderTimeout / 4))) : configured;
}

/** A PostgreSQL time setting as SHOW prints it (`60s`, `500ms`, `1min`, `0`), in ms. */
export function parseDuration(text: string): number {
  const match = /^(\d+)\s*(us|ms|s|min|h|d)?$/.exec(text.trim());
  if (!match) return 0;
  const unit = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? "ms"] ?? 1;
  return Number(match[1]) * unit;
}
