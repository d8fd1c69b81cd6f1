import { randomBytes } from "node:crypto";
import { createClient } from "redis";

/** The Redis server the relay tests write to (.ci/start-brokers starts it). */
export const redisUrl = process.env.POUTBOX_REDIS_URL ?? "redis://127.0.0.1:6379";

/** A connected client and a key prefix of its own; `close()` deletes every key under it. */
export async function testRedis() {
  const client = await createClient({ url: redisUrl }).connect();
  const prefix = `poutbox_test_${randomBytes(5).toString("hex")}`;
  return {
    client,
    prefix,
    /** The entries of `stream`, oldest first, each as its field map. */
    async entries(stream: string): Promise<Record<string, string>[]> {
      const found = await client.xRange(stream, "-", "+");
      return (found ?? []).map((entry) => ({ ...entry.message }) as Record<string, string>);
    },
    async keys(): Promise<string[]> {
      return client.keys(`${prefix}*`);
    },
    async close(): Promise<void> {
      const keys = await client.keys(`${prefix}*`);
      if (keys.length > 0) await client.del(keys);
      client.destroy();
    },
  };
}
