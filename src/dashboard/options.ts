import type { Logger } from "../core/logger.js";

export interface DashboardOptions {
  /** Schema that holds the outbox tables. Default `"poutbox"`. */
  readonly schema?: string;
  /** Refuse every change (every POST answers 403), on the server. Default false. */
  readonly readOnly?: boolean;
  /** Who may use it: a bearer token (or its cookie), or HTTP Basic. Default: anyone who reaches it. */
  readonly auth?:
    | { readonly token: string }
    | { readonly basic: { readonly username: string; readonly password: string } };
  /**
   * Without `auth`, the Host names it answers besides loopback ones (localhost, 127.0.0.0/8,
   * [::1]), such as `["outbox.internal"]` (a name, or a name and port); any other Host is
   * answered 421, so that a page of another site whose name was pointed at this machine (DNS
   * rebinding) cannot use it. Ignored with `auth`. Default none.
   */
  readonly allowedHosts?: readonly string[];
  /** The path it is mounted at, such as `"/outbox"`. Default `""` (the root). */
  readonly basePath?: string;
  /** Milliseconds between the overview samples kept for the charts and pushed to the event streams. Default 5000. */
  readonly sampleInterval?: number;
  /** Where it reports failures. Default: the console, warnings and errors. */
  readonly logger?: Logger;
}

/** A Fetch API handler; `close()` stops its sampling and ends its event streams. */
export type DashboardHandler = ((request: Request) => Promise<Response>) & { close(): void };
