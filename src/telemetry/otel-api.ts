import { createRequire } from "node:module";

/** The OpenTelemetry API, as the application installed it. */
export type OtelApi = typeof import("@opentelemetry/api");

/**
 * `@opentelemetry/api` when the application has it, else undefined: it is an optional peer, so
 * without it the library traces and counts nothing and loads nothing more. It is required,
 * not imported, so that a missing package costs no top-level await (which would stop
 * `require()` of this package on Node 22). Its CommonJS and ESM copies share one global
 * registration, so the SDK the application registers is the one found here.
 */
export const otel: OtelApi | undefined = load();

function load(): OtelApi | undefined {
  try {
    return createRequire(import.meta.url)("@opentelemetry/api") as OtelApi;
  } catch {
    return undefined;
  }
}

/** The instrumentation scope of every span and instrument the library makes. */
export const scopeName = "poutbox";

let tracer: import("@opentelemetry/api").Tracer | undefined;

/**
 * The library's tracer, made once: the API's tracer is a proxy that follows the provider the
 * application registers, even later, so it need not be looked up at every span.
 */
export function poutboxTracer(api: OtelApi): import("@opentelemetry/api").Tracer {
  tracer ??= api.trace.getTracer(scopeName);
  return tracer;
}

/** The API's no-op tracer provider: the delegate of its proxy while no SDK is registered. */
const noopTracerProvider = otel ? new otel.ProxyTracerProvider().getDelegate() : undefined;

/**
 * Whether a tracer provider is registered. Without one, every span is a no-op: the work of
 * making spans (attributes, contexts) can be skipped.
 */
export function tracing(api: OtelApi): boolean {
  const provider = api.trace.getTracerProvider();
  return !(provider instanceof api.ProxyTracerProvider) || provider.getDelegate() !== noopTracerProvider;
}
