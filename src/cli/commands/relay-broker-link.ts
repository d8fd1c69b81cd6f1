/**
 * What `poutbox relay` says on stderr about its broker connection. Each broker client reconnects
 * on its own; the relay says when the connection went and when it came back, so that whoever
 * reads the log can tell a relay that is publishing again from one still waiting for its broker.
 * `lost` is also the listener for the clients' `error` events, without which Node would end the
 * process on the first lost connection.
 */
export interface BrokerLink {
  /** The connection failed or a reconnect attempt did: said once until the text changes. */
  lost(error: unknown): void;
  /** The client is connected again: said once after the losses it ends, never at the start. */
  back(): void;
  /** The broker holds back publishes (a RabbitMQ resource alarm): said each time. */
  blocked(reason: string): void;
  unblocked(): void;
}

export function brokerLink(
  broker: string,
  write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): BrokerLink {
  let last = "";
  let down = false;
  const say = (text: string) => write(`poutbox: ${broker}: ${text}`);
  return {
    lost(error) {
      const text = (error as Error | undefined)?.message || (error == null ? "connection lost" : String(error));
      down = true;
      if (text === last) return;
      last = text;
      say(`${text}; reconnecting`);
    },
    back() {
      if (!down) return;
      down = false;
      last = "";
      say("connected again");
    },
    blocked(reason) {
      say(`the broker holds back publishes (${reason})`);
    },
    unblocked() {
      say("the broker takes publishes again");
    },
  };
}
