import type { RelayMessage } from "./relay-message.js";

// One script, so the dedup mark and the entry are written together: either the id is new
// (the entry added, then the id marked, with its expiry) or it was seen (nothing written).
// Redis does not undo a script's writes when a later command in it fails, so the entry goes
// first: a failed XADD leaves no mark that would drop the retry.
// KEYS[1] the stream, KEYS[2] the id's mark; ARGV[1] the window, ARGV[2] MAXLEN (0: none),
// then the entry's field/value pairs.
export const addOnceScript = `
if redis.call('EXISTS', KEYS[2]) == 1 then return false end
local id
if ARGV[2] == '0' then
  id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))
else
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[1])
return id
`;

/**
 * The keys and arguments of the script for one message going to `stream`: the entry's fields
 * are `message-id`, `payload` and the message's headers.
 */
export function addOnceCall(
  stream: string,
  message: Pick<RelayMessage, "id" | "body" | "headers">,
  window: number,
  maxLength: number,
): { keys: string[]; arguments: string[] } {
  const args = [String(window), String(maxLength), "message-id", message.id, "payload", message.body];
  for (const [name, value] of Object.entries(message.headers)) args.push(name, value);
  return { keys: [stream, `${stream}:poutbox-dedup:${message.id}`], arguments: args };
}
